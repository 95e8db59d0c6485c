import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';
import { secretsEqual } from '../../relay/src/secretCompare';

/**
 * Cognigy REST API simulator: POST /new/v2.0/endpoint/inject and /notify with X-API-Key.
 * Bodies are checked against the shapes `@cognigy/rest-api-client` declares:
 *  - inject `IInjectRestDataBody_2_0 {text: string, data: object, URLToken, sessionId, userId}`;
 *  - notify `INotifyRestDataBody_2_0` = the same plus optional `attachments: TAttachments[]`, whose
 *    media items are `{name, url, type: "image"|"video"|"audio"|"file"|"document", caption?}`.
 * Unknown top-level keys are refused (stricter than Cognigy may be, so our relay sends only what
 * is documented). Records every accepted call in order and can be told to fail (5xx, hang,
 * refuse connections) to exercise the relay's outbox.
 */

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'attachment url must be http(s)');

export const notifyAttachmentSchema = z
  .object({
    name: z.string().min(1),
    url: httpUrl,
    type: z.enum(['image', 'video', 'audio', 'file', 'document', 'sticker']),
    caption: z.string().optional(),
  })
  .strict();
export type NotifyAttachment = z.infer<typeof notifyAttachmentSchema>;

const sessionFields = {
  text: z.string(),
  data: z.record(z.string(), z.unknown()),
  URLToken: z.string().min(1),
  userId: z.string().min(1),
  sessionId: z.string().min(1),
};
export const injectBodySchema = z.object(sessionFields).strict();
export const notifyBodySchema = z.object({ ...sessionFields, attachments: z.array(notifyAttachmentSchema).optional() }).strict();

export type CognigyCall = z.infer<typeof notifyBodySchema> & { kind: 'inject' | 'notify'; receivedAt: number };

export type CognigyFault = 'none' | 'http500' | 'http503' | 'hang' | 'refuse';

export class CognigyApiSimulator {
  readonly calls: CognigyCall[] = [];
  readonly events = new EventEmitter();
  /** Every request seen, accepted or not (status + kind), for fault tests. */
  readonly attempts: { kind: string; status: number | 'hung' | 'refused' }[] = [];
  private server: http.Server | null = null;
  private port = 0;
  private fault: CognigyFault = 'none';
  private readonly sockets = new Set<Socket>();
  private readonly hung = new Set<http.ServerResponse>();

  constructor(private readonly apiKey: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<string> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.url;
  }

  /** 'refuse' really closes the listening socket (ECONNREFUSED); any other mode re-opens it on the same port. */
  async setFault(fault: CognigyFault): Promise<void> {
    const wasRefusing = this.fault === 'refuse';
    this.fault = fault;
    if (fault === 'refuse' && this.server) await this.closeServer();
    if (wasRefusing && fault !== 'refuse') await this.start(this.port);
    if (fault !== 'hang') this.releaseHung();
  }

  notifications(): CognigyCall[] {
    return this.calls.filter((c) => c.kind === 'notify');
  }
  injections(): CognigyCall[] {
    return this.calls.filter((c) => c.kind === 'inject');
  }

  /** Resolves when `predicate` holds over the recorded calls (polling), or rejects after `timeoutMs`. */
  async waitFor(predicate: (calls: CognigyCall[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!predicate(this.calls)) {
      if (Date.now() > until)
        throw new Error(`Cognigy simulator: condition not met within ${timeoutMs} ms (${this.calls.length} calls recorded)`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private releaseHung(): void {
    for (const res of this.hung) res.destroy();
    this.hung.clear();
  }

  private async closeServer(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    this.releaseHung();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async stop(): Promise<void> {
    this.fault = 'none';
    await this.closeServer();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const match = /^\/new\/v2\.0\/endpoint\/(inject|notify)$/.exec(req.url ?? '');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || !match?.[1]) return answer(404, { error: 'Not found' });
    const kind = match[1] as 'inject' | 'notify';
    if (this.fault === 'hang') {
      this.attempts.push({ kind, status: 'hung' });
      this.hung.add(res);
      return;
    }
    if (this.fault === 'http500' || this.fault === 'http503') {
      const status = this.fault === 'http500' ? 500 : 503;
      this.attempts.push({ kind, status });
      return answer(status, { error: 'Service unavailable' });
    }
    const key = req.headers['x-api-key'];
    if (typeof key !== 'string' || !secretsEqual(key, this.apiKey)) {
      this.attempts.push({ kind, status: 401 });
      return answer(401, { error: 'Unauthorized', message: 'Invalid API key' });
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      this.attempts.push({ kind, status: 400 });
      return answer(400, { error: 'Bad Request', message: 'invalid JSON' });
    }
    const parsed = (kind === 'notify' ? notifyBodySchema : injectBodySchema).safeParse(json);
    if (!parsed.success) {
      this.attempts.push({ kind, status: 400 });
      const issue = parsed.error.issues[0];
      return answer(400, { error: 'Bad Request', message: issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid body' });
    }
    const call: CognigyCall = { ...parsed.data, kind, receivedAt: Date.now() };
    this.calls.push(call);
    this.attempts.push({ kind, status: 200 });
    this.events.emit(kind, call);
    answer(200, 'OK');
  }
}
