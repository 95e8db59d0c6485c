import type { Conversation } from '../../relay/src/store/types';

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
