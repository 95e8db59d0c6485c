import { Writable } from 'node:stream';
import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { runInspectCommand } from '../../relay/src/store/inspectCli';
import { startRelayRig, type RelayRig, type RigStore } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/**
 * `relay inspect` on a real journey (relay + Engage and Cognigy simulators) on both stores: the
 * timeline shows the status changes, the queue update, every job with its failed attempts and its
 * delivery, and never a whole message body or the session's URLToken.
 */

const session: CognigySession = { URLToken: 'endpoint-token-inspect-secret', userId: 'user-9', sessionId: 'session-inspect-1' };
const LONG_REPLY = 'Hi Jane, I am Anna from the parcel team; your order 1234 left our depot this morning.';

function capture(): { out: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    out: new Writable({ write: (chunk: Buffer, _enc, done) => (chunks.push(chunk.toString()), done()) }),
    text: () => chunks.join(''),
  };
}

describe.each<RigStore>(['sqlite', 'redis'])('relay inspect on a real journey (%s store)', (storeKind) => {
  let journey: RelayRig;
  let threadId: string;
  let n = 0;

  beforeAll(async () => {
    journey = await startRelayRig({ store: storeKind });
    threadId = threadIdFor(journey.tenant.sourceId, session);
  });
  afterAll(async () => {
    await journey?.close();
  });

  const call = (route: Parameters<typeof signedRelayCall>[2], extra: Record<string, unknown>) =>
    signedRelayCall(journey.relayUrl, journey.tenant, route, {
      ...envelopeFor(journey.tenant, session, `req-inspect-${storeKind}-${++n}`),
      ...extra,
    });

  const inspect = async (...args: string[]): Promise<{ code: number; text: string }> => {
    const c = capture();
    const code = await runInspectCommand(args, {
      storeUrl: 'unused: the journey store is passed in',
      out: c.out,
      store: journey.relay.store,
    });
    return { code, text: c.text() };
  };

  it('tells where every message of a handover went, failed attempts included', async () => {
    expect(
      (await call('startHandover', { firstMessage: 'I want to talk to a person', transcript: [{ role: 'bot', text: 'Hello!' }] })).status,
    ).toBe(200);
    await journey.waitForAgentCategory(threadId);
    await journey.engage.queuingUpdate({ threadId, position: 2, estimatedWaitTimeSeconds: 60 });
    await journey.cognigy.waitFor((calls) => calls.some((c) => c.kind === 'inject'));

    expect((await journey.engage.agentReply({ threadId, body: 'Hello', agentName: 'Anna' })).outcome).toBe('delivered');
    await journey.cognigy.waitFor((calls) => calls.some((c) => c.kind === 'notify'));
    // Cognigy fails for a moment: the agent's second reply is retried, then delivered.
    await journey.cognigy.setFault('http503');
    expect((await journey.engage.agentReply({ threadId, body: LONG_REPLY, agentName: 'Anna' })).outcome).toBe('delivered');
    await waitUntil('a failed notify attempt', async () =>
      (await journey.relay.store.readHistory(journey.tenant.sourceId, threadId)).some(
        (e) => e.type === 'retry' && e.kind === 'cognigy.notify',
      ),
    );
    await journey.cognigy.setFault('none');
    await journey.cognigy.waitFor((calls) => calls.filter((c) => c.kind === 'notify').length === 2);
    journey.engage.closeIntervention(threadId);
    await journey.cognigy.waitFor((calls) =>
      calls.some((c) => (c.data.handover as { status?: string } | undefined)?.status === 'completed'),
    );
    await waitUntil('every job delivered', async () => {
      const h = await journey.relay.store.readHistory(journey.tenant.sourceId, threadId);
      const queued = h.flatMap((e) => (e.type === 'write' ? e.jobs.map((j) => j.id) : []));
      const delivered = new Set(h.flatMap((e) => (e.type === 'delivered' ? [e.jobId] : [])));
      return queued.length > 0 && queued.every((id) => delivered.has(id));
    });

    const bySession = await inspect(session.sessionId);
    expect(bySession.code).toBe(0);
    const text = bySession.text;
    expect(text).toContain(`Conversation ${threadId} (tenant ${journey.tenant.sourceId})`);
    expect(text).toMatch(/status\s+completed \(handover #1\)/);
    // Status changes in order: started, agent joined (first reply), closed.
    const statusLines = text
      .split('\n')
      .filter((l) => / status \S+ → /.test(l))
      .map((l) => l.replace(/^.*status (\S+ → \S+).*$/, '$1'));
    expect(statusLines).toEqual(['(new) → queued', 'queued → active', 'active → completed']);
    expect(text).toMatch(/queue update\s+queue position 2, about 60 s/);
    expect(text).toMatch(/webhook\s+status active → completed/);
    expect(text).toMatch(/Engage thread \S+/);
    // The failed notify attempts, then its delivery, with times. The second reply only queued its notify, so
    // it has no entry of its own: its attempts say what it was and where it came from (issue 20).
    expect(text).toMatch(
      /failed\s+job \S+ cognigy\.notify \(agent reply: notify from agent "Anna" "Hi Jane, I am An…" \(85 chars\)\), attempt 1: Cognigy notify: HTTP 503; next attempt \d{4}-/,
    );
    expect(text.split('\n').filter((l) => /^\s+\S+\s+agent reply /.test(l))).toEqual([expect.stringContaining('status queued → active')]);
    expect(text).toMatch(
      /cognigy\.notify {2}notify from agent "Anna" "Hi Jane, I am An…" \(85 chars\)\n {4}queued \S+ → DELIVERED \S+ \(attempt [2-9]\d*, after \d+ ms\)/,
    );
    expect(text).toMatch(/engage\.send {2}messages\.create from bot "Hello!" \(6 chars\)\n {4}queued \S+ → DELIVERED/);
    expect(text).toMatch(/engage\.categorize {2}categorize for handover\n {4}queued \S+ → DELIVERED/);
    expect(text).not.toContain('PENDING');
    // Never the whole body, the URLToken or a secret.
    expect(text).not.toContain(LONG_REPLY);
    expect(text).not.toContain(session.URLToken);
    for (const secret of journey.secrets) expect(text).not.toContain(secret);

    // The same conversation by its thread id and by its Engage thread id; JSON without the URLToken.
    const engageThreadId = journey.engage.thread(threadId)?.id;
    expect(engageThreadId).toBeDefined();
    expect((await inspect(threadId)).text).toBe(text);
    expect((await inspect(engageThreadId ?? '')).text).toBe(text);
    const json = await inspect(threadId, '--json');
    expect(JSON.parse(json.text)).toEqual([
      expect.objectContaining({
        conversation: expect.objectContaining({ threadId, session: { userId: session.userId, sessionId: session.sessionId } }),
      }),
    ]);
    expect(json.text).not.toContain(session.URLToken);
  });

  it('says so when nothing matches, and shows its usage on bad arguments', async () => {
    expect(await inspect('no-such-session')).toEqual({
      code: 1,
      text: expect.stringContaining('No conversation with thread id, Cognigy session id or Engage thread id "no-such-session"'),
    });
    expect(await inspect()).toEqual({ code: 2, text: expect.stringContaining('Usage: relay inspect') });
  });
});
