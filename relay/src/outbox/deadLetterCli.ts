import type { Writable } from 'node:stream';
import { z } from 'zod';
import { openStore } from '../store/openStore';
import type { DeadLetter, Store } from '../store/types';

/**
 * `relay dead-letters list [limit] | show <job id> | retry <job id>` — the outbox jobs the relay gave
 * up on. Needs only STORE_URL (and OUTBOX_DEADLINE_MS for a retried job's new deadline).
 */
const argsSchema = z.union([
  z.tuple([z.literal('list')]).rest(z.string().regex(/^\d+$/, 'limit must be a number')),
  z.tuple([z.literal('show'), z.string().min(1)]),
  z.tuple([z.literal('retry'), z.string().min(1)]),
]);
export const DEAD_LETTERS_USAGE = 'Usage: relay dead-letters list [limit] | show <job id> | retry <job id>';
const LIST_CAP = 10_000;

function oneLine(d: DeadLetter): string {
  return `${new Date(d.failedAt).toISOString()}  ${d.job.id}  ${d.job.kind}  ${d.job.lane}  attempts=${d.job.attempts}  ${d.error.replace(/\s+/g, ' ').slice(0, 160)}`;
}

export async function runDeadLetterCommand(
  args: string[],
  opts: { storeUrl: string; outboxDeadlineMs: number; out: Writable; now?: () => number; store?: Store },
): Promise<number> {
  const parsed = argsSchema.safeParse(args);
  if (!parsed.success) {
    opts.out.write(`${DEAD_LETTERS_USAGE}\n`);
    return 2;
  }
  const store = opts.store ?? (await openStore(opts.storeUrl));
  try {
    const [command, arg] = parsed.data;
    if (command === 'list') {
      const letters = await store.listDeadLetters(arg === undefined ? 50 : Number(arg));
      for (const d of letters) opts.out.write(`${oneLine(d)}\n`);
      opts.out.write(`${letters.length} dead letter(s) shown, newest first.\n`);
      return 0;
    }
    const found = (await store.listDeadLetters(LIST_CAP)).find((d) => d.job.id === arg);
    if (!found) {
      opts.out.write(`No dead letter for job ${arg}.\n`);
      return 1;
    }
    if (command === 'show') {
      opts.out.write(
        `${JSON.stringify({ error: found.error, failedAt: new Date(found.failedAt).toISOString(), job: found.job }, null, 2)}\n`,
      );
      return 0;
    }
    const again = await store.retryDeadLetter(found.job.id, (opts.now ?? Date.now)() + opts.outboxDeadlineMs);
    if (!again) {
      opts.out.write(`Job ${arg} was retried already.\n`);
      return 1;
    }
    opts.out.write(`Job ${arg} queued again as ${again.id} at the end of lane ${again.lane}; a running relay delivers it.\n`);
    return 0;
  } finally {
    if (!opts.store) await store.close();
  }
}
