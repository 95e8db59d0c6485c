import { tokenFingerprint } from '../../contract/fingerprint';
import {
  cancelHandoverRequestSchema,
  sendProfileRequestSchema,
  startHandoverRequestSchema,
  userMessageRequestSchema,
  type HandoverStatus,
} from '../../contract/relayApi';
import { agentReplyParamsSchema, queuingUpdateParamsSchema } from '../../relay/src/engage/sourceSdkProtocol';
import { webhookEventSchema } from '../../relay/src/engage/webhookProtocol';
import { HandoverEngine, type EngineSettings } from '../../relay/src/handover/engine';
import { threadIdFor } from '../../relay/src/handover/identity';
import { cognigyJob, engageSendJob } from '../../relay/src/outbox/jobs';
import type { Conversation, OutboxJob, Store } from '../../relay/src/store/types';
import { capturingLogger, openTestStore, testRelayConfig, testTenant } from '../helpers/relayParts';

/**
 * The HandoverEngine's specification: for each state a conversation can be in and each event that
 * can reach it (a call from the extension, an Engage Source SDK call, a webhook event, an outbox
 * job giving up), the state it ends in and the outbox jobs it writes, in lane order.
 *
 * Jobs are written `<kind> <detail>`: the Send API action, the categorisation's purpose, or the
 * handover status an inject tells the Flow. The store is a real SQLite store in memory.
 */

const T0 = Date.parse('2026-01-05T10:00:00.000Z');
const tenant = testTenant(0, { sourceId: 'src1' });
const config = testRelayConfig([tenant]);
const session = { URLToken: 'url-token', userId: 'user-1', sessionId: 'session-1' };
const threadId = threadIdFor(tenant.sourceId, session);
const ENGAGE_THREAD = 'engage-thread-1';
const INTERVENTION = 'intervention-1';

type Given = HandoverStatus | 'none';

/** A stored conversation in `status`, as the engine would have left it (Engage thread known). */
function storedConversation(status: HandoverStatus): Conversation {
  const at = new Date(T0 - 60_000).toISOString();
  return {
    tenantId: tenant.sourceId,
    threadId,
    session,
    authorId: 'cog-u-1',
    authorScreenname: 'Customer',
    status,
    handoverCount: status === 'idle' ? 0 : 1,
    options: { forwardOnlyHandoverConversations: true, getQueueUpdates: true },
    engageThreadId: ENGAGE_THREAD,
    interventionId: status === 'active' ? INTERVENTION : null,
    queue: null,
    lastEventAt: new Date(T0 - 30_000).toISOString(),
    messageCount: 2,
    version: 0,
    createdAt: at,
    updatedAt: at,
  };
}

const envelope = (requestId: string) => ({
  requestId,
  session,
  connection: {
    sourceId: tenant.sourceId,
    botCategoryId: tenant.botCategoryId,
    agentCategoryId: tenant.agentCategoryId,
    apiAccessTokenFingerprint: tokenFingerprint(tenant.apiAccessToken),
  },
});

type Rig = { engine: HandoverEngine; store: Store };
type When = { name: string; run: (rig: Rig) => Promise<unknown> };

/** Where events.md puts the agent: task events list `agent_ids`, intervention events name `user_id`. */
const agentMetadata = (type: string, agentId: string | undefined): Record<string, unknown> =>
  agentId === undefined ? {} : type.startsWith('task') ? { agent_ids: [agentId] } : { user_id: agentId };

const webhook = (type: string, opts: { issuedAt?: number; resourceId?: string; agentId?: string } = {}): When => ({
  name: `webhook ${type}`,
  run: ({ engine }) =>
    engine.webhookEvent(
      tenant,
      webhookEventSchema.parse({
        type,
        id: `evt-${type}`,
        issued_at: new Date(opts.issuedAt ?? T0).toISOString(),
        resource: {
          type: type.startsWith('task') ? 'task' : 'intervention',
          id: opts.resourceId ?? INTERVENTION,
          metadata: { thread_id: ENGAGE_THREAD, source_id: tenant.sourceId, ...agentMetadata(type, opts.agentId) },
        },
      }),
    ),
});

const EVENTS = {
  start: {
    name: 'extension: start handover (one transcript line)',
    run: ({ engine }) =>
      engine.startHandover(
        tenant,
        startHandoverRequestSchema.parse({
          ...envelope('req-start'),
          firstMessage: 'I need a human',
          transcript: [{ role: 'bot', text: 'Hi!' }],
        }),
      ),
  },
  userMessage: {
    name: 'extension: user message',
    run: ({ engine }) => engine.userMessage(tenant, userMessageRequestSchema.parse({ ...envelope('req-msg'), text: 'still there?' })),
  },
  mirroredMessage: {
    name: 'extension: user message, mirror on',
    run: ({ engine }) =>
      engine.userMessage(tenant, userMessageRequestSchema.parse({ ...envelope('req-mirror'), text: 'hello bot', mirror: true })),
  },
  cancel: {
    name: 'extension: cancel handover',
    run: ({ engine }) => engine.cancelHandover(tenant, cancelHandoverRequestSchema.parse(envelope('req-cancel'))),
  },
  sendProfile: {
    name: 'extension: send profile',
    run: ({ engine }) =>
      engine.sendProfile(tenant, sendProfileRequestSchema.parse({ ...envelope('req-profile'), profile: { firstname: 'Ada' } })),
  },
  agentReply: {
    name: 'Engage: agent reply',
    run: ({ engine }) =>
      engine.agentReply(
        tenant,
        agentReplyParamsSchema.parse({ content_id: 'c-1', thread_id: threadId, body: 'Hello, Anna here', sender_name: 'Anna' }),
      ),
  },
  queuingUpdate: {
    name: 'Engage: queuing update',
    run: ({ engine }) =>
      engine.queuingUpdate(
        tenant,
        queuingUpdateParamsSchema.parse({ thread_id: threadId, position: 3, estimated_wait_time: 90 }),
        Buffer.from('queue-body'),
      ),
  },
  opened: webhook('intervention.opened'),
  taskTaken: webhook('task.taken'),
  canceled: webhook('intervention.canceled'),
  canceledOther: {
    ...webhook('intervention.canceled', { resourceId: 'intervention-old' }),
    name: 'webhook intervention.canceled of an older intervention',
  },
  closed: webhook('intervention.closed'),
  closedStale: {
    ...webhook('intervention.closed', { issuedAt: T0 - 3_600_000 }),
    name: 'webhook intervention.closed issued before the last applied event',
  },
  otherEvent: webhook('content_thread.updated'),
  transferred: webhook('task.transferred', { agentId: 'agent-2' }),
  userUpdated: webhook('intervention.user_updated', { agentId: 'agent-2' }),
  engageGaveUp: {
    name: 'outbox: an Engage job gave up',
    run: ({ engine }) =>
      engine.jobGaveUp(
        asJob(engageSendJob(tenant.sourceId, threadId, T0, { action: 'messages.create', params: {} })),
        'gave up after 9 attempts: HTTP 503',
      ),
  },
  cognigyGaveUp: {
    name: 'outbox: a Cognigy job gave up',
    run: ({ engine }) =>
      engine.jobGaveUp(
        asJob(cognigyJob('cognigy.notify', tenant.sourceId, threadId, T0, { ...session, text: 'x', data: {} })),
        'gave up after 9 attempts: HTTP 502',
      ),
  },
} satisfies Record<string, When>;

function asJob(job: ReturnType<typeof engageSendJob>): OutboxJob {
  return { ...job, id: 'job-1', seq: 1, attempts: 9, nextAttemptAt: T0, createdAt: T0, lastError: null };
}

/** `given` state, event → `then` state (null: no conversation) and the jobs written, in lane order. */
type Row = [given: Given, when: When, then: HandoverStatus | null, jobs: string[]];

const SEND = 'engage.send messages.create';
const SPEC: Row[] = [
  // A handover starts from any state that is not already a running handover.
  ['none', EVENTS.start, 'queued', [SEND, SEND, 'engage.categorize handover']],
  ['idle', EVENTS.start, 'queued', [SEND, SEND, 'engage.categorize handover']],
  ['completed', EVENTS.start, 'queued', [SEND, SEND, 'engage.categorize handover']],
  ['cancelled', EVENTS.start, 'queued', [SEND, SEND, 'engage.categorize handover']],
  ['error', EVENTS.start, 'queued', [SEND, SEND, 'engage.categorize handover']],
  ['queued', EVENTS.start, 'queued', []],
  ['active', EVENTS.start, 'active', []],

  // The user's messages reach Engage only during a handover, or when mirroring is on.
  ['queued', EVENTS.userMessage, 'queued', [SEND]],
  ['active', EVENTS.userMessage, 'active', [SEND]],
  ['idle', EVENTS.userMessage, 'idle', []],
  ['completed', EVENTS.userMessage, 'completed', []],
  ['none', EVENTS.userMessage, null, []],
  ['none', EVENTS.mirroredMessage, 'idle', [SEND]],
  ['completed', EVENTS.mirroredMessage, 'completed', [SEND]],

  // The user (or the Flow) cancels: the intervention ends and the thread goes back to the Bot category.
  ['queued', EVENTS.cancel, 'cancelled', ['engage.endIntervention', 'engage.categorize return_to_bot']],
  // While an agent is with the user, a cancel means the user left: the agent reads the notice first (issue 16).
  ['active', EVENTS.cancel, 'cancelled', [SEND, 'engage.endIntervention', 'engage.categorize return_to_bot']],
  ['idle', EVENTS.cancel, 'idle', []],
  ['completed', EVENTS.cancel, 'completed', []],
  ['none', EVENTS.cancel, null, []],

  // A profile is sent in any state (it creates the conversation record if needed).
  ['none', EVENTS.sendProfile, 'idle', ['engage.send users.create']],
  ['active', EVENTS.sendProfile, 'active', ['engage.send users.create']],

  // An agent reply: the first one proves an agent took the chat (even without a webhook). The notify carries
  // the read receipt: once Cognigy has the message, Engage is told it was read (status.mark_as_read).
  ['queued', EVENTS.agentReply, 'active', ['cognigy.inject active', 'cognigy.notify +read receipt']],
  ['active', EVENTS.agentReply, 'active', ['cognigy.notify +read receipt']],
  ['none', EVENTS.agentReply, null, []],

  // Queue positions: stored while the handover runs; told to the Flow only while queued (and asked for).
  ['queued', EVENTS.queuingUpdate, 'queued', ['cognigy.inject queue']],
  ['active', EVENTS.queuingUpdate, 'active', []],
  ['completed', EVENTS.queuingUpdate, 'completed', []],

  // Webhook events (Engage's events.md).
  ['queued', EVENTS.opened, 'active', ['cognigy.inject active']],
  ['queued', EVENTS.taskTaken, 'active', ['cognigy.inject active']],
  ['active', EVENTS.opened, 'active', []],
  ['active', EVENTS.canceled, 'queued', ['cognigy.inject queue']],
  ['active', EVENTS.canceledOther, 'active', []],
  ['queued', EVENTS.canceled, 'queued', []],
  ['queued', EVENTS.closed, 'completed', ['engage.categorize return_to_bot', 'cognigy.inject completed']],
  ['active', EVENTS.closed, 'completed', ['engage.categorize return_to_bot', 'cognigy.inject completed']],
  ['completed', EVENTS.closed, 'completed', []],
  ['active', EVENTS.closedStale, 'active', []],
  ['active', EVENTS.otherEvent, 'active', []],
  // A reassignment to another agent is told to the Flow (reason "transferred"); while queued it changes nothing.
  ['active', EVENTS.transferred, 'active', ['cognigy.inject active']],
  ['active', EVENTS.userUpdated, 'active', ['cognigy.inject active']],
  ['queued', EVENTS.transferred, 'queued', []],

  // An outbox job ran out of time: the handover is in error; the Flow is told when Cognigy is not the one failing.
  ['active', EVENTS.engageGaveUp, 'error', ['cognigy.inject error']],
  ['queued', EVENTS.cognigyGaveUp, 'error', []],
  ['completed', EVENTS.engageGaveUp, 'completed', []],
];

/** Every job written, in lane order: claimed lane head by lane head, completed, claimed again. */
async function drainJobs(store: Store): Promise<OutboxJob[]> {
  const all: OutboxJob[] = [];
  for (;;) {
    const heads = await store.claimDueJobs({ now: T0 + 3_600_000, limit: 100, owner: 'spec', leaseMs: 1_000 });
    if (heads.length === 0) return all.sort((a, b) => a.seq - b.seq);
    for (const job of heads) {
      all.push(job);
      await store.complete(job, 'spec');
    }
  }
}

function describeJob(job: OutboxJob): string {
  const p = job.payload as Record<string, unknown>;
  switch (job.kind) {
    case 'engage.send':
      return `${job.kind} ${String(p.action)}`;
    case 'engage.categorize':
      return `${job.kind} ${String(p.purpose)}`;
    case 'cognigy.inject':
      return `${job.kind} ${String(((p.data as Record<string, unknown>).handover as Record<string, unknown>).status)}`;
    case 'cognigy.notify':
      return typeof p.readReceiptId === 'string' ? `${job.kind} +read receipt` : job.kind;
    default:
      return job.kind;
  }
}

async function rigIn(given: Given, settings: Partial<EngineSettings> = {}): Promise<Rig> {
  const store = await openTestStore('memory', { clock: () => T0 });
  if (given !== 'none') await store.apply({ conversation: { value: storedConversation(given), expectedVersion: null } });
  const { logger } = capturingLogger(config, 'silent');
  const engine = new HandoverEngine({
    store,
    logger,
    clock: () => T0,
    settings: { outboxDeadlineMs: 60_000, dedupTtlMs: 3_600_000, replayWindowMs: 300_000, ...settings },
  });
  return { engine, store };
}

describe('HandoverEngine specification: state × event → state and outbox jobs', () => {
  it.each(SPEC.map(([given, when, then, jobs]) => ({ given, when, then, jobs, title: when.name })))(
    '$given + $title → $then $jobs',
    async ({ given, when, then, jobs }) => {
      const rig = await rigIn(given);
      try {
        await when.run(rig);
        expect((await rig.store.getConversation(tenant.sourceId, threadId))?.status ?? null).toBe(then);
        expect((await drainJobs(rig.store)).map(describeJob)).toEqual(jobs);
      } finally {
        await rig.store.close();
      }
    },
  );

  it('the same extension request twice writes its jobs once (requestId de-duplication)', async () => {
    const rig = await rigIn('idle');
    try {
      const first = await EVENTS.start.run(rig);
      const again = await EVENTS.start.run(rig);
      expect(first).toEqual({ threadId, status: 'queued', started: true });
      expect(again).toEqual({ threadId, status: 'queued', started: false });
      expect(await drainJobs(rig.store)).toHaveLength(3);
    } finally {
      await rig.store.close();
    }
  });

  it('an Engage retry of an agent reply gets the same id and notifies once (content_id de-duplication)', async () => {
    const rig = await rigIn('active');
    try {
      const first = await EVENTS.agentReply.run(rig);
      const retry = await EVENTS.agentReply.run(rig);
      expect(retry).toEqual(first);
      const jobs = await drainJobs(rig.store);
      expect(jobs.map(describeJob)).toEqual(['cognigy.notify +read receipt']);
      // The receipt names the id Engage was answered with (send-api.md status.mark_as_read).
      expect(first).toEqual({ id: (jobs[0]?.payload as Record<string, unknown>).readReceiptId });
    } finally {
      await rig.store.close();
    }
  });

  it('with READ_RECEIPTS=false an agent reply notifies without a read receipt', async () => {
    const rig = await rigIn('active', { readReceipts: false });
    try {
      await EVENTS.agentReply.run(rig);
      const jobs = await drainJobs(rig.store);
      expect(jobs.map(describeJob)).toEqual(['cognigy.notify']);
      expect(jobs[0]?.payload).not.toHaveProperty('readReceiptId');
    } finally {
      await rig.store.close();
    }
  });

  it('an agent reply for an unknown conversation is answered with a fatal error', async () => {
    const rig = await rigIn('none');
    try {
      expect(await EVENTS.agentReply.run(rig)).toEqual({ error: { fatal: true, message: 'Unknown conversation' } });
    } finally {
      await rig.store.close();
    }
  });
});
