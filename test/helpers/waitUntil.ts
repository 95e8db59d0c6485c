/** What a wait is for: a fixed phrase, or a function that describes what was seen instead (called only on failure). */
export type WaitingFor = string | (() => string | Promise<string>);

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between polls (default 20 ms). */
  intervalMs?: number;
  /** Runs between polls, e.g. to advance a fake clock. */
  step?: () => void;
}

/** The one polling helper of the test suite: polls `predicate` until it holds, or fails naming what it waited for. */
export async function waitUntil(what: WaitingFor, predicate: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > until) {
      const description = typeof what === 'string' ? what : await what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${description}`);
    }
    options.step?.();
    await sleep(options.intervalMs ?? 20);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
