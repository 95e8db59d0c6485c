import fc from 'fast-check';
import { inspect, isDeepStrictEqual } from 'node:util';
import {
  NOT_SURE,
  parseAgentReplyFast,
  parseSdkRequestFast,
  safeParseAgentReply,
  safeParseSdkRequest,
} from '../../relay/src/engage/fastAgentReply';
import { agentReplyParamsAllowingHttpSchema, agentReplyParamsSchema, sdkRequestSchema } from '../../relay/src/engage/sourceSdkProtocol';
import { firstIssue } from '../../relay/src/http/jsonBody';
import { unicodeText } from './fuzzMutations';

/**
 * Random Source SDK envelopes and agent-reply params (valid, near-valid and invalid), and the check
 * that the hand-written fast path (fastAgentReply.ts) agrees with zod on each: it may fall back, but
 * when it answers, zod accepts the same input and returns a deep-equal value with the same key
 * order. Used by test/unit/fastAgentReply.test.ts (20,000 inputs) and bench/fastParseEquality.ts
 * (200,000). Seeded: a failure names its seed and index.
 */

/** A key left out of the generated object. */
const ABSENT = Symbol('absent');

class NotPlain {
  thread_id = 't1';
  action = 'messages.create';
}

const emoji = '\u{1F600}'; // two UTF-16 units, one code point
const repeat = (s: string, n: number): string => s.repeat(n);

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, undefined, true, false, 0, -0, 1, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, 1e21, '', ' ', '0', 'text'),
  fc.constantFrom<unknown>(10n, [], {}, [1, 'a'], new Date(0), new NotPlain(), Object.create(null), new Map([['thread_id', '1']])),
  fc.oneof(
    fc.integer(),
    fc.string({ maxLength: 6 }),
    fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
  ),
);

/** Present with a value from `arb` (weight `present`), or absent (weight `absent`). */
const slot = (arb: fc.Arbitrary<unknown>, present = 6, absent = 2): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: absent, arbitrary: fc.constant(ABSENT) }, { weight: present, arbitrary: arb });

/** Mostly right, sometimes wrong: `good` with weight 10, `bad` with weight 1. */
const mostly = (good: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 10, arbitrary: good }, { weight: 1, arbitrary: bad });

const idValue: fc.Arbitrary<unknown> = mostly(
  fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.maxSafeInteger()),
  fc.oneof(
    unicodeText(20),
    fc.double(),
    junk,
    fc.constantFrom<unknown>(
      0,
      -0,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 1,
      Number.MIN_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER - 1,
      2 ** 60,
      -1e21,
      0.5,
      -7.25,
      '',
      '5',
      ' 5 ',
      repeat('x', 256),
      repeat('x', 257),
      repeat(emoji, 128), // 256 units: accepted by both
      repeat(emoji, 129), // 258 units, 129 code points: zod accepts, the fast path asks zod
      repeat('x', 255) + emoji, // 257 units, 256 code points: same
      repeat(emoji, 257),
    ),
  ),
);

/** A string limited to `max`: short ones, and every side of the limit in units and code points. */
const boundedString = (max: number): fc.Arbitrary<unknown> =>
  mostly(
    fc.string({ maxLength: 30 }),
    fc.oneof(
      unicodeText(30),
      junk,
      fc.constantFrom<unknown>(
        repeat('x', max),
        repeat('x', max + 1),
        repeat('x', max - 1) + emoji,
        repeat(emoji, Math.floor(max / 2)),
        repeat(emoji, Math.floor(max / 2) + 1),
        repeat(emoji, Math.min(max, 1000) + 1),
      ),
    ),
  );

const anyString: fc.Arbitrary<unknown> = mostly(fc.string({ maxLength: 30 }), fc.oneof(unicodeText(30), junk));
const nullish = fc.constantFrom<unknown>(null, undefined);

const URL_PREFIX = 'https://x.y/';
const oddUrls = fc.constantFrom<unknown>(
  'HTTPS://EXAMPLE.COM/A.PNG',
  'Http://example.com/a',
  'https:example.com',
  'https:/example.com',
  'http:example.com',
  'https://',
  'https://exa mple.com',
  ' https://example.com/a',
  'https://example.com/a ',
  'https://exa\tmple.com/a',
  'https://example.com/a\n',
  '\x01https://example.com/a',
  'https://example.com/\x00',
  '\u00a0https://example.com/a',
  '\ufeffhttps://example.com/a',
  'javascript:alert(1)',
  'data:text/plain,hi',
  'ftp://example.com/f',
  'file:///etc/passwd',
  'blob:https://example.com/uuid',
  '//example.com/x',
  '/relative/path',
  '',
  'not a url',
  'https://[::1]:8443/x',
  'https://[::1/x',
  'https://user:pw@example.com/',
  'https://\u4f8b\u3048.jp/\u30d1\u30b9',
  'https://example.com:99999/',
  URL_PREFIX + repeat('a', 4096 - URL_PREFIX.length),
  URL_PREFIX + repeat('a', 4097 - URL_PREFIX.length),
  URL_PREFIX + repeat(emoji, (4096 - URL_PREFIX.length) / 2),
  URL_PREFIX + repeat(emoji, (4096 - URL_PREFIX.length) / 2 + 1),
);
/** Scheme, host, port and a path of URL-ish characters (fc.webUrl costs far more CPU to generate). */
const urlChars = [...'abcXYZ019-._~%/?#:@!$&()*+,;= \u00e9\u4f8b'];
const webishUrl: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('https://', 'https://', 'http://', 'HTTPS://', 'Http://', 'https:'),
    fc.constantFrom('example.com', 'cdn.example.org', 'x.y', 'localhost', '127.0.0.1', '[::1]', 'xn--e1afmkfd.xn--p1ai', 'a_b.example', ''),
    fc.constantFrom('', '', ':443', ':8080', ':0', ':65536'),
    fc.array(fc.constantFrom(...urlChars), { maxLength: 16 }),
  )
  .map(([scheme, host, port, path]) => `${scheme}${host}${port}/${path.join('')}`);

const urlValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: webishUrl },
  { weight: 3, arbitrary: fc.constantFrom('https://example.com/a.png', 'http://example.com/a.png', 'https://cdn.example.com/f?x=1#y') },
  { weight: 3, arbitrary: oddUrls },
  { weight: 1, arbitrary: junk },
);

/** Keys an input may carry besides the schema's: prototype keys, look-alikes, anything. */
const extraKeys = fc.array(
  fc.tuple(
    fc.oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'toString',
        'hasOwnProperty',
        'valueOf',
        'private',
        'categories',
        'THREAD_ID',
        'content_id ',
      ),
      fc.string({ maxLength: 8 }),
    ),
    junk,
  ),
  { maxLength: 3 },
);

type Entries = [string, unknown][];
type Container = 'plain' | 'nullProto' | 'classInstance' | 'array';
const container = fc.oneof(
  { weight: 30, arbitrary: fc.constant<Container>('plain') },
  { weight: 1, arbitrary: fc.constantFrom<Container>('nullProto', 'classInstance', 'array') },
);

/** Defines every entry as an own enumerable property (as JSON.parse does, `__proto__` included). */
function build(entries: Entries, kind: Container): unknown {
  const target: object =
    kind === 'plain' ? {} : kind === 'nullProto' ? Object.create(null) : kind === 'classInstance' ? new NotPlain() : [];
  for (const [key, value] of entries) {
    if (value === ABSENT) continue;
    if (key !== '__proto__') {
      if (!(Array.isArray(target) && key === 'length')) (target as Record<string, unknown>)[key] = value;
    } else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return target;
}

/** An object from named slots plus extra keys, its keys in a random order. */
function objectOf(slots: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  return fc.tuple(fc.record(slots), extraKeys, container).chain(([known, extra, kind]) => {
    const entries: Entries = [...Object.entries(known), ...extra];
    return fc.shuffledSubarray(entries, { minLength: entries.length }).map((shuffled) => build(shuffled, kind));
  });
}

const attachment: fc.Arbitrary<unknown> = mostly(
  objectOf({
    url: slot(urlValue, 20, 1),
    type: slot(fc.oneof(boundedString(128), nullish)),
    filename: slot(fc.oneof(boundedString(512), nullish)),
  }),
  junk,
);

const fiftyOf = (n: number): unknown[] => Array.from({ length: n }, (_, i) => ({ url: `https://example.com/${i}.png`, type: 'image/png' }));
const attachmentsValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 10, arbitrary: fc.array(attachment, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(fiftyOf(50), fiftyOf(51), [undefined], new Array(2), [[]]) },
  { weight: 1, arbitrary: fc.oneof(nullish, junk) },
);

const structuredContent: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nullish },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), junk, { maxKeys: 3 }) },
  { weight: 1, arbitrary: junk },
);

/** `messages.create` params. */
export const agentReplyParams: fc.Arbitrary<unknown> = objectOf({
  content_id: slot(fc.oneof({ weight: 6, arbitrary: idValue }, { weight: 1, arbitrary: nullish }), 8, 1),
  thread_id: slot(idValue, 30, 1),
  body: slot(fc.oneof({ weight: 6, arbitrary: boundedString(100_000) }, { weight: 1, arbitrary: nullish }), 8, 1),
  author_id: slot(fc.oneof(idValue, nullish)),
  sender_name: slot(fc.oneof(boundedString(512), nullish)),
  in_reply_to_id: slot(fc.oneof(idValue, nullish)),
  format: slot(mostly(fc.constantFrom('text', 'html', null, undefined), fc.constantFrom('TEXT', 'markdown', '', 0, true))),
  retry: slot(mostly(fc.boolean(), fc.constantFrom<unknown>(undefined, null, 'true', 0, 1))),
  attachments: slot(attachmentsValue, 2, 4),
  created_at: slot(fc.oneof(anyString, nullish)),
  updated_at: slot(fc.oneof(anyString, nullish)),
  title: slot(fc.oneof(anyString, nullish)),
  structured_content: slot(structuredContent, 1, 6),
});

const actionValue: fc.Arbitrary<unknown> = mostly(
  fc.oneof(
    fc.constantFrom('messages.create', 'implementation.info', 'messaging.queuing_update', 'threads.list'),
    fc.stringMatching(/^[a-z_]{1,8}\.[a-z_]{1,8}$/),
  ),
  fc.oneof(
    junk,
    fc.constantFrom(
      'messages.create\n',
      'Messages.create',
      'messages.create.x',
      'messages',
      '.create',
      'messages.',
      ' a.b',
      'a-b.c',
      'a.b\u0000',
    ),
  ),
);

const timeValue: fc.Arbitrary<unknown> = mostly(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.oneof(junk, fc.constantFrom(repeat('x', 64), repeat('x', 65), repeat(emoji, 32), repeat(emoji, 32) + 'x', repeat(emoji, 65))),
);

function withOwnSymbol(enumerable: boolean): unknown {
  const o = { thread_id: 't1' };
  Object.defineProperty(o, Symbol('s'), { value: 1, enumerable, writable: true, configurable: true });
  return o;
}
function PrototypeWithoutIsPrototypeOf(): void {}
const oddRecords = fc.constantFrom<unknown>(
  withOwnSymbol(true), // zod refuses the symbol key
  withOwnSymbol(false), // zod skips a non-enumerable one
  { constructor: 1, thread_id: 't1' },
  { constructor: Object, thread_id: 't1' },
  { constructor: PrototypeWithoutIsPrototypeOf, thread_id: 't1' },
  Object.assign(Object.create(null) as object, { thread_id: 't1' }),
);

const paramsValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 12, arbitrary: agentReplyParams },
  { weight: 1, arbitrary: oddRecords },
  { weight: 1, arbitrary: fc.oneof(junk, fc.dictionary(fc.string({ maxLength: 6 }), junk, { maxKeys: 4 })) },
);

/** A Source SDK envelope; a quarter go through JSON text and back, as the relay receives them. */
export const sdkEnvelope: fc.Arbitrary<unknown> = fc
  .tuple(objectOf({ action: slot(actionValue, 20, 1), params: slot(paramsValue, 20, 1), time: slot(timeValue, 20, 1) }), fc.nat(3))
  .map(([value, roll]) => (roll === 0 ? viaJson(value) : value));

function viaJson(value: unknown): unknown {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? value : JSON.parse(text);
  } catch {
    return value; // a BigInt
  }
}

export interface Case {
  envelope: unknown;
  reply: unknown;
}
const caseArb: fc.Arbitrary<Case> = fc.record({ envelope: sdkEnvelope, reply: fc.oneof(agentReplyParams, paramsValue) });

const CHUNK = 1000;
/** `count` cases from `seed`, generated 1,000 at a time (chunk i uses seed + i). */
export function* cases(seed: number, count: number): Generator<{ index: number; value: Case }> {
  for (let start = 0, chunk = 0; start < count; start += CHUNK, chunk++) {
    const batch = fc.sample(caseArb, { seed: seed + chunk, numRuns: Math.min(CHUNK, count - start) });
    for (let i = 0; i < batch.length; i++) yield { index: start + i, value: batch[i] as Case };
  }
}

/** Deep-equal (own keys, prototypes, `undefined` values) and the same key order at every level. */
export function sameOutput(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b) && sameKeyOrder(a, b);
}

function sameKeyOrder(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return true;
  const ka = Reflect.ownKeys(a);
  const kb = Reflect.ownKeys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => sameKeyOrder((a as Record<PropertyKey, unknown>)[k], (b as Record<PropertyKey, unknown>)[k]));
}

export interface ShapeTally {
  /** The fast path answered (and agreed with zod). */
  fastAccepted: number;
  /** The fast path fell back and zod accepted (a near-valid input). */
  fellBackZodAccepted: number;
  /** The fast path fell back and zod refused. */
  fellBackZodRefused: number;
}
export interface Tally {
  envelope: ShapeTally;
  replyHttpsOnly: ShapeTally;
  replyHttpAllowed: ShapeTally;
  mismatches: string[];
}

export const emptyTally = (): Tally => ({
  envelope: { fastAccepted: 0, fellBackZodAccepted: 0, fellBackZodRefused: 0 },
  replyHttpsOnly: { fastAccepted: 0, fellBackZodAccepted: 0, fellBackZodRefused: 0 },
  replyHttpAllowed: { fastAccepted: 0, fellBackZodAccepted: 0, fellBackZodRefused: 0 },
  mismatches: [],
});

type ZodLike = { success: true; data: unknown } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };

/** One shape: fast vs zod, and the wrapper the handler calls vs zod (same data, or the same 4xx reason). */
function compare(what: string, fast: unknown, zod: ZodLike, wrapper: ZodLike, tally: ShapeTally, mismatches: string[]): void {
  if (fast === NOT_SURE) {
    if (zod.success) tally.fellBackZodAccepted++;
    else tally.fellBackZodRefused++;
  } else if (!zod.success) {
    mismatches.push(`${what}: fast accepted, zod refused (${firstIssue(zod.error)})`);
  } else if (!sameOutput(fast, zod.data)) {
    mismatches.push(`${what}: fast ${describe(fast)} != zod ${describe(zod.data)}`);
  } else tally.fastAccepted++;
  const sameWrapped = wrapper.success
    ? zod.success && sameOutput(wrapper.data, zod.data)
    : !zod.success && firstIssue(wrapper.error) === firstIssue(zod.error);
  if (!sameWrapped) mismatches.push(`${what}: the handler's wrapper differs from zod`);
}

export function checkCase(seed: number, index: number, c: Case, tally: Tally): void {
  const found: string[] = [];
  compare(
    'envelope',
    parseSdkRequestFast(c.envelope),
    sdkRequestSchema.safeParse(c.envelope),
    safeParseSdkRequest(c.envelope),
    tally.envelope,
    found,
  );
  compare(
    'reply (https only)',
    parseAgentReplyFast(c.reply, false),
    agentReplyParamsSchema.safeParse(c.reply),
    safeParseAgentReply(c.reply, false),
    tally.replyHttpsOnly,
    found,
  );
  compare(
    'reply (http allowed)',
    parseAgentReplyFast(c.reply, true),
    agentReplyParamsAllowingHttpSchema.safeParse(c.reply),
    safeParseAgentReply(c.reply, true),
    tally.replyHttpAllowed,
    found,
  );
  for (const m of found) tally.mismatches.push(`seed ${seed} case ${index}: ${m}; input ${describe(c)}`);
}

/** For a mismatch report (seed and index reproduce it): undefined, -0, bigint and prototypes shown. */
function describe(value: unknown): string {
  return inspect(value, { depth: 4, breakLength: Infinity, maxStringLength: 80, maxArrayLength: 5 });
}
