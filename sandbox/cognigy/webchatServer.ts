import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { z } from 'zod';
import { closeLocal, listenLocal } from '../localServer';
import { ChangeBroadcaster } from '../sse';
import type { CognigyApiSimulator, CognigyCall } from './cognigyApiSimulator';
import { Uploads, type UploadedFile } from '../uploads';
import type { FlowRunner, OutputRecord, SessionKey } from './flowRunner';

/**
 * The sandbox's web chat (the end user's side of a Cognigy Webchat endpoint): user input runs the
 * Flow; relay injects run the Flow too; relay notifies (agent replies) go straight to the chat.
 */

export interface ChatButton {
  type: 'postback' | 'web_url';
  title: string;
  payload?: string;
  url?: string;
}
export interface ChatCard {
  title: string;
  subtitle: string;
  imageUrl: string;
  buttons: ChatButton[];
}
export interface ChatFile {
  name: string;
  url: string;
  type: string;
}

export interface ChatEntry {
  from: 'user' | 'bot' | 'agent';
  text: string;
  /** The agent's name (Engage's sender_name, carried in notify data) on agent messages. */
  agentName?: string;
  quickReplies?: { title: string; payload: string }[];
  /** Cognigy's gallery (`_gallery.items`): cards with an image, a title and buttons. */
  cards?: ChatCard[];
  files?: ChatFile[];
  at: string;
}

const idSchema = z.string().regex(/^[A-Za-z0-9_-]{6,64}$/);
const uploadSchema = z.object({
  runtimeFileId: z.string().max(64),
  fileName: z.string().min(1).max(120),
  mimeType: z.string().max(128),
  size: z.number().int().nonnegative(),
  url: z.string().url().max(2048),
});
const messageSchema = z
  .object({
    userId: idSchema,
    sessionId: idSchema,
    text: z.string().trim().max(8000).default(''),
    attachments: z.array(uploadSchema).max(5).default([]),
  })
  .refine((m) => m.text.length > 0 || m.attachments.length > 0, 'text or a file is required');
const sessionQuerySchema = z.object({ userId: idSchema, sessionId: idSchema });

const buttonSchema = z.object({ type: z.string(), title: z.string(), payload: z.string().optional(), url: z.string().optional() });
/** Cognigy's default-channel message data (IDefaultMessage): the parts this page renders. */
const defaultMessageSchema = z.object({
  _cognigy: z.object({
    _default: z.object({
      _quickReplies: z
        .object({ text: z.string().optional(), quickReplies: z.array(z.object({ title: z.string(), payload: z.string().optional() })) })
        .optional(),
      _gallery: z
        .object({
          items: z.array(
            z.object({
              title: z.string(),
              subtitle: z.string().optional(),
              imageUrl: z.string().optional(),
              buttons: z.array(buttonSchema).nullish(),
            }),
          ),
        })
        .optional(),
    }),
  }),
});

function richPartsOf(data: unknown): Pick<ChatEntry, 'quickReplies' | 'cards'> {
  const parsed = defaultMessageSchema.safeParse(data);
  if (!parsed.success) return {};
  const { _quickReplies, _gallery } = parsed.data._cognigy._default;
  const parts: Pick<ChatEntry, 'quickReplies' | 'cards'> = {};
  if (_quickReplies) parts.quickReplies = _quickReplies.quickReplies.map((q) => ({ title: q.title, payload: q.payload ?? q.title }));
  if (_gallery) {
    parts.cards = _gallery.items.map((item) => ({
      title: item.title,
      subtitle: item.subtitle ?? '',
      imageUrl: item.imageUrl ?? '',
      buttons: (item.buttons ?? []).flatMap((b): ChatButton[] =>
        b.type === 'web_url' && b.url
          ? [{ type: 'web_url', title: b.title, url: b.url }]
          : b.type === 'postback'
            ? [{ type: 'postback', title: b.title, payload: b.payload ?? b.title }]
            : [],
      ),
    }));
  }
  return parts;
}

/** An agent reply as the chat shows it: the agent's name, the rich parts, and notify's media attachments as files. */
function agentEntry(call: CognigyCall): Omit<ChatEntry, 'at'> {
  const agentName = z.object({ rceHandover: z.object({ agentName: z.string().nullish() }) }).safeParse(call.data);
  const rich = richPartsOf(call.data);
  const files = (call.attachments ?? []).map((a) => ({ name: a.name, url: a.url, type: a.type }));
  // Like Cognigy's Webchat, the rich parts replace the text fallback: quick replies show their own
  // text, a gallery shows only its cards, and native files replace their link lines.
  const quickText = defaultMessageSchema.safeParse(call.data).data?._cognigy._default._quickReplies?.text;
  const text = rich.quickReplies ? (quickText ?? call.text) : rich.cards ? '' : stripLinkLines(call.text, files);
  return {
    from: 'agent',
    text,
    ...(agentName.success && agentName.data.rceHandover.agentName ? { agentName: agentName.data.rceHandover.agentName } : {}),
    ...rich,
    ...(files.length ? { files } : {}),
  };
}

function stripLinkLines(text: string, files: ChatFile[]): string {
  const links = new Set(files.map((f) => `${f.name}: ${f.url}`));
  return text
    .split('\n')
    .filter((line) => !links.has(line))
    .join('\n');
}

export class WebchatServer {
  private server: Server | null = null;
  private readonly transcripts = new Map<string, ChatEntry[]>();
  private readonly changes = new ChangeBroadcaster();
  private readonly onInject = (call: CognigyCall) => void this.inject(call);
  private readonly onNotify = (call: CognigyCall) => this.push(call, agentEntry(call));
  private readonly uploads = new Uploads();
  private baseUrl = '';

  constructor(
    private readonly options: {
      runner: FlowRunner;
      cognigy: CognigyApiSimulator;
      URLToken: string;
      profileFor: (userId: string) => Record<string, unknown>;
    },
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
    this.push(session, { from: 'bot', text: output.text, ...richPartsOf(output.data) });
  };

  /** The user's turn as Cognigy Webchat v3 sends it: uploads in `data.attachments` (IUploadFileAttachmentData). */
  private async userTurn(session: SessionKey, text: string, attachments: UploadedFile[], shownText: string): Promise<void> {
    const state = this.options.runner.session(session);
    if (Object.keys(state.profile).length === 0) Object.assign(state.profile, this.options.profileFor(session.userId));
    const files = attachments.map((a) => ({ name: a.fileName, url: a.url, type: a.mimeType.startsWith('image/') ? 'image' : 'file' }));
    this.push(session, { from: 'user', text: shownText, ...(files.length ? { files } : {}) });
    await this.options.runner.send(session, attachments.length ? { text, data: { attachments } } : { text });
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
    app.use(this.uploads.router(() => this.baseUrl));
    app.post('/api/message', express.json({ limit: '32kb' }), async (req, res) => {
      const body = messageSchema.safeParse(req.body);
      if (!body.success) return res.status(400).json({ error: 'userId, sessionId and text (or a file) required' });
      const { userId, sessionId, text, attachments } = body.data;
      // A postback shows its title, like Cognigy's Webchat does for a quick reply.
      const label = z.object({ label: z.string().max(200) }).safeParse(req.body);
      await this.userTurn(
        { URLToken: this.options.URLToken, userId, sessionId },
        text,
        attachments,
        label.success ? label.data.label : text,
      );
      res.json({ ok: true });
    });
    return app;
  }

  async start(port = 0): Promise<string> {
    const app = this.app();
    const { server, url } = await listenLocal(app, port);
    this.server = server;
    this.baseUrl = url.replace(/\/$/, '');
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
