import type { Logger } from 'pino';

export interface RequestLogLine {
  method: string;
  /** The path only: queries may carry signatures or verify tokens. */
  path: string;
  status: number;
  ms: number;
  reason?: string;
}

/** Longest path / reason / method written to a log line (a request line may be 16 KB). */
export const MAX_LOGGED_PATH = 200;
export const MAX_LOGGED_REASON = 200;
/** Rejections logged per (status, reason) in each window; the rest are counted and summarised. */
export const REJECTIONS_LOGGED_PER_KEY = 5;
const WINDOW_MS = 10_000;
const MAX_KEYS = 200;
const OTHER_KEY = '(other rejections)';

export interface RequestLog {
  (line: RequestLogLine): void;
  /** False when a line of this status would not be written (a success below `debug`): skip building it. */
  writes(status: number): boolean;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

/**
 * One line per request: debug for successes, warn for rejections, error for failures. What a
 * client controls is clipped, and repeated rejections are sampled: the first few of each
 * (status, reason) per 10 s window are logged, the rest counted into one summary line per window,
 * so a flood of 404s or bad signatures writes kilobytes, not gigabytes.
 */
export function createRequestLog(logger: Logger, clock: () => number = Date.now): RequestLog {
  let windowStart = clock();
  let seen = new Map<string, { status: number; reason: string; count: number }>();
  let summaryTimer: NodeJS.Timeout | null = null;

  const flush = () => {
    if (summaryTimer) clearTimeout(summaryTimer);
    summaryTimer = null;
    const suppressed = [...seen.values()]
      .filter((s) => s.count > REJECTIONS_LOGGED_PER_KEY)
      .map((s) => ({ status: s.status, reason: s.reason, suppressed: s.count - REJECTIONS_LOGGED_PER_KEY }));
    if (suppressed.length > 0) logger.warn({ windowMs: WINDOW_MS, rejections: suppressed }, 'repeated rejections suppressed');
    seen = new Map();
    windowStart = clock();
  };

  const admitRejection = (status: number, reason: string): boolean => {
    if (clock() - windowStart >= WINDOW_MS) flush();
    let key = `${status} ${reason.slice(0, 80)}`;
    if (!seen.has(key) && seen.size >= MAX_KEYS) key = OTHER_KEY;
    const entry = seen.get(key) ?? { status, reason: key === OTHER_KEY ? OTHER_KEY : reason.slice(0, 80), count: 0 };
    entry.count++;
    seen.set(key, entry);
    if (entry.count === REJECTIONS_LOGGED_PER_KEY + 1 && !summaryTimer) {
      // Something is being suppressed: make sure the summary is written even if the flood stops.
      summaryTimer = setTimeout(flush, Math.max(0, windowStart + WINDOW_MS - clock()));
      summaryTimer.unref();
    }
    return entry.count <= REJECTIONS_LOGGED_PER_KEY;
  };

  const writes = (status: number): boolean => status >= 400 || logger.isLevelEnabled('debug');
  const log = (line: RequestLogLine): void => {
    if (!writes(line.status)) return;
    const entry = {
      method: clip(line.method, 16),
      path: clip(line.path, MAX_LOGGED_PATH),
      status: line.status,
      ms: Math.round(line.ms * 10) / 10,
      ...(line.reason !== undefined ? { reason: clip(line.reason, MAX_LOGGED_REASON) } : {}),
    };
    if (line.status >= 500) {
      if (admitRejection(line.status, line.reason ?? '')) logger.error(entry, 'request failed');
    } else if (line.status >= 400) {
      if (admitRejection(line.status, line.reason ?? '')) logger.warn(entry, 'request rejected');
    } else logger.debug(entry, 'request');
  };
  return Object.assign(log, { writes });
}

/** Milliseconds since `started` (from `process.hrtime.bigint()`). */
export function elapsedMs(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}
