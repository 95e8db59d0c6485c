import { readFileSync } from 'node:fs';

/**
 * Self time of a V8 .cpuprofile by *category of work*, the way issue 20's table counts it: a native
 * frame (SQLite's `run`, a socket `writev`, an HMAC `digest`) is charged to what called it. For each
 * sample the stack is walked from the leaf up and the first frame a rule recognises decides.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

type Rule = { category: string; leafOnly?: boolean; test: (frame: ProfileNode['callFrame']) => boolean };

const url = (pattern: RegExp) => (f: ProfileNode['callFrame']) => pattern.test(f.url);

/** In order: leaf-only rules first (what the leaf itself is), then the nearest recognised ancestor. */
const RULES: Rule[] = [
  { category: 'GC', leafOnly: true, test: (f) => f.functionName === '(garbage collector)' },
  { category: '(program)', leafOnly: true, test: (f) => f.functionName === '(program)' },
  { category: 'JSON', leafOnly: true, test: (f) => !f.url && (f.functionName === 'parse' || f.functionName === 'stringify') },
  { category: 'HMAC (verify, sign)', leafOnly: false, test: url(/node:internal\/crypto|sdkSignature|secretCompare/) },
  { category: 'zod', test: url(/node_modules\/zod\//) },
  { category: 'log (pino)', test: url(/node_modules\/(pino|sonic-boom|thread-stream)\//) },
  { category: 'store (SQLite / Redis)', test: url(/node_modules\/(better-sqlite3|ioredis|redis-parser)\/|relay\/src\/store\//) },
  {
    category: 'HTTP out (notify, read receipt)',
    test: url(/relay\/src\/http\/outboundHttp|node:_http_client|node:_http_agent|node_modules\/undici\//),
  },
  { category: 'HTTP in (server, endpoint)', test: url(/node:_http_server|node:_http_incoming|relay\/src\/http\//) },
  { category: 'engine, handler, outbox (relay JS)', test: url(/relay\/src\/(handover|engage|outbox|cognigy|metrics)\//) },
  { category: 'bench child harness', test: url(/bench\//) },
];

export interface CategoryCost {
  category: string;
  selfMs: number;
  share: number;
}

export function profileByCategory(file: string): { busyMs: number; categories: CategoryCost[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const parent = new Map<number, ProfileNode>();
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n);
  }
  const categoryOf = new Map<number, string>();
  const classify = (leaf: ProfileNode): string => {
    const cached = categoryOf.get(leaf.id);
    if (cached) return cached;
    let found: string | null = null;
    for (const rule of RULES) if (rule.leafOnly && rule.test(leaf.callFrame)) found = found ?? rule.category;
    for (let n: ProfileNode | undefined = leaf; n && !found; n = parent.get(n.id)) {
      for (const rule of RULES) {
        if (!rule.leafOnly && rule.test(n.callFrame)) {
          found = rule.category;
          break;
        }
      }
    }
    const category = found ?? 'other (node internals, promises, timers)';
    categoryOf.set(leaf.id, category);
    return category;
  };
  const totals = new Map<string, number>();
  let busyUs = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i] as number);
    if (!node || node.callFrame.functionName === '(idle)' || node.callFrame.functionName === '(root)') continue;
    const dt = Math.max(0, deltas[i + 1] ?? deltas[i] ?? 0);
    busyUs += dt;
    const c = classify(node);
    totals.set(c, (totals.get(c) ?? 0) + dt);
  }
  const categories = [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([category, us]) => ({ category, selfMs: us / 1000, share: us / Math.max(1, busyUs) }));
  return { busyMs: busyUs / 1000, categories };
}

/** `npx tsx bench/lib/profileCategories.ts <file.cpuprofile> <replies>`: µs per reply by category. */
if (require.main === module) {
  const [file, replies] = process.argv.slice(2);
  if (!file || !replies) {
    console.error('usage: profileCategories.ts <file.cpuprofile> <replies during the profile>');
    process.exit(2);
  }
  const { busyMs, categories } = profileByCategory(file);
  const n = Number(replies);
  console.log(`busy ${busyMs.toFixed(0)} ms over ${n} replies: ${((busyMs * 1000) / n).toFixed(0)} µs per reply`);
  for (const c of categories)
    console.log(`${((c.selfMs * 1000) / n).toFixed(0).padStart(6)} µs  ${(100 * c.share).toFixed(1).padStart(5)}%  ${c.category}`);
}
