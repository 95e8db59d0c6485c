import type { Logger } from 'pino';
import type { ConversationStore } from './types';

export interface RetentionOptions {
  store: Pick<ConversationStore, 'purgeIdleConversations'>;
  logger: Logger;
  /** Conversations not written for this long are removed. */
  retentionMs: number;
  clock?: () => number;
  /** How often a purge round starts. Default one minute. */
  intervalMs?: number;
  /** Conversations per write; a round repeats batches (yielding in between) until one comes back short. */
  batchSize?: number;
}

/**
 * Purges idle conversations in small batches, so retention never becomes one long transaction
 * (SQLite) or one long script (Redis). Every relay may run it: batches are idempotent.
 */
export function startRetention(o: RetentionOptions): { runOnce(): Promise<number>; stop(): void } {
  const clock = o.clock ?? Date.now;
  const batch = o.batchSize ?? 500;
  let running: Promise<number> | null = null;
  const round = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      const n = await o.store.purgeIdleConversations(clock() - o.retentionMs, batch);
      total += n;
      if (n < batch) break;
      await new Promise((r) => setImmediate(r));
    }
    if (total > 0) o.logger.info({ purged: total, retentionMs: o.retentionMs }, 'retention: idle conversations removed');
    return total;
  };
  const runOnce = (): Promise<number> => {
    running ??= round().finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => {
    runOnce().catch((err: Error) => o.logger.warn({ err: { message: err.message } }, 'retention: purge failed; tried again next round'));
  }, o.intervalMs ?? 60_000);
  timer.unref();
  return { runOnce, stop: () => clearInterval(timer) };
}
