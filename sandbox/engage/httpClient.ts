import http from 'node:http';
import https from 'node:https';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RawRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
}

/**
 * Outbound HTTP for calls Engage makes (Base URI, webhooks). Raw bytes both ways because
 * signatures cover exact bytes. Own non-keep-alive agents so stop() leaves no sockets behind;
 * `inFlight` lets the simulator tell when it is idle.
 */
export class OutboundHttp {
  private readonly httpAgent = new http.Agent({ keepAlive: false });
  private readonly httpsAgent = new https.Agent({ keepAlive: false });
  private readonly active = new Set<http.ClientRequest>();

  get inFlight(): number {
    return this.active.size;
  }

  request(req: RawRequest): Promise<RawResponse> {
    const url = new URL(req.url);
    const isHttps = url.protocol === 'https:';
    const transport = isHttps ? https : http;
    const headers: Record<string, string> = { ...req.headers };
    if (req.body) headers['content-length'] = String(req.body.length);
    return new Promise<RawResponse>((resolve, reject) => {
      const clientRequest = transport.request(
        url,
        { method: req.method, headers, agent: isHttps ? this.httpsAgent : this.httpAgent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            this.active.delete(clientRequest);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          });
          res.on('error', (err) => {
            this.active.delete(clientRequest);
            reject(err);
          });
        },
      );
      this.active.add(clientRequest);
      clientRequest.setTimeout(req.timeoutMs, () => {
        clientRequest.destroy(new Error(`timeout after ${req.timeoutMs} ms`));
      });
      clientRequest.on('error', (err) => {
        this.active.delete(clientRequest);
        reject(err);
      });
      clientRequest.end(req.body);
    });
  }

  destroy(): void {
    for (const clientRequest of this.active) clientRequest.destroy(new Error('simulator stopped'));
    this.active.clear();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

export function headerValue(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
