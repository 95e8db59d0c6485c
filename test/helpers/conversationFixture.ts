import type { Conversation, Mutation } from '../../relay/src/store/types';

/** A stored conversation as the store tests write it: idle, no Engage thread yet, fixed times. */
export function conversationFixture(tenantId: string, threadId: string, patch: Partial<Conversation> = {}): Conversation {
  return {
    tenantId,
    threadId,
    session: { URLToken: 'tok', userId: `user-${threadId}`, sessionId: `sess-${threadId}` },
    authorId: `author-${threadId}`,
    authorScreenname: 'Ada Lovelace',
    status: 'idle',
    handoverCount: 0,
    options: { forwardOnlyHandoverConversations: true, getQueueUpdates: true },
    engageThreadId: null,
    interventionId: null,
    queue: null,
    lastEventAt: null,
    messageCount: 0,
    version: 0,
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    ...patch,
  };
}

/**
 * An agent reply once the chat is active, as the store tests write it: a dedup key and one notify
 * job on the conversation's Cognigy lane, noted for the timeline; the conversation is untouched.
 */
export function agentReplyMutation(o: {
  threadId: string;
  dedupKey: string;
  text: string;
  deadlineAt: number;
  /** The job's line in the timeline note. */
  summary: string;
  tenantId?: string;
}): Mutation {
  const tenantId = o.tenantId ?? 'tenant-a';
  return {
    scope: { tenantId, threadId: o.threadId },
    dedup: { key: o.dedupKey, ttlMs: 60_000 },
    jobs: [
      {
        tenantId,
        threadId: o.threadId,
        lane: `${tenantId}/${o.threadId}/cognigy`,
        kind: 'cognigy.notify',
        payload: { text: o.text },
        deadlineAt: o.deadlineAt,
      },
    ],
    history: { source: 'agent reply', jobs: [o.summary] },
  };
}
