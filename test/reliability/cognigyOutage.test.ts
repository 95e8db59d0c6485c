import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import type { CognigyFault } from '../../sandbox/cognigy/cognigyApiSimulator';
import { recordFigures } from '../helpers/reliabilityFigures';
import { describeCognigyCall, startRelayRig, WarpClock, type RelayRig } from '../helpers/relayRig';
import { sleep, waitUntil } from '../helpers/waitUntil';

/**
 * Cognigy's inject/notify API is down for 60 s of relay time — refusing connections, then
 * answering 500, then hanging until our timeout — while Engage keeps sending queue updates,
 * agent replies and a closing webhook. Afterwards every reply and event reaches Cognigy
 * exactly once, in order per conversation.
 *
 * Time: the relay, its store and the Engage simulator share a WarpClock. The test moves it
 * forward in 250 ms steps (a few ms of real time each), so the relay's real retry schedule —
 * production backoff (250 ms base, 30 s cap, full jitter) and the 15 min default deadline —
 * plays out over a minute of relay time in a couple of seconds. Only the hang mode costs real
 * time: each hung call waits for the (shortened, 1 s) outbound timeout. Not shorter: a call Cognigy
 * took but answered after the timeout is sent again and shows twice (HTTP gives no better), and
 * with 200 ms a loaded 2-core machine running the whole suite did that once (queue:1 twice).
 */

const STEP_MS = 250;
const BACKOFF_CAP_MS = 30_000;

interface Conversation {
  name: string;
  session: CognigySession;
  threadId: string;
  expected: string[];
}

describe.each<'sqlite' | 'redis'>(['sqlite', 'redis'])('a 60 s Cognigy outage (%s store)', (storeKind) => {
  let rig: RelayRig;
  let clock: WarpClock;
  let simulatedMs = 0;

  beforeAll(async () => {
    clock = new WarpClock();
    // Production outbox schedule (no backoff override) and the default 15 min deadline; only polling is faster.
    rig = await startRelayRig({ clock, store: storeKind, outbox: { idlePollMs: 10 }, outboundTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await rig?.close();
  });

  /** Moves relay time forward to `targetMs` after the outage began, in small steps. */
  async function advanceTo(targetMs: number): Promise<void> {
    while (simulatedMs < targetMs) {
      const step = Math.min(STEP_MS, targetMs - simulatedMs);
      clock.advance(step);
      simulatedMs += step;
      await sleep(4);
    }
  }

  it('delivers every agent reply and handover event exactly once and in order once Cognigy is back', async () => {
    const { engage, tenant, cognigy } = rig;
    const conversations: Conversation[] = ['A', 'B', 'C'].map((name) => {
      const session = { URLToken: 'tok', userId: `u-out-${name}`, sessionId: `s-out-${name}` };
      return { name, session, threadId: threadIdFor(tenant.sourceId, session), expected: [] };
    });
    const [A, B, C] = conversations as [Conversation, Conversation, Conversation];
    for (const c of conversations)
      expect((await rig.call('startHandover', c.session, { firstMessage: `${c.name} needs help` })).status).toBe(200);
    for (const c of conversations)
      await waitUntil(`${c.name} in the Agent folder`, () => engage.thread(c.threadId)?.inAgentFolder === true);

    const callsBefore = cognigy.calls.length;
    const attemptsBefore = cognigy.attempts.length;
    const retriesBefore = rig.relay.worker.metrics.retried;
    const setFault = (fault: CognigyFault) => cognigy.setFault(fault);
    const reply = async (c: Conversation, text: string) => {
      const result = await engage.agentReply({ threadId: c.threadId, body: text, agentName: 'Anna' });
      // The relay acknowledged it (Engage got its 2xx) although Cognigy is down.
      expect(result.outcome).toBe('delivered');
      if (!c.expected.includes('inject:active')) c.expected.push('inject:active');
      c.expected.push(`notify:${text}`);
    };
    const queue = async (c: Conversation, position: number) => {
      const result = await engage.queuingUpdate({ threadId: c.threadId, position, estimatedWaitTimeSeconds: position * 60 });
      expect(result.delivered).toBe(true);
      c.expected.push(`queue:${position}`);
    };

    await setFault('refuse');
    await advanceTo(2_000);
    await queue(A, 3);
    await queue(B, 2);
    await advanceTo(5_000);
    await reply(A, 'A1');
    await advanceTo(10_000);
    await queue(C, 1);
    await advanceTo(15_000);
    await reply(B, 'B1');
    await reply(A, 'A2');
    await advanceTo(20_000);
    await setFault('http500');
    await advanceTo(25_000);
    await reply(C, 'C1');
    await reply(A, 'A3');
    await advanceTo(30_000);
    engage.closeIntervention(A.threadId);
    A.expected.push('inject:completed');
    await engage.flush();
    await advanceTo(40_000);
    await setFault('hang');
    await advanceTo(45_000);
    await reply(B, 'B2');
    await reply(C, 'C2');
    await advanceTo(60_000);

    // Nothing got through during the outage, although the relay kept trying.
    expect(cognigy.calls.length).toBe(callsBefore);
    // Refused connections never reach the simulator; 500s and hung calls do.
    expect(cognigy.attempts.length - attemptsBefore).toBeGreaterThan(conversations.length);
    const failedAttempts = rig.relay.worker.metrics.retried - retriesBefore;
    expect((await rig.store.outboxStats()).deadLettered).toBe(0);

    await setFault('none');
    const recoveredAt = simulatedMs;
    const expectedTotal = conversations.reduce((n, c) => n + c.expected.length, 0);
    const delivered = () => cognigy.calls.length - callsBefore;
    await waitUntil('everything delivered after the outage', () => delivered() >= expectedTotal, {
      timeoutMs: 20_000,
      intervalMs: 4,
      step: () => {
        clock.advance(STEP_MS);
        simulatedMs += STEP_MS;
      },
    });
    const recoveryMs = simulatedMs - recoveredAt;
    // The capped backoff bounds how long a lane waits after the outage ends: at most the 30 s cap,
    // plus polling and the lane's remaining jobs, which cost a few steps of warped time each.
    expect(recoveryMs).toBeLessThanOrEqual(BACKOFF_CAP_MS + 5_000);
    await advanceTo(simulatedMs + 5_000);
    await sleep(50);

    let duplicates = 0;
    for (const c of conversations) {
      const lines = cognigy.calls
        .slice(callsBefore)
        .filter((call) => call.sessionId === c.session.sessionId)
        .map(describeCognigyCall);
      duplicates += lines.length - new Set(lines).size;
      expect({ conversation: c.name, lines }).toEqual({ conversation: c.name, lines: c.expected });
    }
    expect(await rig.store.outboxStats()).toMatchObject({ pending: 0, deadLettered: 0 });
    expect((await rig.store.getConversation(tenant.sourceId, A.threadId))?.status).toBe('completed');

    recordFigures(`cognigy-outage-${storeKind}`, {
      outageSimulatedMs: 60_000,
      faultModes: 'refuse,http500,hang',
      failedAttemptsDuringOutage: failedAttempts,
      cognigyCallsExpected: expectedTotal,
      cognigyCallsDelivered: delivered(),
      duplicates,
      recoverySimulatedMs: recoveryMs,
    });
  }, 45_000);
});
