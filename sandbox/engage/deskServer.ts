import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { closeLocal, listenLocal } from '../localServer';
import { ChangeBroadcaster } from '../sse';
import { Uploads } from '../uploads';
import { DeskError } from './desk';
import { DEFAULT_AGENT_ID, type EngageSimulator, type ThreadView } from './simulator';

/**
 * The agent desk of the sandbox: a small web page over the Engage simulator's agent actions.
 * It shows the Agent folder (profile, context_data, queue), lets an agent take, reply and close.
 * A queue ticker plays Engage's routing: while nobody has taken a conversation it sends
 * `messaging.queuing_update` with the position and an estimated wait every few seconds.
 */

const replySchema = z
  .object({
    body: z.string().trim().max(5000).default(''),
    /** Files uploaded on the desk (served by it), sent as the reply's attachments. */
    attachments: z
      .array(z.object({ url: z.string().url().max(2048), fileName: z.string().max(120), mimeType: z.string().max(128) }))
      .max(5)
      .default([]),
    /** Quick-reply options: sent as a `select` structured message (structured-messages.md, ≤ 13 items of ≤ 80 characters). */
    options: z.array(z.string().trim().min(1).max(80)).max(13).default([]),
  })
  .refine((r) => r.body.length > 0 || r.attachments.length > 0, 'a reply needs text or a file');
const agentStatusSchema = z.object({ status: z.enum(['available', 'away']) });

export interface DeskServerOptions {
  engage: EngageSimulator;
  /** Seconds of estimated wait per queue position (the simulator's stand-in for Engage's estimate). */
  secondsPerPosition?: number;
  queueTickMs?: number;
}

function deskView(thread: ThreadView, seenInFolder: ReadonlySet<string>) {
  const open = thread.interventions.find((i) => i.status !== 'closed' && !i.closed_at);
  return {
    id: thread.id,
    threadId: thread.foreign_id,
    inAgentFolder: thread.inAgentFolder,
    categoryIds: thread.categoryIds,
    customer: thread.customer,
    contextData: thread.context_data,
    queue: thread.queue,
    /** Engage's typing state of the thread (typing.start from the source), shown as "… is typing". */
    typing: thread.typing,
    taskStatus: thread.task?.status ?? null,
    intervention: open ? { id: open.id, agentReplies: open.agentReplyCount } : null,
    /** Was ever in the agents' folder: a chat closed or released without a reply stays listed. */
    everHandedOver: seenInFolder.has(thread.id) || thread.task !== null || thread.interventions.length > 0,
    messages: thread.messages.map((m) => ({
      id: m.id,
      side: m.side,
      author: m.sender_name ?? m.author.screenname,
      body: m.body,
      attachments: m.attachments,
      createdAt: m.created_at,
      structuredContent: m.structured_content,
      structuredReplyPayload: m.structured_reply_payload,
      inReplyTo: m.in_reply_to_id ? (thread.messages.find((x) => x.foreign_id === m.in_reply_to_id)?.id ?? null) : null,
      readAt: m.read_at,
    })),
  };
}

export class DeskServer {
  private server: Server | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private readonly changes = new ChangeBroadcaster();
  /** Threads ever seen in the Agent folder: the desk's history, so a chat taken back before any reply stays listed. */
  private readonly seenInFolder = new Set<string>();
  private readonly onChange = () => {
    for (const thread of this.options.engage.agentFolder()) this.seenInFolder.add(thread.id);
    this.changes.changed();
  };
  private readonly uploads = new Uploads();
  private baseUrl = '';

  constructor(private readonly options: DeskServerOptions) {}

  /** Positions for conversations waiting in the Agent folder, oldest first. */
  private waiting(): ThreadView[] {
    return this.options.engage
      .agentFolder()
      .filter((t) => t.task?.status === 'pending' && !t.interventions.some((i) => i.status !== 'closed' && !i.closed_at))
      .sort((a, b) => (a.task?.created_at ?? '').localeCompare(b.task?.created_at ?? ''));
  }

  private async tickQueue(): Promise<void> {
    const perPosition = this.options.secondsPerPosition ?? 45;
    for (const [index, thread] of this.waiting().entries()) {
      const position = index + 1;
      if (thread.queue?.position === position && Date.now() - Date.parse(thread.queue.sentAt) < 15_000) continue;
      await this.options.engage
        .queuingUpdate({ threadId: thread.foreign_id, position, estimatedWaitTimeSeconds: position * perPosition })
        .catch(() => undefined);
    }
  }

  private app(): express.Express {
    const engage = this.options.engage;
    const app = express();
    const page = readFileSync(join(__dirname, '..', 'pages', 'desk.html'), 'utf8');
    app.get('/', (_req, res) => {
      res.type('html').send(page);
    });
    app.get('/api/state', (_req, res) => {
      const threads = engage
        .threads()
        .filter((t) => t.imported)
        .map((t) => deskView(t, this.seenInFolder));
      res.json({ threads, agentCategoryId: engage.categories.agentId, botCategoryId: engage.categories.botId });
    });
    app.get('/api/events', (_req, res) => this.changes.attach(res));
    app.use(this.uploads.router(() => this.baseUrl));
    const act = (handler: (thread: ThreadView, req: Request) => Promise<unknown> | unknown) => async (req: Request, res: Response) => {
      const thread = engage.thread(String(req.params.id));
      if (!thread) return res.status(404).json({ error: 'no such conversation' });
      try {
        res.json({ ok: true, result: (await handler(thread, req)) ?? null });
      } catch (err) {
        const status = err instanceof DeskError ? 409 : 400;
        res.status(status).json({ error: (err as Error).message });
      }
    };
    // The sandbox agent's status on the channel (what Engage's GET /1.0/status reports to the availability check).
    app.get('/api/agent/status', (_req, res) => res.json({ status: engage.agentStatusOf(DEFAULT_AGENT_ID) }));
    app.post('/api/agent/status', express.json(), (req, res) => {
      const parsed = agentStatusSchema.safeParse(req.body);
      if (!parsed.success) return res.status(400).json({ error: 'status must be "available" or "away"' });
      engage.setAgentStatus(DEFAULT_AGENT_ID, parsed.data.status);
      return res.json({ ok: true, status: parsed.data.status });
    });
    app.post(
      '/api/threads/:id/take',
      express.json(),
      act((thread) => engage.takeTask(thread.id)),
    );
    app.post(
      '/api/threads/:id/reply',
      express.json(),
      act(async (thread, req) => {
        const reply = replySchema.parse(req.body);
        const result = await engage.agentReply({
          threadId: thread.foreign_id,
          body: reply.body,
          agentName: 'Alex (agent)',
          ...(reply.attachments.length
            ? {
                attachments: reply.attachments.map((a) => ({
                  url: a.url,
                  filename: a.fileName,
                  ...(a.mimeType.startsWith('image/') ? { type: 'image' } : {}),
                })),
              }
            : {}),
          ...(reply.options.length
            ? {
                structuredContent: {
                  type: 'select',
                  items: reply.options.map((title) => ({ title, payload: title.replace(/[^\x20-\x7e]/g, '').slice(0, 1000) || 'option' })),
                },
              }
            : {}),
        });
        if (result.outcome !== 'delivered') throw new Error(`the relay did not accept the reply (${result.outcome})`);
        return { contentId: result.contentId };
      }),
    );
    app.post(
      '/api/threads/:id/close',
      express.json(),
      act((thread) => {
        const open = thread.interventions.find((i) => i.status !== 'closed' && !i.closed_at);
        if (open && open.agentReplyCount > 0) return engage.closeIntervention(open.id);
        if (open) return engage.cancelIntervention(open.id);
        throw new DeskError('conflict', 'no open intervention to close: reply or take the conversation first');
      }),
    );
    return app;
  }

  async start(port = 0): Promise<string> {
    const app = this.app();
    const { server, url } = await listenLocal(app, port);
    this.server = server;
    this.baseUrl = url.replace(/\/$/, '');
    this.options.engage.events.on('change', this.onChange);
    this.ticker = setInterval(() => void this.tickQueue(), this.options.queueTickMs ?? 3000);
    return url;
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.options.engage.events.off('change', this.onChange);
    this.changes.close();
    const server = this.server;
    this.server = null;
    await closeLocal(server);
  }
}
