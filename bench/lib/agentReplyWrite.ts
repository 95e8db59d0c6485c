import type { Conversation, Mutation } from '../../relay/src/store/types';

/** The lease the engine asks for with a reply's job (the outbox worker's owner and lease time). */
export const REPLY_LEASE = { owner: 'w1', leaseMs: 30_000 };

/**
 * What engine.agentReply writes for reply `i` in an active chat: its dedup key and one noted
 * notify job on the conversation's Cognigy lane (the conversation itself is unchanged).
 */
export function agentReplyWrite(current: Conversation, i: number): Mutation {
  const { tenantId, threadId } = current;
  return {
    scope: { tenantId, threadId },
    dedup: { key: `reply:${tenantId}:${i}`, ttlMs: 600_000 },
    jobs: [
      {
        tenantId,
        threadId,
        lane: `${tenantId}/${threadId}/cognigy`,
        kind: 'cognigy.notify',
        payload: {
          ...current.session,
          text: `Hello from agent Anna, reply ${i}`,
          data: { rceHandover: { type: 'agentMessage', contentId: `c-${i}`, agentName: 'Anna', sender_name: 'Anna' } },
        },
        deadlineAt: Date.now() + 600_000,
      },
    ],
    history: { source: 'agent reply', jobs: [`notify: Hello from agent Anna, reply ${i}`] },
  };
}
