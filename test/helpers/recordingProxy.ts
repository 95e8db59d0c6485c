import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedCall {
  at: number;
  method: string;
  path: string;
  status: number;
  /** Request body as text. */
  body: string;
}

export interface RecordingProxy {
  url: string;
  calls: ProxiedCall[];
  close(): Promise<void>;
}

/**
 * A transparent HTTP proxy in front of a simulator that records when each request was answered
 * and with which status, so a test can check rates and Retry-After spacing from the outside.
 */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const base = new URL(target);
  const calls: ProxiedCall[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = { ...req.headers, host: base.host };
      const upstream = http.request({ host: base.hostname, port: base.port, method: req.method, path: req.url, headers, agent }, (up) => {
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', () => {
          calls.push({
            at: Date.now(),
            method: req.method ?? '',
            path: req.url ?? '',
            status: up.statusCode ?? 0,
            body: body.toString('utf8'),
          });
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(Buffer.concat(parts));
        });
      });
      upstream.on('error', () => {
        calls.push({ at: Date.now(), method: req.method ?? '', path: req.url ?? '', status: 502, body: body.toString('utf8') });
        if (!res.headersSent) res.writeHead(502).end('proxy: upstream failed');
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
