import { randomUUID } from 'node:crypto';
import axios from 'axios';
import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { RedisStore } from '../../relay/src/store/redisStore';
import { startRedisSentinel, type RedisSentinelHandle } from '../helpers/redisServer';
import { startRoundRobin } from '../helpers/httpFronts';
import { recordFigures } from '../helpers/reliabilityFigures';
import { startRelayRig, type ExtraRelay, type RelayRig } from '../helpers/relayRig';
import { sleep, waitUntil } from '../helpers/waitUntil';

/**
 * The Redis store on a 3-master Redis Cluster (shared by the jest run) and on a Sentinel-managed
 * primary that fails over, with the real relay and both simulators.
 */

const clusterUrl = (): string => {
  const url = process.env.TEST_REDIS_CLUSTER_URL;
  if (!url) throw new Error('TEST_REDIS_CLUSTER_URL is not set: test/helpers/globalSetup.ts starts the Redis Cluster');
  return url;
};

const notifiedOf = (rig: RelayRig, s: CognigySession): string[] =>
  rig.cognigy
    .notifications()
    .filter((c) => c.sessionId === s.sessionId)
    .map((c) => c.text);

async function handOver(rig: RelayRig, session: CognigySession): Promise<string> {
  expect((await rig.call('startHandover', session, { firstMessage: 'help' })).status).toBe(200);
  const threadId = threadIdFor(rig.tenant.sourceId, session);
  await waitUntil('thread in the Agent folder', () => rig.engage.thread(threadId)?.inAgentFolder === true, { timeoutMs: 15_000 });
  return threadId;
}

describe('Redis Cluster (3 masters)', () => {
  it('runs the whole journey: handover, replies, user messages, queue update, return to the bot', async () => {
    const rig = await startRelayRig({ store: { redisUrl: clusterUrl() } });
    try {
      const session = { URLToken: 'tok', userId: 'u-cluster', sessionId: `s-cluster-${randomUUID().slice(0, 6)}` };
      const threadId = await handOver(rig, session);
      expect((await rig.call('userMessage', session, { text: 'are you there?' })).body).toMatchObject({ forwarded: true });
      await waitUntil('user message at Engage', () =>
        (rig.engage.thread(threadId)?.messages ?? []).some((m) => m.body === 'are you there?'),
      );
      expect((await rig.engage.queuingUpdate({ threadId, position: 2, estimatedWaitTimeSeconds: 30 })).delivered).toBe(true);
      for (const text of ['hello', 'how can I help?'])
        expect((await rig.engage.agentReply({ threadId, body: text })).outcome).toBe('delivered');
      await waitUntil('replies delivered', () => notifiedOf(rig, session).length === 2);
      rig.engage.closeIntervention(threadId);
      await waitUntil('completed', async () => (await rig.store.getConversation(rig.tenant.sourceId, threadId))?.status === 'completed');
      await waitUntil('back in the Bot category', () => rig.engage.thread(threadId)?.categoryIds.join() === rig.tenant.botCategoryId);
      expect(notifiedOf(rig, session)).toEqual(['hello', 'how can I help?']);
      const statuses = rig.cognigy
        .injections()
        .filter((c) => c.sessionId === session.sessionId)
        .map((c) => (c.data.handover as { status: string }).status);
      expect(statuses).toEqual(['queue', 'active', 'completed']);
      expect(await rig.store.outboxStats()).toMatchObject({ pending: 0, deadLettered: 0 });
      expect((await axios.get(`${rig.adminUrl}/readyz`, { validateStatus: () => true })).status).toBe(200);
    } finally {
      await rig.close();
    }
  }, 40_000);

  it('three relays on one Cluster store, one stopped mid-run: 0 lost, 0 duplicated, order kept per conversation', async () => {
    const rig = await startRelayRig({ store: { redisUrl: clusterUrl() }, logLevel: 'warn' });
    const extra: ExtraRelay[] = [];
    let live = [rig.relayUrl];
    const front = await startRoundRobin(() => live);
    try {
      for (let i = 0; i < 2; i++) {
        extra.push(await rig.startExtraRelay({ silent: true }));
      }
      live = [rig.relayUrl, ...extra.map((e) => e.url)];
      rig.engage.setSourceBaseUri(`${front.url}/handover/rce`);
      await rig.engage.saveSource();

      const conversations = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const session = { URLToken: 'tok', userId: `u-ha-${i}`, sessionId: `s-ha-${i}-${randomUUID().slice(0, 6)}` };
          return { session, threadId: await handOver(rig, session), acked: [] as string[] };
        }),
      );
      const REPLIES = 20;
      await Promise.all(
        conversations.map(async (c, i) => {
          for (let n = 1; n <= REPLIES; n++) {
            const text = `c${i} r${n}`;
            const r = await rig.engage.agentReply({ threadId: c.threadId, body: text });
            if (r.outcome === 'delivered') c.acked.push(text);
            // One relay leaves mid-run (its in-flight work finishes or its leases expire).
            if (i === 0 && n === REPLIES / 2) {
              live = [rig.relayUrl, extra[1]!.url];
              await extra[0]!.relay.stop({ closeStore: true });
            }
          }
        }),
      );
      for (const c of conversations)
        await waitUntil(`replies of ${c.session.sessionId}`, () => notifiedOf(rig, c.session).length >= c.acked.length, {
          timeoutMs: 20_000,
        });
      await sleep(300);
      let acked = 0;
      let delivered = 0;
      let duplicates = 0;
      for (const c of conversations) {
        const got = notifiedOf(rig, c.session);
        acked += c.acked.length;
        delivered += got.length;
        duplicates += got.length - new Set(got).size;
        expect(got).toEqual(c.acked);
      }
      expect(acked).toBe(conversations.length * REPLIES);
      expect(await rig.store.outboxStats()).toMatchObject({ pending: 0, deadLettered: 0 });
      recordFigures('redis-cluster-3-relays', {
        relays: 3,
        conversations: conversations.length,
        repliesAcked: acked,
        repliesDelivered: delivered,
        lost: acked - new Set(conversations.flatMap((c) => notifiedOf(rig, c.session))).size,
        duplicates,
      });
    } finally {
      await front.close();
      for (const e of extra) await e.relay.stop({ closeStore: true }).catch(() => undefined);
      await rig.close();
    }
  }, 60_000);
});

describe('Redis Sentinel failover', () => {
  let sentinel: RedisSentinelHandle;
  let rig: RelayRig;
  beforeAll(async () => {
    sentinel = await startRedisSentinel();
    rig = await startRelayRig({ store: { redisUrl: sentinel.url }, logLevel: 'info' });
  }, 30_000);
  afterAll(async () => {
    await rig?.close();
    await sentinel?.stop();
  });

  it('is not ready on a replica or on a sentinel itself (redis:// pointed at the wrong node)', async () => {
    const sentinelPort = /\/\/127\.0\.0\.1:(\d+)/.exec(sentinel.url)?.[1];
    for (const [url, why] of [
      [`redis://127.0.0.1:${sentinel.replicaPort}`, /slave, not a writable primary/],
      [`redis://127.0.0.1:${sentinelPort}`, /sentinel, not a writable primary/],
    ] as const) {
      const store = await RedisStore.connect(url, { keyPrefix: 'probe:' });
      try {
        await expect(store.ping()).rejects.toThrow(why);
      } finally {
        await store.close();
      }
    }
    await expect(rig.store.ping()).resolves.toBeUndefined();
  });

  it('follows the new primary within 10 s, /readyz is 503 in between, no acknowledged reply is lost', async () => {
    const readyz = async () => (await axios.get(`${rig.adminUrl}/readyz`, { validateStatus: () => true, timeout: 3_000 })).status;
    const session = { URLToken: 'tok', userId: 'u-sentinel', sessionId: `s-sentinel-${randomUUID().slice(0, 6)}` };
    const threadId = await handOver(rig, session);
    const acked: string[] = [];
    const unacked: string[] = [];
    for (let n = 1; n <= 5; n++) {
      expect((await rig.engage.agentReply({ threadId, body: `before ${n}` })).outcome).toBe('delivered');
      acked.push(`before ${n}`);
    }
    await waitUntil('replies before the failover delivered', () => notifiedOf(rig, session).length === 5);
    const oldMaster = sentinel.currentMasterPort();

    const killedAt = Date.now();
    await sentinel.killMaster();
    let sawNotReady = false;
    let n = 0;
    let readyAgainAt = 0;
    const outcomes: string[] = [];
    // Engage keeps sending replies; what the relay cannot store gets no 2xx, and Engage retries it later.
    while (Date.now() - killedAt < 20_000) {
      const status = await readyz();
      if (status === 503) sawNotReady = true;
      if (status === 200 && sawNotReady) {
        readyAgainAt = Date.now();
        break;
      }
      const text = `during ${++n}`;
      const r = await rig.engage.agentReply({ threadId, body: text });
      if (r.outcome === 'delivered') acked.push(text);
      else unacked.push(r.contentId);
      outcomes.push(`${r.outcome}:${r.lastError ?? ''}`);
      await sleep(100);
    }
    expect({ sawNotReady, outcomes }).toMatchObject({ sawNotReady: true });
    if (readyAgainAt === 0) {
      const body = (await axios.get(`${rig.adminUrl}/readyz`, { validateStatus: () => true })).data as unknown;
      throw new Error(
        `not ready again: ${JSON.stringify(body)} master now ${sentinel.currentMasterPort()} (was ${oldMaster}); outcomes ${outcomes.join(' ')}; log ${rig.logLines
          .filter((l) => l.includes('redis'))
          .slice(-8)
          .join('\n')}`,
      );
    }
    const followMs = readyAgainAt - killedAt;
    expect(followMs).toBeLessThanOrEqual(10_000);
    expect(sentinel.currentMasterPort()).not.toBe(oldMaster);

    for (const contentId of unacked) {
      const r = await rig.engage.agentReply({ threadId, body: '', contentId });
      expect({ contentId, outcome: r.outcome, error: r.lastError }).toEqual({ contentId, outcome: 'delivered', error: undefined });
    }
    for (let k = 1; k <= 3; k++) {
      expect((await rig.engage.agentReply({ threadId, body: `after ${k}` })).outcome).toBe('delivered');
    }
    await waitUntil('every reply delivered', () => new Set(notifiedOf(rig, session)).size >= acked.length + unacked.length + 3, {
      timeoutMs: 15_000,
    });
    const got = notifiedOf(rig, session);
    for (const text of acked) expect(got).toContain(text);
    expect(got.length - new Set(got).size).toBe(0);
    recordFigures('redis-sentinel-failover', {
      followMs,
      readyz503Seen: sawNotReady,
      repliesAcked: acked.length,
      repliesRetriedByEngage: unacked.length,
      delivered: got.length,
      duplicates: got.length - new Set(got).size,
    });
  }, 60_000);
});
