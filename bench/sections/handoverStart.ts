import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { RELAY_API_PREFIX } from '../../contract/relayApi';
import extension from '../../extension/src/module';
import { handoverToRceNode } from '../../extension/src/nodes/handoverToRce';
import { relaySettingsSchema, secretsOf, type RelayConfig, type TenantConfig } from '../../relay/src/config';
import { createLogger } from '../../relay/src/log';
import { createRelay } from '../../relay/src/relay';
import { SqliteStore } from '../../relay/src/store/sqliteStore';
import { CognigyApiSimulator } from '../../sandbox/cognigy/cognigyApiSimulator';
import { FlowRunner, placeNode, type Flow } from '../../sandbox/cognigy/flowRunner';
import { EngageSimulator } from '../../sandbox/engage';
import { BENCH_SECRETS, failStartup, serveParent } from '../lib/common';

/**
 * Handover start (child process): the real "Handover to RCE" node executed by the sandbox Flow
 * runner → the real relay (SQLite) → the Engage simulator, all on 127.0.0.1. For each of
 * STARTS fresh sessions it records the node's outbound HTTP calls (counted at the socket level by
 * the runner), the extension-API requests that reached the relay, the node execution time, and
 * the time from the user input until the Engage simulator holds the thread's first message (and
 * until the thread is in the Agent category, i.e. visible to agents).
 */

const starts = Number(process.env.STARTS ?? 20);
const importDelayMs = Number(process.env.ENGAGE_IMPORT_DELAY_MS ?? 30);
const categorizeDurationMs = Number(process.env.ENGAGE_CATEGORIZE_MS ?? 20);

export interface HandoverStartSample {
  nodeHttpCalls: number;
  relayApiRequests: number;
  nodeMs: number;
  firstMessageMs: number;
  agentFolderMs: number;
}
export interface HandoverStartResult {
  method: string;
  importDelayMs: number;
  categorizeDurationMs: number;
  samples: HandoverStartSample[];
}

function waitFor(engage: EngageSimulator, predicate: () => boolean, timeoutMs = 15_000): Promise<number> {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve(performance.now());
    const timer = setTimeout(() => {
      engage.events.off('change', onChange);
      reject(new Error('timed out waiting for the Engage simulator'));
    }, timeoutMs);
    function onChange(): void {
      if (!predicate()) return;
      const at = performance.now();
      clearTimeout(timer);
      engage.events.off('change', onChange);
      resolve(at);
    }
    engage.events.on('change', onChange);
  });
}

async function main(): Promise<void> {
  let relayApiRequests = 0;
  diagnosticsChannel.subscribe('http.server.request.start', (message) => {
    const request = (message as { request?: IncomingMessage }).request;
    if (request?.url?.startsWith(RELAY_API_PREFIX)) relayApiRequests += 1;
  });

  const sourceId = 'benchhandover01';
  const engage = new EngageSimulator({
    sourceId,
    realtimeAccessToken: BENCH_SECRETS.realtimeAccessToken,
    apiAccessToken: BENCH_SECRETS.apiAccessToken,
    importDelayMs,
    categorizeDurationMs,
  });
  await engage.start();
  const cognigy = new CognigyApiSimulator(BENCH_SECRETS.cognigyApiKey);
  await cognigy.start();
  const tenant: TenantConfig = {
    apiAccessToken: BENCH_SECRETS.apiAccessToken,
    botCategoryId: engage.categories.botId,
    agentCategoryId: engage.categories.agentId,
    realtimeAccessToken: BENCH_SECRETS.realtimeAccessToken,
    realtimeEndpointUrl: engage.realtimeEndpointUrl,
    webhookSecret: BENCH_SECRETS.webhookSecret,
    baseApiUrl: engage.baseApiUrl,
    verifyToken: 'cognigy123',
    cognigyApiBaseUrl: cognigy.url,
    cognigyApiKey: BENCH_SECRETS.cognigyApiKey,
    relayApiKey: BENCH_SECRETS.relayApiKey,
    sourceId,
  };
  const config: RelayConfig = { settings: relaySettingsSchema.parse({ port: 0, host: '127.0.0.1', logLevel: 'info' }), tenants: [tenant] };
  const logger = createLogger({
    level: 'info',
    secrets: secretsOf(config),
    destination: pino.destination({ dest: '/dev/null', sync: false }),
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'rce-bench-handover-'));
  const relay = createRelay({ config, store: SqliteStore.open(path.join(dir, 'relay.db')), logger });
  const { url: relayUrl } = await relay.start(0, '127.0.0.1');
  engage.setSourceBaseUri(`${relayUrl}/handover/rce`);
  await engage.saveSource();

  const flow: Flow = {
    nodes: placeNode(handoverToRceNode, {
      id: 'handover',
      config: { connection: 'rce', transcript: '{{context.transcript}}', contextData: { intent: 'billing' } },
    }),
  };
  const connection = {
    apiAccessToken: BENCH_SECRETS.apiAccessToken,
    botCategoryId: tenant.botCategoryId,
    agentCategoryId: tenant.agentCategoryId,
    realtimeAccessToken: BENCH_SECRETS.realtimeAccessToken,
    realtimeEndpointUrl: engage.realtimeEndpointUrl,
    webhookSecret: BENCH_SECRETS.webhookSecret,
    baseApiUrl: 'demo.api.engagement.dimelo.com',
    relayUrl,
    relayApiKey: BENCH_SECRETS.relayApiKey,
  };
  const runner = new FlowRunner({
    flow,
    extension,
    connections: { rce: connection },
    defaultProfile: { firstname: 'Ada', lastname: 'Lovelace', email: 'ada@example.com' },
  });

  const result: HandoverStartResult = {
    method: 'real "Handover to RCE" node run by sandbox/cognigy/flowRunner.ts (extension/src/nodes/handoverToRce.ts)',
    importDelayMs,
    categorizeDurationMs,
    samples: [],
  };
  // One warm-up start (JIT, keep-alive sockets), not recorded.
  for (let i = -1; i < starts; i++) {
    const session = { URLToken: 'bench-handover-endpoint', userId: `user-${i}`, sessionId: `session-${i}-${Date.now()}` };
    runner.session(session).context.transcript = [
      { role: 'user', text: 'My invoice is wrong' },
      { role: 'bot', text: 'I can connect you with an agent.' },
    ];
    const requestsBefore = relayApiRequests;
    const t0 = performance.now();
    const turn = await runner.send(session, { text: 'I want a human' });
    const nodeDone = performance.now();
    const execution = turn.executions.find((e) => e.type === handoverToRceNode.type);
    const state = runner.session(session).context.rceHandover as { threadId?: string; active?: boolean } | undefined;
    const threadId = state?.threadId;
    if (!execution || execution.failure || !threadId || !state?.active) {
      throw new Error(`handover did not start: ${execution?.failure ?? JSON.stringify(turn.logs.map((l) => l.message))}`);
    }
    const firstMessageAt = await waitFor(engage, () => (engage.thread(threadId)?.messages.length ?? 0) >= 1);
    const agentFolderAt = await waitFor(engage, () => engage.thread(threadId)?.inAgentFolder === true);
    if (i < 0) continue;
    result.samples.push({
      nodeHttpCalls: execution.httpCalls,
      relayApiRequests: relayApiRequests - requestsBefore,
      nodeMs: nodeDone - t0,
      firstMessageMs: firstMessageAt - t0,
      agentFolderMs: agentFolderAt - t0,
    });
  }

  serveParent(result, {}, async () => {
    await relay.stop({ closeStore: true });
    await engage.stop();
    await cognigy.stop();
    rmSync(dir, { recursive: true, force: true });
  });
}

main().catch(failStartup);
