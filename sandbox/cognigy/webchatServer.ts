import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { z } from 'zod';
import { closeLocal, listenLocal } from '../localServer';
import { ChangeBroadcaster } from '../sse';
import type { CognigyApiSimulator, CognigyCall } from './cognigyApiSimulator';
import type { FlowRunner, OutputRecord, SessionKey } from './flowRunner';

/**
 * The sandbox's web chat (the end user's side of a Cognigy Webchat endpoint): user input runs the
 * Flow; relay injects run the Flow too; relay notifies (agent replies) go straight to the chat.
 */

export interface ChatEntry {
  from: 'user' | 'bot' | 'agent';
  text: string;
  quickReplies?: { title: string; payload: string }[];
  at: string;
}

const idSchema = z.string().regex(/^[A-Za-z0-9_-]{6,64}$/);
const messageSchema = z.object({ userId: idSchema, sessionId: idSchema, text: z.string().trim().min(1).max(2000) });
const sessionQuerySchema = z.object({ userId: idSchema, sessionId: idSchema });

function quickRepliesOf(data: unknown): ChatEntry['quickReplies'] {
  // Cognigy's quick replies: data._cognigy._default._quickReplies.quickReplies[] {title, payload}
  const parsed = z
    .object({ _cognigy: z.object({ _default: z.object({ _quickReplies: z.object({ quickReplies: z.array(z.object({ title: z.string(), payload: z.string().optional() })) }) }) }) })
    .safeParse(data);
  return parsed.success ? parsed.data._cognigy._default._quickReplies.quickReplies.map((q) => ({ title: q.title, payload: q.payload ?? q.title })) : undefined;
}

export class WebchatServer {
  private server: Server | null = null;
  private readonly transcripts = new Map<string, ChatEntry[]>();
  private readonly changes = new ChangeBroadcaster();
  private readonly onInject = (call: CognigyCall) => void this.inject(call);
  private readonly onNotify = (call: CognigyCall) => this.push(call, { from: 'agent', text: call.text });

  constructor(
    private readonly options: { runner: FlowRunner; cognigy: CognigyApiSimulator; URLToken: string; profileFor: (userId: string) => Record<string, unknown> },
  ) {}

  private keyOf(session: SessionKey): string {
    return `${session.userId}/${session.sessionId}`;
  }

  private entries(session: SessionKey): ChatEntry[] {
    const key = this.keyOf(session);
    let list = this.transcripts.get(key);
    if (!list) {
      list = [];
      this.transcripts.set(key, list);
    }
    return list;
  }

  private push(session: SessionKey, entry: Omit<ChatEntry, 'at'>): void {
    this.entries(session).push({ ...entry, at: new Date().toISOString() });
    this.changes.changed();
  }

  /** Bot outputs become chat lines (the runner keeps the transcript Get Transcript reads). */
  readonly onOutput = (session: SessionKey, output: OutputRecord): void => {
    if (!output.text) return;
    const quickReplies = quickRepliesOf(output.data);
    this.push(session, { from: 'bot', text: output.text, ...(quickReplies ? { quickReplies } : {}) });
  };

  private async userTurn(session: SessionKey, text: string): Promise<void> {
    const state = this.options.runner.session(session);
    if (Object.keys(state.profile).length === 0) Object.assign(state.profile, this.options.profileFor(session.userId));
    this.push(session, { from: 'user', text });
    await this.options.runner.send(session, { text });
  }

  private async inject(call: CognigyCall): Promise<void> {
    if (call.URLToken !== this.options.URLToken) return;
    await this.options.runner.send(call, { text: call.text, data: call.data });
  }

  private app(): express.Express {
    const app = express();
    const page = readFileSync(join(__dirname, '..', 'pages', 'chat.html'), 'utf8');
    app.get('/', (_req, res) => {
      res.type('html').send(page);
    });
    app.get('/api/transcript', (req, res) => {
      const query = sessionQuerySchema.safeParse(req.query);
      if (!query.success) return res.status(400).json({ error: 'userId and sessionId required' });
      res.json({ entries: this.entries({ URLToken: this.options.URLToken, ...query.data }) });
    });
    app.get('/api/events', (_req, res) => this.changes.attach(res));
    app.post('/api/message', express.json({ limit: '16kb' }), async (req, res) => {
      const body = messageSchema.safeParse(req.body);
      if (!body.success) return res.status(400).json({ error: 'userId, sessionId and text required' });
      const { userId, sessionId, text } = body.data;
      await this.userTurn({ URLToken: this.options.URLToken, userId, sessionId }, text);
      res.json({ ok: true });
    });
    return app;
  }

  async start(port = 0): Promise<string> {
    const app = this.app();
    const { server, url } = await listenLocal(app, port);
    this.server = server;
    this.options.cognigy.events.on('inject', this.onInject);
    this.options.cognigy.events.on('notify', this.onNotify);
    return url;
  }

  async stop(): Promise<void> {
    this.options.cognigy.events.off('inject', this.onInject);
    this.options.cognigy.events.off('notify', this.onNotify);
    this.changes.close();
    const server = this.server;
    this.server = null;
    await closeLocal(server);
  }
}
