import { readFileSync } from 'node:fs';
import { stalledRequest, type RawOutcome } from './stalledUploads';

/**
 * `node --import tsx test/helpers/stalledUploadsMain.ts <plan.json>`: opens every planned stalled
 * upload (100 at a time, 50 ms apart), waits for all, prints the outcomes as one JSON line.
 */
interface Plan {
  port: number;
  giveUpMs: number;
  uploads: { head: string; bodyBytes: number }[];
}

async function main(): Promise<void> {
  const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as Plan;
  const pending: Promise<RawOutcome>[] = [];
  for (const [i, upload] of plan.uploads.entries()) {
    pending.push(stalledRequest(plan.port, upload.head, upload.bodyBytes, plan.giveUpMs));
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 50));
  }
  process.stdout.write(`${JSON.stringify(await Promise.all(pending))}\n`);
}

void main();
