import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Spreads Engage's calls over several relays, as a load balancer would; skips relays taken out. */
export async function startRoundRobin(targets: () => string[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const list = targets();
    const target = new URL(list[next++ % list.length] ?? '');
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Forwards to Cognigy at once (it acts on receipt) and, while `holdAnswers`, sits on the answer until released. */
export async function startAnswerDelayingProxy(): Promise<{
  url: string;
  target: string;
  holdAnswers: boolean;
  held: number;
  release(): void;
  close(): Promise<void>;
}> {
  const waiting: (() => void)[] = [];
  const state = {
    url: '',
    target: '',
    holdAnswers: false,
    get held() {
      return waiting.length;
    },
    release() {
      for (const go of waiting.splice(0)) go();
    },
    close: async () => {
      state.release();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    const target = new URL(state.target);
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const send = () => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(chunks));
          };
          if (state.holdAnswers) waiting.push(send);
          else send();
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
