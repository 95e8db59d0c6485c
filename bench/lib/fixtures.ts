import { threadIdFor } from '../../relay/src/handover/identity';
import type { Conversation } from '../../relay/src/store/types';
import { tenantSchema, type TenantConfig } from '../../relay/src/config';
import { BENCH_SECRETS, BENCH_SESSION_URL_TOKEN, BENCH_SOURCE_ID } from './common';

/** An address nothing listens on: Engage is not part of the agent-reply path being measured. */
export const NOWHERE = 'http://127.0.0.1:9';

/** The bench's one tenant; only the stub's URL (Cognigy API and Source SDK endpoint) differs between measurements. */
export function benchTenant(cognigyApiBaseUrl: string): TenantConfig {
  return tenantSchema.parse({
    apiAccessToken: BENCH_SECRETS.apiAccessToken,
    botCategoryId: 'cat-bot',
    agentCategoryId: 'cat-agent',
    realtimeAccessToken: BENCH_SECRETS.realtimeAccessToken,
    // The stub answers the Source SDK too: the read receipt queued behind each notify must succeed, or it retries
    // against an absent Engage and holds up the conversation's next notify.
    realtimeEndpointUrl: `${cognigyApiBaseUrl}/realtime/sdk/${BENCH_SOURCE_ID}`,
    webhookSecret: BENCH_SECRETS.webhookSecret,
    baseApiUrl: NOWHERE,
    cognigyApiBaseUrl,
    cognigyApiKey: BENCH_SECRETS.cognigyApiKey,
    relayApiKey: BENCH_SECRETS.relayApiKey,
  });
}

/** A conversation whose handover is under way (an agent took it), as the engine would have stored it. */
export function benchConversation(index: number, status: Conversation['status'] = 'active'): Conversation {
  const session = { URLToken: BENCH_SESSION_URL_TOKEN, userId: `user-${index}`, sessionId: `session-${index}` };
  const threadId = threadIdFor(BENCH_SOURCE_ID, session);
  const now = new Date().toISOString();
  return {
    tenantId: BENCH_SOURCE_ID,
    threadId,
    session,
    authorId: `cog-u-bench-${index}`,
    authorScreenname: `Customer ${index}`,
    status,
    handoverCount: 1,
    options: { forwardOnlyHandoverConversations: true, getQueueUpdates: true },
    engageThreadId: `engage-${index.toString(16).padStart(24, '0')}`,
    interventionId: null,
    queue: null,
    lastEventAt: null,
    messageCount: 1,
    version: 0,
    createdAt: now,
    updatedAt: now,
  };
}
