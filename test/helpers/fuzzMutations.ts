import fc from 'fast-check';

/**
 * Ways to damage a request body, as data (so fast-check can generate and shrink them) plus one
 * function that applies them. Structural mutations work on the parsed value, byte mutations on
 * the serialised text.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type Mutation =
  | { kind: 'none' }
  | { kind: 'bitFlip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insertBytes'; at: number; bytes: number[] }
  | { kind: 'typeSwap'; at: number; value: Json }
  | { kind: 'dropKey'; at: number }
  | { kind: 'protoKey'; at: number; key: '__proto__' | 'constructor' | 'prototype' }
  | { kind: 'hugeString'; at: number; size: number }
  | { kind: 'deepNesting'; at: number; depth: number }
  | { kind: 'duplicateKey'; at: number; value: Json }
  | { kind: 'unicode'; at: number; text: string }
  | { kind: 'numberEdge'; at: number; literal: string }
  | { kind: 'bom' }
  | { kind: 'wrapInArray' };

const position = fc.nat({ max: 1_000_000 });

/**
 * Any code points, lone surrogates included. (fc.string({ unit: 'binary' }) does the same but
 * takes seconds to construct, which adds up over several streams.)
 */
export const unicodeText = (maxLength: number): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xffff }), fc.integer({ min: 0x10000, max: 0x10ffff })),
      { maxLength },
    )
    .map((points) => points.map((p) => (p >= 0xd800 && p <= 0xdfff ? String.fromCharCode(p) : String.fromCodePoint(p))).join(''));

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('bitFlip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: position }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('insertBytes' as const),
      at: position,
      bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('typeSwap' as const),
      at: position,
      value: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('dropKey' as const), at: position }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('protoKey' as const),
      at: position,
      key: fc.constantFrom('__proto__' as const, 'constructor' as const, 'prototype' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('hugeString' as const),
      at: position,
      size: fc.oneof({ weight: 19, arbitrary: fc.integer({ min: 10_000, max: 100_000 }) }, fc.integer({ min: 1_050_000, max: 1_200_000 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('deepNesting' as const),
      at: position,
      depth: fc.oneof(fc.integer({ min: 2, max: 31 }), fc.integer({ min: 33, max: 5_000 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('duplicateKey' as const),
      at: position,
      value: fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Json>,
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('unicode' as const), at: position, text: unicodeText(40) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('numberEdge' as const),
      at: position,
      literal: fc.constantFrom(
        '1e999',
        '-1e999',
        '-0',
        '1.7976931348623157e308',
        '9007199254740993',
        '0.0000000001',
        '-1',
        '1e-999',
        '123456789012345678901234567890',
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant<Mutation>({ kind: 'bom' }) },
  { weight: 1, arbitrary: fc.constant<Mutation>({ kind: 'wrapInArray' }) },
);

/** Every (container, key) slot of a JSON value, parents before children. */
function slots(value: Json): { parent: Json[] | { [key: string]: Json }; key: string | number }[] {
  const out: { parent: Json[] | { [key: string]: Json }; key: string | number }[] = [];
  const walk = (v: Json) => {
    if (Array.isArray(v)) v.forEach((item, i) => (out.push({ parent: v, key: i }), walk(item)));
    else if (v !== null && typeof v === 'object')
      for (const k of Object.keys(v)) {
        out.push({ parent: v, key: k });
        walk(v[k] as Json);
      }
  };
  walk(value);
  return out;
}

/** Offsets just after each '{' in a JSON text (outside strings): where a key can be inserted. */
function objectStarts(text: string): number[] {
  const out: number[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') out.push(i + 1);
  }
  return out;
}

function insertKey(text: string, at: number, key: string, valueText: string): string {
  const starts = objectStarts(text);
  if (starts.length === 0) return `{"${key}":${valueText}}`;
  const offset = starts[at % starts.length] ?? 1;
  const rest = text.slice(offset).trimStart();
  const sep = rest.startsWith('}') ? '' : ',';
  return `${text.slice(0, offset)}"${key}":${valueText}${sep}${text.slice(offset)}`;
}

/** Applies one mutation to a JSON-able value and returns the bytes to send. */
export function mutate(value: unknown, mutation: Mutation): Buffer {
  const base = JSON.parse(JSON.stringify(value)) as Json;
  const text = JSON.stringify(base);
  const pick = (at: number) => {
    const all = slots(base);
    return all.length > 0 ? all[at % all.length] : undefined;
  };
  switch (mutation.kind) {
    case 'none':
      return Buffer.from(text);
    case 'bitFlip': {
      const bytes = Buffer.from(text);
      const i = mutation.at % bytes.length;
      bytes[i] = (bytes[i] ?? 0) ^ (1 << mutation.bit);
      return bytes;
    }
    case 'truncate':
      return Buffer.from(text).subarray(0, mutation.at % Math.max(1, text.length));
    case 'insertBytes': {
      const bytes = Buffer.from(text);
      const i = mutation.at % (bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, i), Buffer.from(mutation.bytes), bytes.subarray(i)]);
    }
    case 'typeSwap':
    case 'hugeString':
    case 'deepNesting':
    case 'unicode':
    case 'dropKey': {
      const slot = pick(mutation.at);
      if (!slot) return Buffer.from(text);
      const parent = slot.parent as Record<string | number, Json>;
      if (mutation.kind === 'dropKey') {
        if (Array.isArray(slot.parent)) slot.parent.splice(Number(slot.key), 1);
        else delete parent[slot.key];
      } else if (mutation.kind === 'typeSwap') parent[slot.key] = mutation.value;
      else if (mutation.kind === 'hugeString') parent[slot.key] = 'x'.repeat(mutation.size);
      else if (mutation.kind === 'unicode') parent[slot.key] = mutation.text;
      else {
        // Built as text: a value this deep would overflow JSON.stringify.
        const marker = '"__deep_marker__"';
        parent[slot.key] = '__deep_marker__';
        return Buffer.from(JSON.stringify(base).replace(marker, `${'['.repeat(mutation.depth)}1${']'.repeat(mutation.depth)}`));
      }
      return Buffer.from(JSON.stringify(base));
    }
    case 'protoKey': {
      const payload = mutation.key === 'constructor' ? '{"prototype":{"polluted":"yes"}}' : '{"polluted":"yes","isAdmin":true}';
      return Buffer.from(insertKey(text, mutation.at, mutation.key, payload));
    }
    case 'duplicateKey': {
      const slot = pick(mutation.at);
      const key = slot && typeof slot.key === 'string' ? slot.key : 'action';
      return Buffer.from(insertKey(text, mutation.at, key, JSON.stringify(mutation.value)));
    }
    case 'numberEdge': {
      const slot = pick(mutation.at);
      if (!slot) return Buffer.from(text);
      (slot.parent as Record<string | number, Json>)[slot.key] = '__number_marker__';
      return Buffer.from(JSON.stringify(base).replace('"__number_marker__"', mutation.literal));
    }
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    case 'wrapInArray':
      return Buffer.from(`[${text}]`);
  }
}

/** Printable ASCII, safe as an HTTP header value. */
export const headerText = (maxLength = 80): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 0x21, max: 0x7e }), { maxLength }).map((codes) => String.fromCharCode(...codes));
