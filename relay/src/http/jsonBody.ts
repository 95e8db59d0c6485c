/** Parses a JSON body, refusing documents nested deeper than `maxDepth` (cheap DoS guard). */
export function parseJsonBody(raw: Buffer, maxDepth = 32): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (raw.length === 0) return { ok: false, reason: 'empty body' };
  const text = raw.toString('utf8');
  // Depth is checked on the text before parsing so a hostile body never builds a deep object.
  // A body with at most maxDepth brackets in all cannot nest deeper: skip the scan (most bodies).
  if (bracketsAtMost(text, maxDepth)) return parseText(text);
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip escaped char
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return { ok: false, reason: `JSON nested deeper than ${maxDepth}` };
    } else if (c === 125 || c === 93) depth--;
  }
  return parseText(text);
}

function parseText(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: 'invalid JSON' };
  }
}

/** True if `text` holds at most `limit` opening brackets ('{' or '['), counted with native indexOf. */
function bracketsAtMost(text: string, limit: number): boolean {
  let count = 0;
  for (const bracket of ['{', '[']) {
    for (let i = text.indexOf(bracket); i !== -1; i = text.indexOf(bracket, i + 1)) {
      if (++count > limit) return false;
    }
  }
  return true;
}

export function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  // What Engage and the extension send, without splitting and lower-casing a copy on every request.
  if (contentType === 'application/json' || contentType === 'application/json; charset=utf-8') return true;
  const media = contentType.split(';')[0]?.trim().toLowerCase();
  return media === 'application/json';
}

/** First zod issue as "path: message", for one-line 4xx reasons. */
export function firstIssue(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid body';
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}
