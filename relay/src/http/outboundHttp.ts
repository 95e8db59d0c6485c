import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';

/**
 * One axios instance for all outbound calls: keep-alive agents (the relay talks to few hosts
 * very often), a timeout, never throwing on HTTP status (callers classify), no redirects.
 */
export function createOutboundHttp(options: { timeoutMs?: number } = {}): { client: AxiosInstance; close: () => void } {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  const client = axios.create({
    timeout: options.timeoutMs ?? 10_000,
    httpAgent,
    httpsAgent,
    maxRedirects: 0,
    validateStatus: () => true,
    transitional: { clarifyTimeoutError: true },
    // Bodies are produced and parsed by the callers (signatures need the exact bytes).
    transformResponse: [(data: unknown) => data],
    responseType: 'text',
    maxContentLength: 5 * 1024 * 1024,
  });
  return {
    client,
    close: () => {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** A short, secret-free description of a transport failure (code only, never the URL's query). */
export function describeTransportError(err: unknown): string {
  if (axios.isAxiosError(err)) return `network error ${err.code ?? 'unknown'}`;
  return `network error ${(err as Error).name ?? 'unknown'}`;
}
