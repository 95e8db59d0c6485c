import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Secret-bearing fields, redacted by path. Every path names a property INSIDE a top-level object
 * (`<object>.<property>…`): flatLineLogger below relies on that, and the module refuses to load
 * if a one-segment path is ever added.
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["x-dimelo-secret"]',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.apiKey',
  '*.token',
  '*.secret',
];
for (const path of REDACT_PATHS) {
  if (!reachesIntoObject(path)) throw new Error(`redact path "${path}" must reach into a top-level object`);
}

/** True for `a.b…`, `*.b`, `a["b"]…`: a path that can only match inside a top-level object. */
export function reachesIntoObject(path: string): boolean {
  return /^(?:\*|[A-Za-z_$][\w$]*)(?:\.[^.[\]]|\[)/.test(path);
}

/**
 * Structured logs (pino). Known secret-bearing fields are redacted by path, and as a second
 * line of defence every configured secret value is replaced wherever it appears in a line.
 */
export function createLogger(options: { level: string; secrets: readonly string[]; destination?: DestinationStream }): Logger {
  const secrets = options.secrets.filter((s) => s.length >= 8);
  const scrub = (line: string): string => {
    let out = line;
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    return out;
  };
  const destination: DestinationStream = options.destination ?? pino.destination({ sync: false });
  const scrubbing: DestinationStream = { write: (line: string) => destination.write(scrub(line)) };
  return pino(
    {
      level: options.level,
      base: { service: 'rce-relay' },
      redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
      timestamp: isoTimeField(),
    },
    scrubbing,
  );
}

/**
 * pino's `stdTimeFunctions.isoTime` (`,"time":"2026-12-03T17:26:01.123Z"`, the same text), with the
 * part up to the seconds formatted once per second: `toISOString()` on every line cost more than
 * the rest of the timestamp.
 */
export function isoTimeField(clock: () => number = Date.now): () => string {
  let second = Number.NaN;
  let head = '';
  return () => {
    const now = clock();
    const s = Math.floor(now / 1000);
    if (s !== second) {
      second = s;
      // "…T17:26:01.000Z" → "…T17:26:01." (also for extended years, "+275760-…").
      head = `,"time":"${new Date(s * 1000).toISOString().slice(0, -4)}`;
    }
    const ms = now - s * 1000;
    return `${head}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
  };
}

/** A line's fields when each is a primitive: nothing inside them for a redaction path to reach. */
export type FlatLogFields = Readonly<Record<string, string | number | boolean | null>>;

export type FlatLineLog = (level: 'info' | 'warn', fields: FlatLogFields, msg: string) => void;

/**
 * The logger of a hot path's one line per request (the agent reply), without pino's redaction
 * pass. That pass visits every field of every line (≈ 10 µs per line here), yet it can never change
 * a flat line: every redaction path reaches into a top-level object (checked when this module
 * loads), and the type admits only primitive fields. The line goes to the same stream, so the
 * second defence — replacing every configured secret value — still runs on it. The parent's level
 * decides (the child itself admits everything), so a level set on the parent later still holds.
 */
export function flatLineLogger(logger: Logger): FlatLineLog {
  const unredacted = logger.child({}, { redact: [], level: 'trace' });
  return (level, fields, msg) => {
    if (logger.isLevelEnabled(level)) unredacted[level](fields, msg);
  };
}
