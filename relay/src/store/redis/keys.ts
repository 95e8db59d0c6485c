/*
 * Key layout. The store is split into SHARDS fixed partitions; every key of a shard carries the
 * hash tag {<shard>}, so a shard lives in one Redis Cluster slot and each script touches one slot.
 * A conversation, its lanes, jobs and leases, and the dedup keys its writes carry, all live in the
 * conversation's shard. S = P{<shard>}: (P = the store's key prefix, e.g. `rce:`).
 *   S conv:<tenant>:<thread>   HASH   v = version, ek = Engage index field ('' if none), d = JSON
 *   S engage                   HASH   <tenant>:<engageId> -> conv key (checked against the conv's ek on read)
 *   S dedup:<key>              STRING expiry (epoch ms, store clock); PX = ttl reclaims memory
 *   S seq                      STRING job sequence counter of the shard (orders jobs within a lane)
 *   S job:<id>                 HASH   d = immutable job JSON, s = seq, a = attempts, n = nextAttemptAt, e = lastError JSON
 *   S lane:<lane>              ZSET   job ids scored by seq (head = lowest)
 *   S lanes                    ZSET   the shard's non-empty lanes scored by when they can next be claimed:
 *                                     head's nextAttemptAt, or lease expiry while leased
 *   S lease:<lane>             HASH   o = owner, j = job id (absent = not leased)
 *   S pending                  STRING number of jobs in the shard's lanes
 *   S dead                     LIST   the shard's dead letters, newest first, capped
 *   S idle                     ZSET   conversation keys scored by last write (retention)
 *   S hist:<tenant>:<thread>   LIST   the conversation's timeline (JSON entries, oldest first, capped)
 * Changing SHARDS moves keys: it needs a migration, so it is a constant, not a setting.
 */
export const SHARDS = 16;

const enc = (a: string, b: string): string => `${encodeURIComponent(a)}:${encodeURIComponent(b)}`;

/** FNV-1a over UTF-16 code units: stable, cheap, spreads short ids well. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function shardOf(group: string): number {
  return hash32(group) % SHARDS;
}

export class KeySpace {
  /** Built once: every key of a call starts with one of these. */
  private readonly shards: readonly string[];

  constructor(private readonly prefix: string) {
    this.shards = Array.from({ length: SHARDS }, (_, i) => `${prefix}{${i}}:`);
  }

  /** The prefix of every key of a shard (ends with ':'). */
  shard(i: number): string {
    return this.shards[i] ?? `${this.prefix}{${i}}:`;
  }

  conv(shard: number, tenantId: string, threadId: string): string {
    return `${this.shard(shard)}conv:${enc(tenantId, threadId)}`;
  }

  /** Same suffix as `conv`: the purge script derives one from the other. */
  hist(shard: number, tenantId: string, threadId: string): string {
    return `${this.shard(shard)}hist:${enc(tenantId, threadId)}`;
  }

  /** SCAN pattern of every conversation key of every shard (the prefix's glob characters escaped). */
  convPattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}{*}:conv:*`;
  }

  engageField(tenantId: string, engageThreadId: string): string {
    return enc(tenantId, engageThreadId);
  }

  engageIndex(shard: number): string {
    return `${this.shard(shard)}engage`;
  }

  dedup(shard: number, key: string): string {
    return `${this.shard(shard)}dedup:${key}`;
  }

  job(shard: number, id: string): string {
    return `${this.shard(shard)}job:${id}`;
  }

  lane(shard: number, lane: string): string {
    return `${this.shard(shard)}lane:${lane}`;
  }

  lease(shard: number, lane: string): string {
    return `${this.shard(shard)}lease:${lane}`;
  }

  seq(shard: number): string {
    return `${this.shard(shard)}seq`;
  }

  lanes(shard: number): string {
    return `${this.shard(shard)}lanes`;
  }

  pending(shard: number): string {
    return `${this.shard(shard)}pending`;
  }

  dead(shard: number): string {
    return `${this.shard(shard)}dead`;
  }

  idle(shard: number): string {
    return `${this.shard(shard)}idle`;
  }
}
