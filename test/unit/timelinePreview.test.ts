import fc from 'fast-check';
import { cognigyJob, TIMELINE_PREVIEW_CHARS } from '../../relay/src/outbox/jobs';
import { timelinePreview } from '../../relay/src/outbox/timelinePreview';

/**
 * The one-pass timeline preview (issue 20) against the implementation it replaced — whitespace
 * regex, code-point split, JSON.stringify — on seeded random strings made of the characters where
 * the two could part: every `\s` character and near misses, surrogate pairs, lone surrogates,
 * quotes and controls.
 */
function previewBefore(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  const cut = [...flat].slice(0, max).join('');
  return `${JSON.stringify(cut.length < flat.length ? `${cut}…` : cut)} (${[...text].length} chars)`;
}

const WHITESPACE = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2000, 0x2005, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
];
// Not `\s` in JavaScript, and next to characters that are.
const NEAR_MISSES = [
  0x08, 0x0e, 0x1f, 0x21, 0x85, 0x9f, 0xa1, 0x180e, 0x1fff, 0x200b, 0x2027, 0x202a, 0x205e, 0x2060, 0x2fff, 0x3001, 0xfefe, 0xffff,
];
const PIECES = [
  ...WHITESPACE.map((c) => String.fromCharCode(c)),
  ...NEAR_MISSES.map((c) => String.fromCharCode(c)),
  '😀', // a surrogate pair
  '\ud83d', // a lone high surrogate
  '\ude00', // a lone low surrogate
  '\udbff\udfff', // the last pair
  '"',
  '\\',
  '\u0000',
  '…',
  'é',
  'a',
  'Z',
  '7',
];

describe('timeline preview', () => {
  it('equals the regex / code-point-split preview on random strings (seeded)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 48 }), fc.integer({ min: 0, max: 20 }), (pieces, max) => {
        const text = pieces.join('');
        // A boolean, not expect(): fast-check shrinks and prints the failing string.
        return timelinePreview(text, max) === previewBefore(text, max);
      }),
      { seed: 20_2612, numRuns: 20_000 },
    );
  });

  it('equals it on arbitrary UTF-16 strings too', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 30 }), (a, b) => {
        const mixed = `${b} ${a}`;
        return (
          timelinePreview(a, TIMELINE_PREVIEW_CHARS) === previewBefore(a, TIMELINE_PREVIEW_CHARS) &&
          timelinePreview(mixed, TIMELINE_PREVIEW_CHARS) === previewBefore(mixed, TIMELINE_PREVIEW_CHARS)
        );
      }),
      { seed: 20_2613, numRuns: 600 },
    );
  });

  it('cuts at the limit, marks the cut, and counts code points of the whole text', () => {
    expect(timelinePreview('', 16)).toBe('"" (0 chars)');
    expect(timelinePreview('exactly sixteen!', 16)).toBe('"exactly sixteen!" (16 chars)');
    expect(timelinePreview('exactly sixteen!?', 16)).toBe('"exactly sixteen!…" (17 chars)');
    expect(timelinePreview('exactly sixteen!  \n ', 16)).toBe('"exactly sixteen!…" (20 chars)');
    expect(timelinePreview('exactly sixteen  \n ', 16)).toBe('"exactly sixteen " (19 chars)');
    expect(timelinePreview('😀'.repeat(17), 16)).toBe(`"${'😀'.repeat(16)}…" (17 chars)`);
    expect(timelinePreview('a\u2028b', 16)).toBe('"a b" (3 chars)');
  });

  it('is what a notify job’s summary shows', () => {
    const job = cognigyJob('cognigy.notify', 'src', 't', 0, {
      URLToken: 'tok',
      userId: 'u',
      sessionId: 's',
      text: ' \t Hello\u00a0\u00a0from 😀 agent Anna, how can I help?',
      data: {},
    });
    expect(job.summary).toBe(`notify ${previewBefore(' \t Hello\u00a0\u00a0from 😀 agent Anna, how can I help?', TIMELINE_PREVIEW_CHARS)}`);
  });
});
