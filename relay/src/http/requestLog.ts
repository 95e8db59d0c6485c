import type { Logger } from 'pino';

export interface RequestLogLine {
  method: string;
  /** The path only: queries may carry signatures or verify tokens. */
  path: string;
  status: number;
  ms: number;
  reason?: string;
}

/** One line per request: debug for successes, warn for rejections, error for failures. */
export function logRequest(logger: Logger, line: RequestLogLine): void {
  const entry = { ...line, ms: Math.round(line.ms * 10) / 10 };
  if (line.status >= 500) logger.error(entry, 'request failed');
  else if (line.status >= 400) logger.warn(entry, 'request rejected');
  else if (logger.isLevelEnabled('debug')) logger.debug(entry, 'request');
}

/** Milliseconds since `started` (from `process.hrtime.bigint()`). */
export function elapsedMs(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}
