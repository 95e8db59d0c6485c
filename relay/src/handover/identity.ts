import { hash } from 'node:crypto';
import type { CognigySession } from '../../../contract/relayApi';

function digest(parts: string[]): string {
  // Length-prefix each part so ("ab","c") and ("a","bc") never collide. One-shot hash of the joined
  // parts (the same digest as one update per part, without a Hash object: once per agent reply).
  let input = '';
  for (const p of parts) input += `${p.length}:${p}|`;
  return hash('sha256', input, 'hex').slice(0, 32);
}

/** Our Engage thread id (Engage's foreign_id): the same Cognigy session always maps to the same thread. */
export function threadIdFor(tenantId: string, session: CognigySession): string {
  return `cog-t-${digest([tenantId, session.URLToken, session.userId, session.sessionId])}`;
}

/** Engage user id of the contact: stable per Cognigy user on one endpoint, so Engage keeps one identity. */
export function authorIdFor(tenantId: string, session: CognigySession): string {
  return `cog-u-${digest([tenantId, session.URLToken, session.userId])}`;
}

/** The controlled, puppetizable identity that signs bot lines of the transcript. */
export function botAuthorIdFor(tenantId: string): string {
  return `cog-bot-${digest([tenantId]).slice(0, 12)}`;
}

/** The puppetizable identity the admin makes controlled and assigns to agents (seed step 7). */
export function agentIdentityIdFor(tenantId: string): string {
  return `cog-agent-${digest([tenantId]).slice(0, 12)}`;
}

/** Id of the n-th message we create in a thread. */
export function messageIdFor(threadId: string, ordinal: number): string {
  return `${threadId}-m${ordinal}`;
}

/** Id we answer Engage with for an agent reply: derived from content_id so retries get the same id. */
export function agentReplyIdFor(contentId: string): string {
  return `agent-${digest([contentId]).slice(0, 24)}`;
}
