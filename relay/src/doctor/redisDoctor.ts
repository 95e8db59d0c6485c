import type { Store } from '../store/types';
import { RedisStore } from '../store/redisStore';
import type { DoctorLine } from './doctorLine';

/**
 * Warns when a Redis store can lose or refuse data: without the append-only file a restart wipes
 * every conversation written since the last RDB snapshot, or all of them without snapshots (and
 * later agent replies get a fatal answer Engage never retries); with an eviction policy other
 * than noeviction Redis may drop conversations or queued jobs under memory pressure. Managed Redis
 * services often refuse CONFIG: then doctor says it cannot check, not that the setting is wrong.
 * Nothing for SQLite.
 */
export async function redisDoctorLines(store: Store): Promise<DoctorLine[]> {
  if (!(store instanceof RedisStore)) return [];
  const lines: DoctorLine[] = [];
  for (const s of await store.serverSettings()) {
    if (s.appendonly === null || s.maxmemoryPolicy === null) {
      lines.push({
        ok: true,
        advisory: true,
        check: `Redis ${s.node} settings`,
        detail:
          'cannot check: CONFIG GET is refused (as managed Redis services do); make sure the service keeps an append-only file (appendonly yes) and uses maxmemory-policy noeviction',
      });
      continue;
    }
    const snapshots = s.save === null ? 'RDB snapshots unknown' : s.save.trim() === '' ? 'no RDB snapshots' : `RDB snapshots "${s.save}"`;
    let persistence: DoctorLine;
    if (s.appendonly === 'yes') persistence = { ok: true, check: `Redis ${s.node} persistence`, detail: `appendonly yes (${snapshots})` };
    else if (s.save !== null && s.save.trim() === '')
      persistence = {
        ok: false,
        check: `Redis ${s.node} persistence`,
        detail:
          'appendonly is no and save is empty: Redis keeps nothing on disk, a restart loses every conversation and queued reply; set appendonly yes',
      };
    else
      persistence = {
        ok: false,
        check: `Redis ${s.node} persistence`,
        detail: `appendonly is no (${snapshots} only): a Redis restart loses every conversation and queued reply written since the last snapshot; set appendonly yes`,
      };
    lines.push(
      persistence,
      s.maxmemoryPolicy === 'noeviction'
        ? { ok: true, check: `Redis ${s.node} eviction`, detail: 'maxmemory-policy noeviction' }
        : {
            ok: false,
            check: `Redis ${s.node} eviction`,
            detail: `maxmemory-policy is ${s.maxmemoryPolicy}: Redis may evict conversations and queued replies; set noeviction`,
          },
    );
  }
  return lines;
}
