/**
 * The preview of a message body on the conversation timeline:
 * `"<the first `max` code points, each run of whitespace as one space>[…]" (<code points of the text> chars)`.
 *
 * It is the same string as `replace(/\s+/g, ' ')`, a code-point split and a length count would
 * give (test/unit/timelinePreview.test.ts checks that on random strings), but it is computed per
 * agent reply (issue 20): one pass, stopping the cut after `max` code points, and counting the
 * rest without building arrays.
 */
export function timelinePreview(text: string, max: number): string {
  const length = text.length;
  let cut = '';
  let taken = 0;
  let i = 0;
  while (i < length && taken < max) {
    const code = text.charCodeAt(i);
    if (isWhitespace(code)) {
      let end = i + 1;
      while (end < length && isWhitespace(text.charCodeAt(end))) end++;
      cut += ' ';
      i = end;
    } else {
      const pair = isPairAt(text, i, code);
      cut += text.slice(i, pair ? i + 2 : i + 1);
      i += pair ? 2 : 1;
    }
    taken++;
  }
  // Whatever is left of the text is at least one more code point of the flattened text.
  const more = i < length;
  return `${JSON.stringify(more ? `${cut}…` : cut)} (${codePoints(text)} chars)`;
}

/** Code points of a string as `[...text].length` counts them (a lone surrogate is one). */
function codePoints(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    if (isPairAt(text, i, text.charCodeAt(i))) {
      count--;
      i++;
    }
  }
  return count;
}

/** A high surrogate at i followed by a low one: one code point in two UTF-16 units. */
function isPairAt(text: string, i: number, code: number): boolean {
  if (code < 0xd800 || code > 0xdbff) return false;
  const next = text.charCodeAt(i + 1);
  return next >= 0xdc00 && next <= 0xdfff;
}

/** What `\s` matches in a JavaScript regular expression (WhiteSpace and LineTerminator). */
function isWhitespace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0xa0) return false;
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}
