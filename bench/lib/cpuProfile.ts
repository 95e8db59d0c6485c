import { readFileSync } from 'node:fs';

/** Summaries of a V8 .cpuprofile (from the inspector Profiler or `node --cpu-prof`). */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface FrameCost {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
  totalMs: number;
  totalPct: number;
}

export interface ProfileSummary {
  durationMs: number;
  /** Share of samples not idle. */
  busyPct: number;
  topSelf: FrameCost[];
  topTotal: FrameCost[];
  /** Self time grouped by package / area (node_modules package, relay/src/<dir>, node internals, GC). */
  byArea: { area: string; selfMs: number; selfPct: number }[];
}

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const rel = /\/(relay|bench|contract|sandbox|extension)\/(.*)$/.exec(url);
  if (rel) return `${rel[1]}/${rel[2]}`;
  return url.replace(/^file:\/\//, '');
}

function areaOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) {
    if (functionName === '(garbage collector)' || functionName === '(idle)' || functionName === '(program)') return functionName;
    return '(native)';
  }
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? 'node_modules');
  }
  const rel = /\/(relay\/src|contract|bench)\/([^/]+)/.exec(url);
  if (rel) return `${rel[1]}/${rel[2]}`;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return 'other';
}

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);

  // Self time per node from samples × time deltas (more exact than hitCount × mean interval).
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    const dt = deltas[i + 1] ?? deltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const durationUs = profile.endTime - profile.startTime;
  let idleUs = 0;
  for (const n of profile.nodes) if (n.callFrame.functionName === '(idle)') idleUs += selfUs.get(n.id) ?? 0;

  const key = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'}\u0000${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const areas = new Map<string, number>();

  // Inclusive time: walk the tree, counting a frame once per stack even when recursive.
  const root = profile.nodes[0];
  const inclusive = new Map<number, number>();
  const computeInclusive = (id: number): number => {
    const n = byId.get(id);
    if (!n) return 0;
    let sum = selfUs.get(id) ?? 0;
    for (const c of n.children ?? []) sum += computeInclusive(c);
    inclusive.set(id, sum);
    return sum;
  };
  if (root) computeInclusive(root.id);
  const walk = (id: number, onStack: Set<string>): void => {
    const n = byId.get(id);
    if (!n) return;
    const k = key(n);
    self.set(k, (self.get(k) ?? 0) + (selfUs.get(id) ?? 0));
    const area = areaOf(n);
    areas.set(area, (areas.get(area) ?? 0) + (selfUs.get(id) ?? 0));
    const first = !onStack.has(k);
    if (first) {
      total.set(k, (total.get(k) ?? 0) + (inclusive.get(id) ?? 0));
      onStack.add(k);
    }
    for (const c of n.children ?? []) walk(c, onStack);
    if (first) onStack.delete(k);
  };
  if (root) walk(root.id, new Set());

  const busyUs = Math.max(1, durationUs - idleUs);
  const toCost = (k: string): FrameCost => {
    const [name, where] = k.split('\u0000') as [string, string];
    const s = self.get(k) ?? 0;
    const t = total.get(k) ?? 0;
    return { name, where, selfMs: s / 1000, selfPct: (100 * s) / busyUs, totalMs: t / 1000, totalPct: (100 * t) / busyUs };
  };
  const skip = new Set(['(idle)', '(root)', '(program)']);
  const keys = [...self.keys()].filter((k) => !skip.has(k.split('\u0000')[0] ?? ''));
  return {
    durationMs: durationUs / 1000,
    busyPct: (100 * (durationUs - idleUs)) / Math.max(1, durationUs),
    topSelf: keys
      .sort((a, b) => (self.get(b) ?? 0) - (self.get(a) ?? 0))
      .slice(0, top)
      .map(toCost),
    topTotal: [...total.keys()]
      .filter((k) => !skip.has(k.split('\u0000')[0] ?? ''))
      .sort((a, b) => (total.get(b) ?? 0) - (total.get(a) ?? 0))
      .slice(0, top)
      .map(toCost),
    byArea: [...areas.entries()]
      .filter(([a]) => a !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, selfPct: (100 * us) / busyUs })),
  };
}

export function formatProfileSummary(s: ProfileSummary): string {
  const lines: string[] = [];
  lines.push(`profile: ${(s.durationMs / 1000).toFixed(1)} s, busy ${s.busyPct.toFixed(0)}%`);
  lines.push('self time by area:');
  for (const a of s.byArea.slice(0, 15)) lines.push(`  ${a.selfPct.toFixed(1).padStart(5)}%  ${a.area}`);
  lines.push('top frames by self time:');
  for (const f of s.topSelf) lines.push(`  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.name}  (${f.where})`);
  lines.push('top frames by total time:');
  for (const f of s.topTotal) lines.push(`  ${f.totalPct.toFixed(1).padStart(5)}%  ${f.name}  (${f.where})`);
  return lines.join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: tsx bench/lib/cpuProfile.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(formatProfileSummary(summarizeProfile(file, Number(process.argv[3] ?? 25))));
}
