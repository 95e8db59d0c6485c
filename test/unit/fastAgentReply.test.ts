import { agentReplyBody } from '../../bench/lib/load';
import { NOT_SURE, parseAgentReplyFast, parseSdkRequestFast, safeParseSdkRequest } from '../../relay/src/engage/fastAgentReply';
import { agentReplyParamsSchema, sdkRequestSchema } from '../../relay/src/engage/sourceSdkProtocol';
import { cases, checkCase, emptyTally, sameOutput, type ShapeTally } from '../helpers/agentReplyInputs';

/**
 * The fast path for the envelope and the agent reply (fastAgentReply.ts) against zod, on seeded
 * random inputs (valid, near-valid, invalid): it may always fall back, but never accept what zod
 * refuses and never return something else. A failure prints its seed and case index;
 * bench/fastParseEquality.ts runs ten times as many.
 */

const SEED = 20_2612;
const COUNT = 20_000;

describe('fast agent-reply parsing agrees with zod', () => {
  it(`on ${COUNT} random inputs (seed ${SEED})`, () => {
    const tally = emptyTally();
    for (const { index, value } of cases(SEED, COUNT)) checkCase(SEED, index, value, tally);
    expect(tally.mismatches.slice(0, 5)).toEqual([]);
    // The generator must reach every outcome, or the comparison proves little.
    const covers = (t: ShapeTally) => [t.fastAccepted > COUNT / 5, t.fellBackZodAccepted > COUNT / 200, t.fellBackZodRefused > COUNT / 10];
    expect(covers(tally.envelope)).toEqual([true, true, true]);
    expect(covers(tally.replyHttpsOnly)).toEqual([true, true, true]);
    expect(covers(tally.replyHttpAllowed)).toEqual([true, true, true]);
  });

  it('hands on a JSON value’s params without a copy, equal to the copy, wherever it took the fast path', () => {
    let shared = 0;
    for (const { index, value } of cases(SEED, COUNT / 4)) {
      let text: string | undefined;
      try {
        text = JSON.stringify(value.envelope);
      } catch {
        continue; // a bigint: not JSON
      }
      if (text === undefined) continue;
      const fromJson: unknown = JSON.parse(text);
      const copied = parseSdkRequestFast(JSON.parse(text));
      const asIs = parseSdkRequestFast(fromJson, true);
      expect({ index, same: sameOutput(asIs, copied) }).toEqual({ index, same: true });
      expect({ index, same: sameOutput(safeParseSdkRequest(fromJson, true), sdkRequestSchema.safeParse(fromJson)) }).toEqual({
        index,
        same: true,
      });
      if (asIs !== NOT_SURE && asIs.params !== undefined) {
        expect(asIs.params).toBe((fromJson as { params: unknown }).params);
        shared++;
      }
    }
    expect(shared).toBeGreaterThan(COUNT / 20);
  });

  it('takes the benchmark body by the fast path, with zod’s output', () => {
    const body: unknown = JSON.parse(agentReplyBody('thread-1', 'run-1', '2026-12-03T10:00:00.000Z'));
    const envelope = parseSdkRequestFast(body);
    expect(envelope).not.toBe(NOT_SURE);
    expect(sameOutput(envelope, sdkRequestSchema.parse(body))).toBe(true);
    const params = envelope === NOT_SURE ? undefined : envelope.params;
    const reply = parseAgentReplyFast(params, false);
    expect(reply).not.toBe(NOT_SURE);
    expect(sameOutput(reply, agentReplyParamsSchema.parse(params))).toBe(true);
  });

  it('hashes a missing content_id as zod does, key last', () => {
    const params = { thread_id: 42, author_id: 7, created_at: '2026-12-03T10:00:00Z', body: 'hi', extra: 1 };
    const reply = parseAgentReplyFast(params, false);
    expect(reply).toEqual(agentReplyParamsSchema.parse(params));
    expect(Object.keys(reply as object)).toEqual(['thread_id', 'body', 'author_id', 'created_at', 'content_id']);
    expect(reply).toMatchObject({ thread_id: '42', author_id: '7', content_id: expect.stringMatching(/^h-[0-9a-f]{40}$/) });
  });

  it('falls back where zod rewrites or may still accept', () => {
    const cases: unknown[] = [
      { thread_id: 't', attachments: [{ url: ' https://example.com/a' }] }, // zod trims the URL
      { thread_id: 't', attachments: [{ url: 'https://exa\tmple.com/a' }] }, // zod deletes the tab
      { thread_id: '\u{1F600}'.repeat(129) }, // 258 units, 129 code points: zod counts code points
      { thread_id: 't', structured_content: { a: 1 } },
      Object.assign(Object.create(null) as object, { thread_id: 't' }),
    ];
    for (const params of cases) {
      expect(agentReplyParamsSchema.safeParse(params).success).toBe(true);
      expect(parseAgentReplyFast(params, false)).toBe(NOT_SURE);
    }
    expect(parseAgentReplyFast({ thread_id: 't', attachments: [{ url: 'http://example.com/a' }] }, false)).toBe(NOT_SURE);
    expect(parseAgentReplyFast({ thread_id: 't', attachments: [{ url: 'http://example.com/a' }] }, true)).not.toBe(NOT_SURE);
    // An own __proto__ (JSON.parse makes one): zod drops it from params, a spread would keep it.
    const withProto: unknown = JSON.parse('{"action":"a.b","params":{"__proto__":{"x":1},"y":2}}');
    expect(sdkRequestSchema.parse(withProto)).toEqual({ action: 'a.b', params: { y: 2 } });
    expect(parseSdkRequestFast(withProto)).toBe(NOT_SURE);
  });
});
