import { randomUUID } from 'node:crypto';
import type { CognigySession } from '../../contract/relayApi';
import type { TenantConfig } from '../../relay/src/config';
import { threadIdFor } from '../../relay/src/handover/identity';
import { tenantIdentityUsers } from '../../relay/src/engage/tenantIdentities';
import { CognigyApiSimulator } from '../../sandbox/cognigy/cognigyApiSimulator';
import type { EngageSimulator } from '../../sandbox/engage';
import { startAnswerDelayingProxy, startRoundRobin } from '../helpers/httpFronts';
import { startRedisServer, type RedisServerHandle } from '../helpers/redisServer';
import { recordFigures } from '../helpers/reliabilityFigures';
import { startTestEngage, tenantSecrets, testTenant } from '../helpers/relayParts';
import { envOfTenant } from '../helpers/tenantEnv';
import { sleep, waitUntil } from '../helpers/waitUntil';
import { startRelayProcess, type RelayProcess } from '../helpers/relayProcess';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/**
 * Two relay processes on one Redis (AOF), Engage spread over both. One is killed with SIGKILL
 * while Cognigy calls are in flight (Cognigy acts on receipt; its answers are held back). Its
 * lanes go on within the lease (default OUTBOX_LEASE_MS 8 s), or at once when it restarts under
 * the same identity (host:port). At most one duplicate per call in flight.
 */
const TENANT = 8;
const secrets = tenantSecrets(TENANT);

describe('a relay killed mid-load (2 relays, Redis)', () => {
  let redis: RedisServerHandle;
  let engage: EngageSimulator;
  let cognigy: CognigyApiSimulator;
  let proxy: Awaited<ReturnType<typeof startAnswerDelayingProxy>>;
  let tenant: TenantConfig;
  const processes: RelayProcess[] = [];

  beforeAll(async () => {
    redis = await startRedisServer({ persistent: true });
    const sourceId = `srckill${Date.now().toString(36)}`;
    engage = await startTestEngage({ sourceId, realtimeAccessToken: secrets.realtimeAccessToken, apiAccessToken: secrets.apiAccessToken });
    cognigy = new CognigyApiSimulator(secrets.cognigyApiKey);
    await cognigy.start();
    proxy = await startAnswerDelayingProxy();
    proxy.target = cognigy.url;
    tenant = testTenant(TENANT, { sourceId, engageUrl: engage.url, categories: engage.categories, cognigyUrl: proxy.url });
  });
  afterAll(async () => {
    for (const p of processes) await p.ensureStopped();
    await proxy?.close();
    await engage?.stop();
    await cognigy?.stop();
    await redis?.stop();
  });

  const env = (): Record<string, string> => ({
    STORE_URL: redis.url,
    ...envOfTenant(tenant),
  });
  const launch = async (port?: number): Promise<RelayProcess> => {
    const p = await startRelayProcess(env(), port ? { port } : {});
    processes.push(p);
    return p;
  };
  const notified = (sessionId: string) =>
    cognigy
      .notifications()
      .filter((c) => c.sessionId === sessionId)
      .map((c) => c.text);

  it.each([
    ['without a restart: the other relay takes over when the leases expire', false],
    ['with a restart on the same host and port: it takes its own work back at once', true],
  ])(
    '%s',
    async (_name, restart) => {
      const a = await launch();
      const b = await launch();
      let live = [a.url, b.url];
      const front = await startRoundRobin(() => live);
      try {
        engage.setSourceBaseUri(`${front.url}/handover/rce`);
        await engage.saveSource();
        // Seed step 7: the relays create the Bot and Agent identities once the source is saved; agents reply through them.
        const identities = tenantIdentityUsers(tenant.sourceId);
        await waitUntil(
          'Bot and Agent identities in Engage',
          () => [identities.bot.id, identities.agent.id].every((id) => engage.users().some((u) => u.foreign_id === id)),
          { timeoutMs: 15_000 },
        );
        const tag = randomUUID().slice(0, 6);
        const conversations = await Promise.all(
          Array.from({ length: 6 }, async (_, i) => {
            const session: CognigySession = { URLToken: 'tok', userId: `u-kill-${tag}-${i}`, sessionId: `s-kill-${tag}-${i}` };
            const r = await signedRelayCall(a.url, tenant, 'startHandover', {
              ...envelopeFor(tenant, session, `start-${session.sessionId}`),
              firstMessage: 'help',
            });
            expect(r.status).toBe(200);
            const threadId = threadIdFor(tenant.sourceId, session);
            await waitUntil('in the Agent folder', () => engage.thread(threadId)?.inAgentFolder === true, { timeoutMs: 15_000 });
            return { session, threadId, expected: [] as string[] };
          }),
        );
        // Cognigy acts on every notify, but its answers wait: one call per conversation in flight at the kill.
        proxy.holdAnswers = true;
        for (const [i, c] of conversations.entries()) {
          for (let n = 1; n <= 3; n++) {
            expect((await engage.agentReply({ threadId: c.threadId, body: `c${i} r${n}` })).outcome).toBe('delivered');
            c.expected.push(`c${i} r${n}`);
          }
        }
        await waitUntil('a notify in flight per conversation', () => proxy.held >= conversations.length, { timeoutMs: 10_000 });
        const inFlight = proxy.held;
        a.kill('SIGKILL');
        const killedAt = (await a.exited).at;
        live = [b.url];
        proxy.holdAnswers = false;
        proxy.release();
        let restarted: RelayProcess | null = null;
        if (restart) {
          restarted = await launch(a.port);
          live = [restarted.url, b.url];
        }
        const doneAt = new Map<string, number>();
        await waitUntil(
          'every acknowledged reply delivered',
          () => {
            for (const c of conversations)
              if (!doneAt.has(c.threadId) && new Set(notified(c.session.sessionId)).size >= c.expected.length)
                doneAt.set(c.threadId, Date.now());
            return doneAt.size === conversations.length;
          },
          { timeoutMs: 20_000, intervalMs: 25 },
        );
        await sleep(500);
        let duplicates = 0;
        for (const c of conversations) {
          const got = notified(c.session.sessionId);
          // Every Cognigy call of the conversation (the 'active' inject and the notifies): a call made twice shows up here.
          const calls = [...cognigy.notifications(), ...cognigy.injections()]
            .filter((x) => x.sessionId === c.session.sessionId)
            .map((x) =>
              x.kind === 'notify' ? `notify:${x.text}` : `inject:${String((x.data.handover as { status?: string } | undefined)?.status)}`,
            );
          duplicates += calls.length - new Set(calls).size;
          // Nothing lost, order kept (a re-sent call repeats a reply, never reorders them).
          expect([...new Set(got)]).toEqual(c.expected);
        }
        const worstStallMs = Math.max(...[...doneAt.values()].map((t) => t - killedAt));
        // At most one duplicate per call in flight at the kill; takeover bounded by the default lease.
        expect(duplicates).toBeLessThanOrEqual(inFlight);
        expect(worstStallMs).toBeLessThanOrEqual(10_000 + 1_000);
        if (restarted)
          await waitUntil('restarted relay took its leases back', () => restarted!.stdout.some((l) => l.includes('took back the leases')), {
            timeoutMs: 5_000,
          });
        recordFigures(restart ? 'relay-kill-restart' : 'relay-kill-takeover', {
          relays: 2,
          conversations: conversations.length,
          inFlightAtKill: inFlight,
          worstStallMs,
          duplicates,
        });
        for (const p of [b, restarted]) p?.kill('SIGTERM');
        await b.exited;
        if (restarted) await restarted.exited;
      } finally {
        await front.close();
      }
    },
    90_000,
  );
});
