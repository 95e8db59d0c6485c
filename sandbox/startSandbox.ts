import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import extension from '../extension/src/module';
import { relaySettingsSchema, secretsOf, type RelayConfig, type TenantConfig } from '../relay/src/config';
import { createLogger } from '../relay/src/log';
import { createRelay } from '../relay/src/relay';
import { SqliteStore } from '../relay/src/store/sqliteStore';
import { CognigyApiSimulator } from './cognigy/cognigyApiSimulator';
import { demoFlow } from './cognigy/demoFlow';
import { FlowRunner } from './cognigy/flowRunner';
import { WebchatServer } from './cognigy/webchatServer';
import { DeskServer } from './engage/deskServer';
import { EngageSimulator } from './engage';

/**
 * The click-through sandbox: the real relay (SQLite) between an Engage Digital simulator (agent
 * desk page) and a Cognigy simulator (web chat page running a demo Flow built from our real node
 * descriptors). Everything listens on 127.0.0.1.
 */

export interface Sandbox {
  chatUrl: string;
  deskUrl: string;
  relayUrl: string;
  /** The relay's configuration (for `npm run sandbox`'s doctor env file). */
  config: RelayConfig;
  engage: EngageSimulator;
  cognigy: CognigyApiSimulator;
  stop(): Promise<void>;
}

export interface SandboxOptions {
  chatPort?: number;
  deskPort?: number;
  dataDir?: string;
  /** Where relay logs go (a file); defaults to <dataDir>/sandbox-relay.log. */
  logFile?: string;
  queueTickMs?: number;
}

const URL_TOKEN = 'sandbox-webchat-endpoint';
const PEOPLE = [
  { firstname: 'Jane', lastname: 'Doe', email: 'jane.doe@example.com', gender: 'female', loyalty_tier: 'gold' },
  { firstname: 'Max', lastname: 'Mustermann', email: 'max@example.com', gender: 'male', loyalty_tier: 'silver' },
  { firstname: 'Aiko', lastname: 'Tanaka', email: 'aiko@example.com', gender: 'female', loyalty_tier: 'platinum' },
];

function secret(): string {
  return randomBytes(18).toString('base64url');
}

export { demoFlow };

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const dataDir = resolve(options.dataDir ?? './data');
  mkdirSync(dataDir, { recursive: true });
  const dbFile = join(dataDir, 'sandbox.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(dbFile + suffix, { force: true });

  const secrets = { api: secret(), realtime: secret(), webhook: secret(), cognigy: secret(), relay: secret() };
  const engage = new EngageSimulator({ sourceId: 'sandbox-source', realtimeAccessToken: secrets.realtime, apiAccessToken: secrets.api });
  await engage.start();
  engage.addAgent({ firstname: 'Alex', lastname: 'Agent', nickname: 'Alex' });
  const cognigy = new CognigyApiSimulator(secrets.cognigy);
  await cognigy.start();

  const tenant: TenantConfig = {
    apiAccessToken: secrets.api,
    botCategoryId: engage.categories.botId,
    agentCategoryId: engage.categories.agentId,
    realtimeAccessToken: secrets.realtime,
    realtimeEndpointUrl: engage.realtimeEndpointUrl,
    webhookSecret: secrets.webhook,
    baseApiUrl: engage.baseApiUrl,
    verifyToken: 'cognigy123',
    cognigyApiBaseUrl: cognigy.url,
    cognigyApiKey: secrets.cognigy,
    relayApiKey: secrets.relay,
    sourceId: 'sandbox-source',
  };
  const config: RelayConfig = {
    settings: relaySettingsSchema.parse({ port: 0, host: '127.0.0.1', storeUrl: `sqlite:${dbFile}`, allowHttpAttachments: true }),
    tenants: [tenant],
  };
  const logStream = createWriteStream(options.logFile ?? join(dataDir, 'sandbox-relay.log'), { flags: 'w' });
  const logger = createLogger({ level: 'info', secrets: secretsOf(config), destination: logStream });
  const relay = createRelay({
    config,
    store: SqliteStore.open(dbFile),
    logger,
    outbox: { backoff: { baseMs: 100, capMs: 2000 }, idlePollMs: 50 },
  });
  const { url: relayUrl } = await relay.start(0, '127.0.0.1');

  // The admin's Engage setup, done for you: source Base URI + save, webhook with secret and events.
  engage.setSourceBaseUri(`${relayUrl}/handover/rce`);
  await engage.saveSource();
  const webhook = await engage.registerWebhook({
    url: `${relayUrl}/handover/rce`,
    secret: secrets.webhook,
    verifyToken: 'cognigy123',
    events: ['intervention.opened', 'intervention.closed', 'intervention.canceled', 'task.taken'],
  });
  if (!webhook.enabled) throw new Error(`sandbox webhook was not enabled: ${webhook.reason ?? 'unknown reason'}`);

  let webchat: WebchatServer | null = null;
  const runner = new FlowRunner({
    flow: demoFlow(),
    extension,
    connections: {
      sandbox: {
        apiAccessToken: secrets.api,
        botCategoryId: tenant.botCategoryId,
        agentCategoryId: tenant.agentCategoryId,
        realtimeAccessToken: secrets.realtime,
        realtimeEndpointUrl: tenant.realtimeEndpointUrl,
        webhookSecret: secrets.webhook,
        baseApiUrl: tenant.baseApiUrl,
        relayUrl,
        relayApiKey: secrets.relay,
      },
    },
    onOutput: (session, output) => webchat?.onOutput(session, output),
    onLog: (_s, log) => {
      if (process.env.SANDBOX_DEBUG) console.log('FLOWLOG', log.level, log.message);
    },
  });
  webchat = new WebchatServer({
    runner,
    cognigy,
    URLToken: URL_TOKEN,
    profileFor: (userId) => ({ ...PEOPLE[[...userId].reduce((sum, c) => sum + c.charCodeAt(0), 0) % PEOPLE.length] }),
  });
  const chatUrl = await webchat.start(options.chatPort ?? 0);
  const desk = new DeskServer({ engage, ...(options.queueTickMs ? { queueTickMs: options.queueTickMs } : {}) });
  const deskUrl = await desk.start(options.deskPort ?? 0);

  return {
    chatUrl,
    deskUrl,
    relayUrl,
    config,
    engage,
    cognigy,
    async stop() {
      await webchat?.stop();
      await desk.stop();
      await relay.stop();
      await engage.stop();
      await cognigy.stop();
      await new Promise<void>((r) => logStream.end(() => r()));
    },
  };
}
