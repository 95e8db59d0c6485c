import type { Store } from '../store/types';
import { RedisStore } from '../store/redisStore';

export interface RedisDoctorLine {
  ok: boolean;
  check: string;
  detail: string;
}

/**
 * Warns when a Redis store can lose or refuse data: without the append-only file a restart wipes
 * every conversation (and later agent replies get a fatal answer Engage never retries); with an
 * eviction policy other than noeviction Redis may drop conversations or queued jobs under memory
 * pressure. Nothing for SQLite.
 */
export async function redisDoctorLines(store: Store): Promise<RedisDoctorLine[]> {
  if (!(store instanceof RedisStore)) return [];
  const lines: RedisDoctorLine[] = [];
  for (const s of await store.serverSettings()) {
    if (s.appendonly === null || s.maxmemoryPolicy === null) {
      lines.push({ ok: false, check: `Redis ${s.node} settings`, detail: 'CONFIG GET refused: check by hand that appendonly is yes and maxmemory-policy is noeviction' });
      continue;
    }
    lines.push(
      s.appendonly === 'yes'
        ? { ok: true, check: `Redis ${s.node} persistence`, detail: 'appendonly yes' }
        : { ok: false, check: `Redis ${s.node} persistence`, detail: 'appendonly is no: a Redis restart loses every conversation and queued reply; set appendonly yes' },
      s.maxmemoryPolicy === 'noeviction'
        ? { ok: true, check: `Redis ${s.node} eviction`, detail: 'maxmemory-policy noeviction' }
        : { ok: false, check: `Redis ${s.node} eviction`, detail: `maxmemory-policy is ${s.maxmemoryPolicy}: Redis may evict conversations and queued replies; set noeviction` },
    );
  }
  return lines;
}
