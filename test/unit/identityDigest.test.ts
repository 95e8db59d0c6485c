import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { agentReplyIdFor, authorIdFor, botAuthorIdFor, threadIdFor } from '../../relay/src/handover/identity';

/**
 * Thread, author and reply ids are stored and known to Engage (foreign ids, answered ids): the
 * one-shot digest (issue 20) must give the ids the Hash-object digest gave, for any input.
 */
function digestBefore(parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${p.length}:${p}|`);
  return h.digest('hex').slice(0, 32);
}

describe('identity digests', () => {
  it('are the ids the earlier digest gave (seeded random sessions and content ids, any UTF-16)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string(),
        fc.string({ unit: 'grapheme' }),
        fc.string(),
        (tenant, token, user, session) => {
          const s = { URLToken: token, userId: user, sessionId: session };
          return (
            threadIdFor(tenant, s) === `cog-t-${digestBefore([tenant, token, user, session])}` &&
            authorIdFor(tenant, s) === `cog-u-${digestBefore([tenant, token, user])}` &&
            agentReplyIdFor(user) === `agent-${digestBefore([user]).slice(0, 24)}` &&
            botAuthorIdFor(tenant) === `cog-bot-${digestBefore([tenant]).slice(0, 12)}`
          );
        },
      ),
      { seed: 20_2615, numRuns: 500 },
    );
  });

  it('keeps known ids (computed with the earlier digest)', () => {
    expect(agentReplyIdFor('content-1')).toBe('agent-c6aba0e884a589bb287a1689');
    expect(threadIdFor('src', { URLToken: 'a', userId: 'b', sessionId: 'c' })).toBe('cog-t-5c395e2c6744dc9d45cdad69c4850513');
  });
});
