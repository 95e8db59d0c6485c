import { randomUUID } from 'node:crypto';
import { Cluster, type Redis, type Result } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { assertWritable, connectRedis, type RedisClient } from './redis/connect';
import { KeySpace, SHARDS, shardOf } from './redis/keys';
import { parseRedisUrl, redactUrl } from './redis/redisUrl';
import { ParsedConversations } from './parsedConversations';
import { loadAllScripts } from './redis/scripts';
import { TurnWrites } from './redis/turnWrites';
import {
  assembleJob,
  conversationLanes,
  attemptEntry,
  DEFAULT_HISTORY_CAP,
  historyEntrySchema,
  historyOwner,
  type JobData,
  jobDataSchema,
  laneGroup,
  mutationGroup,
  nextVersion,
  outboxJobSchema,
  parseConversation,
  validateMutation,
  timelineOfWrite,
} from './schemas';
import type {
  ApplyResult,
  ClaimOptions,
  CompleteResult,
  Conversation,
  DeadLetter,
  HistoryEntry,
  LeaseRequest,
  Mutation,
  OutboxJob,
  OutboxStats,
  Store,
} from './types';

export { redactUrl };

type ScriptArg = string | number;

// Every command takes its key count first (ioredis: defineCommand without numberOfKeys).
declare module 'ioredis' {
  interface RedisCommander<Context> {
    rceApply(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
    rceClaim(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
    rceComplete(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
    rceRetry(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
    rceDeadLetter(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
    rceFindByEngage(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
    rceRenew(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
    rceReleaseOwner(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
    rceRequeueDead(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
    rcePurgeIdle(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
    rceTakeBudget(numKeys: number, ...args: ScriptArg[]): Result<unknown, Context>;
  }
}

const COMMAND_NAMES = {
  apply: 'rceApply',
  claim: 'rceClaim',
  complete: 'rceComplete',
  retry: 'rceRetry',
  deadLetter: 'rceDeadLetter',
  findByEngage: 'rceFindByEngage',
  renew: 'rceRenew',
  releaseOwner: 'rceReleaseOwner',
  requeueDead: 'rceRequeueDead',
  purgeIdle: 'rcePurgeIdle',
  takeBudget: 'rceTakeBudget',
} as const;

const applyReplySchema = z.union([
  z.enum(['duplicate', 'conflict']),
  z.tuple([z.literal('applied')], z.union([z.string(), z.number().int()])),
]);
const flagSchema = z.union([z.literal(0), z.literal(1)]);

const nullableStringSchema = z.string().nullable();
// Hash fields come back as strings; numbers must survive the round trip exactly (NaN/Infinity fail).
const numString = z.string().transform(Number).pipe(z.number());
/** The fields a script reads with HMGET d, s, a, n, e. */
const claimedFieldsSchema = z.tuple([z.string(), numString, numString, numString, z.string()]);
const claimedSchema = z.array(claimedFieldsSchema);
const completeReplySchema = z.union([z.tuple([flagSchema]), z.tuple([z.literal(1), numString]), z.tuple([z.literal(1)]).rest(z.string())]);
type ApplyReply = z.infer<typeof applyReplySchema>;
type CompleteReply = z.infer<typeof completeReplySchema>;

/** The common replies of the hot path checked by hand, all others by zod: ['applied'] or ['applied', id, seq]. */
function parseApplyReply(raw: unknown): ApplyReply {
  if (Array.isArray(raw) && raw[0] === 'applied') {
    if (raw.length === 1) return ['applied'];
    if (raw.length === 3 && typeof raw[1] === 'string' && Number.isSafeInteger(raw[2])) return ['applied', raw[1], raw[2] as number];
  }
  return applyReplySchema.parse(raw);
}

/** {0} or {1} by hand (the lane's last job), the rest by zod. */
function parseCompleteReply(raw: unknown): CompleteReply {
  if (Array.isArray(raw) && raw.length === 1 && (raw[0] === 0 || raw[0] === 1)) return [raw[0] === 1 ? 1 : 0];
  return completeReplySchema.parse(raw);
}

const deadEntrySchema = z.object({
  d: jobDataSchema,
  s: z.number().int(),
  a: z.number().int(),
  n: z.number(),
  e: z.string().nullable(),
  error: z.string(),
  failedAt: z.number(),
});

function parseDeadEntry(text: string): DeadLetter {
  const x = deadEntrySchema.parse(JSON.parse(text));
  const job = outboxJobSchema.parse(assembleJob(x.d, { seq: x.s, attempts: x.a, nextAttemptAt: x.n, lastError: x.e }));
  return { job, error: x.error, failedAt: x.failedAt };
}

/** A job from the fields a script read with HMGET d, s, a, n, e. */
function jobFromFields([d, seq, attempts, nextAttemptAt, e]: z.infer<typeof claimedFieldsSchema>): OutboxJob {
  return assembleJob(jobDataSchema.parse(JSON.parse(d)), {
    seq,
    attempts,
    nextAttemptAt,
    lastError: nullableStringSchema.parse(JSON.parse(e)),
  });
}

export interface RedisStoreOptions {
  /** Namespaces every key, so several relays (or test files) can share one Redis. Default `rce:`. */
  keyPrefix?: string;
  clock?: () => number;
  logger?: Logger;
  /** A command that gets no answer within this time fails (a hung Redis must not hang requests). */
  commandTimeoutMs?: number;
  /** Reconnect backoff doubles from 50 ms up to this cap. */
  maxReconnectDelayMs?: number;
  /** Dead letters kept in all (oldest dropped first). Default 10,000. */
  deadLetterCap?: number;
  /** Timeline entries kept per conversation (oldest dropped). Default DEFAULT_HISTORY_CAP. */
  historyCap?: number;
  /**
   * Commands issued within one event-loop turn leave in one socket write (redis/turnWrites.ts;
   * single node and Sentinel). Default true; false is for measuring what it saves.
   */
  batchWrites?: boolean;
}

const shardList = Array.from({ length: SHARDS }, (_, i) => i);

/**
 * The store on Redis: a single server, a Sentinel-managed primary or a Cluster (see redis/keys.ts
 * for the layout that keeps every script within one hash slot).
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly keys: KeySpace;
  private readonly clock: () => number;
  private readonly deadCapPerShard: number;
  private readonly historyCap: number;
  /** Where the next claim starts, so no shard is always served last. */
  private nextClaimShard = 0;
  private readonly turn: TurnWrites | null;
  private readonly parsed = new ParsedConversations();

  /** Connects (any STORE_URL Redis form) and waits until Redis answers; rejects if the first connection fails. */
  static async connect(url: string, opts: RedisStoreOptions = {}): Promise<RedisStore> {
    const prefix = opts.keyPrefix ?? 'rce:';
    if (/[{}]/.test(prefix)) throw new Error('Redis store: keyPrefix must not contain { or } (they would change the hash slots)');
    const client = await connectRedis(parseRedisUrl(url), url, {
      logger: opts.logger,
      commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
      maxReconnectDelayMs: opts.maxReconnectDelayMs ?? 1000,
    });
    for (const [name, lua] of Object.entries(loadAllScripts()))
      client.defineCommand(COMMAND_NAMES[name as keyof typeof COMMAND_NAMES], { lua });
    return new RedisStore(client, { ...opts, keyPrefix: prefix });
  }

  private constructor(
    private readonly redis: RedisClient,
    opts: RedisStoreOptions,
  ) {
    this.keys = new KeySpace(opts.keyPrefix ?? 'rce:');
    this.turn = opts.batchWrites === false || redis instanceof Cluster ? null : new TurnWrites(redis);
    this.clock = opts.clock ?? Date.now;
    this.deadCapPerShard = Math.max(1, Math.ceil((opts.deadLetterCap ?? 10_000) / SHARDS));
    this.historyCap = Math.max(1, opts.historyCap ?? DEFAULT_HISTORY_CAP);
  }

  /** The client, for a command: the first command of a turn holds the turn's writes (see TurnWrites). */
  private get io(): RedisClient {
    this.turn?.hold();
    return this.redis;
  }

  private shardOfConversation(tenantId: string, threadId: string): number {
    return shardOf(`${tenantId}/${threadId}`);
  }

  async getConversation(tenantId: string, threadId: string): Promise<Conversation | null> {
    const key = this.keys.conv(this.shardOfConversation(tenantId, threadId), tenantId, threadId);
    const data = await this.io.hget(key, 'd');
    return data === null ? null : this.parsed.parse(key, data, parseConversation);
  }

  /** The index entry lives in the conversation's shard, which the Engage id alone does not name: ask every shard. */
  async findConversationByEngageThread(tenantId: string, engageThreadId: string): Promise<Conversation | null> {
    const field = this.keys.engageField(tenantId, engageThreadId);
    const found = await Promise.all(
      shardList.map(async (s) => nullableStringSchema.parse(await this.io.rceFindByEngage(1, this.keys.engageIndex(s), field))),
    );
    const data = found.find((d) => d !== null);
    return data === undefined || data === null ? null : parseConversation(data);
  }

  async apply(m: Mutation, lease?: LeaseRequest): Promise<ApplyResult> {
    return this.applyWith(m, lease ?? null);
  }

  /** The shard a mutation writes: its conversation's, or the dedup key's own for a lone dedup key. */
  private shardOfMutation(m: Mutation): number {
    return shardOf(mutationGroup(m) ?? `dedup/${m.dedup?.key ?? ''}`);
  }

  private async applyWith(m: Mutation, lease: LeaseRequest | null): Promise<ApplyResult> {
    validateMutation(m);
    const now = this.clock();
    const k = this.keys;
    const s = this.shardOfMutation(m);
    const conv = m.conversation?.value;
    const keys: string[] = [
      k.dedup(s, m.dedup?.key ?? ''),
      conv ? k.conv(s, conv.tenantId, conv.threadId) : k.conv(s, '', ''),
      k.engageIndex(s),
      k.seq(s),
      k.lanes(s),
      k.pending(s),
      k.idle(s),
    ];
    const owner = m.history ? historyOwner(m) : null;
    // A key of the shard even when nothing is recorded (every key of a script must be in its slot).
    keys.push(owner ? k.hist(s, owner.tenantId, owner.threadId) : k.hist(s, '', ''));
    const args: ScriptArg[] = [now];
    if (m.dedup) args.push('1', now + m.dedup.ttlMs, Math.ceil(m.dedup.ttlMs));
    else args.push('0', '', '');
    if (m.conversation && conv) {
      const stored: Conversation = { ...conv, version: nextVersion(m.conversation.expectedVersion) };
      args.push(
        '1',
        m.conversation.expectedVersion === null ? '' : String(m.conversation.expectedVersion),
        String(stored.version),
        conv.engageThreadId === null ? '' : k.engageField(conv.tenantId, conv.engageThreadId),
        JSON.stringify(stored),
      );
    } else {
      args.push('0', '', '', '', '');
    }
    const jobs = m.jobs ?? [];
    const jobIds = jobs.map(() => randomUUID());
    const timeline = timelineOfWrite(m, now, jobIds);
    const entry = timeline.entry ? JSON.stringify(timeline.entry.value) : '';
    args.push(lease ? lease.owner : '', lease ? now + lease.leaseMs : '', entry, this.historyCap, jobs.length);
    /** The JSON of each job a lease may be granted for, by id. */
    const built = new Map<string, string>();
    for (const [i, job] of jobs.entries()) {
      const note = timeline.notes[i];
      const data = {
        id: jobIds[i] ?? randomUUID(),
        tenantId: job.tenantId,
        threadId: job.threadId,
        lane: job.lane,
        kind: job.kind,
        payload: job.payload,
        deadlineAt: job.deadlineAt,
        ...(job.notBefore === undefined ? {} : { notBefore: job.notBefore }),
        createdAt: now,
        ...(note ? { note } : {}),
      };
      const json = JSON.stringify(data);
      if (lease) built.set(data.id, json);
      keys.push(k.job(s, data.id), k.lane(s, job.lane), k.lease(s, job.lane));
      args.push(data.id, job.lane, json, job.notBefore ?? now);
    }
    const reply = parseApplyReply(await this.io.rceApply(keys.length, ...keys, ...args));
    if (typeof reply === 'string') return { outcome: reply, leased: [] };
    const leased: OutboxJob[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const json = built.get(String(reply[i]));
      if (json === undefined) throw new Error('Redis store: apply leased a job it was not given');
      // The job as a claim would read it back: its stored JSON (which drops undefined fields), parsed.
      const data = JSON.parse(json) as JobData;
      leased.push(assembleJob(data, { seq: Number(reply[i + 1]), attempts: 0, nextAttemptAt: data.notBefore ?? now, lastError: null }));
    }
    return { outcome: 'applied', leased };
  }

  async hasDedupKey(dedupKey: string, scope?: { tenantId: string; threadId: string }): Promise<boolean> {
    const s = shardOf(scope ? `${scope.tenantId}/${scope.threadId}` : `dedup/${dedupKey}`);
    const exp = await this.io.get(this.keys.dedup(s, dedupKey));
    return exp !== null && Number(exp) > this.clock();
  }

  /** Claims shard by shard (each claim is one script on one slot), starting where the last claim left off. */
  async claimDueJobs(o: ClaimOptions): Promise<OutboxJob[]> {
    if (o.limit <= 0) return [];
    const out: OutboxJob[] = [];
    const start = this.nextClaimShard;
    this.nextClaimShard = (start + 1) % SHARDS;
    for (let i = 0; i < SHARDS && out.length < o.limit; i++) {
      const s = (start + i) % SHARDS;
      const raw = await this.io.rceClaim(
        1,
        this.keys.lanes(s),
        this.keys.shard(s),
        o.now,
        o.limit - out.length,
        o.owner,
        o.now + o.leaseMs,
      );
      for (const fields of claimedSchema.parse(raw)) out.push(jobFromFields(fields));
    }
    return out;
  }

  private laneKeys(job: OutboxJob): { s: number; lease: string; job: string; lane: string; lanes: string; pending: string; hist: string } {
    const s = shardOf(laneGroup(job.lane));
    const k = this.keys;
    const hist = k.hist(s, job.tenantId, job.threadId);
    return {
      s,
      lease: k.lease(s, job.lane),
      job: k.job(s, job.id),
      lane: k.lane(s, job.lane),
      lanes: k.lanes(s),
      pending: k.pending(s),
      hist,
    };
  }

  async complete(job: OutboxJob, owner: string, leaseNext?: { leaseMs: number }): Promise<CompleteResult> {
    const now = this.clock();
    const leaseMs = leaseNext ? leaseNext.leaseMs : null;
    const x = this.laneKeys(job);
    // A job on a lane of no conversation (written before jobs carried their thread) records no timeline.
    const entry = job.threadId === '' ? '' : JSON.stringify(attemptEntry.delivered(job, now));
    const raw = await this.io.rceComplete(
      6,
      x.lease,
      x.job,
      x.lane,
      x.lanes,
      x.pending,
      x.hist,
      this.keys.shard(x.s),
      job.lane,
      job.id,
      owner,
      leaseMs === null ? '' : now,
      leaseMs === null ? '' : now + leaseMs,
      entry,
      this.historyCap,
    );
    const reply = parseCompleteReply(raw);
    if (reply[0] === 0) return { completed: false, next: null, nextDueAt: null };
    const rest = reply.slice(1);
    if (rest.length === 0) return { completed: true, next: null, nextDueAt: null };
    if (rest.length === 1) return { completed: true, next: null, nextDueAt: Number(rest[0]) };
    return { completed: true, next: jobFromFields(claimedFieldsSchema.parse(rest)), nextDueAt: null };
  }

  async retryJob(job: OutboxJob, owner: string, next: { nextAttemptAt: number; error: string }): Promise<boolean> {
    const x = this.laneKeys(job);
    const entry = job.threadId === '' ? '' : JSON.stringify(attemptEntry.retry(job, this.clock(), next.error, next.nextAttemptAt));
    const r = await this.io.rceRetry(
      4,
      x.lease,
      x.job,
      x.lanes,
      x.hist,
      job.lane,
      job.id,
      owner,
      next.nextAttemptAt,
      JSON.stringify(next.error),
      entry,
      this.historyCap,
    );
    return flagSchema.parse(r) === 1;
  }

  async deadLetterJob(job: OutboxJob, owner: string, error: string): Promise<boolean> {
    const x = this.laneKeys(job);
    const now = this.clock();
    const entry = job.threadId === '' ? '' : JSON.stringify(attemptEntry.dead(job, now, error));
    const r = await this.io.rceDeadLetter(
      7,
      x.lease,
      x.job,
      x.lane,
      x.lanes,
      x.pending,
      this.keys.dead(x.s),
      x.hist,
      this.keys.shard(x.s),
      job.lane,
      job.id,
      owner,
      JSON.stringify(error),
      now,
      this.deadCapPerShard,
      entry,
      this.historyCap,
    );
    return flagSchema.parse(r) === 1;
  }

  async renewLease(job: OutboxJob, owner: string, leaseMs: number): Promise<boolean> {
    const x = this.laneKeys(job);
    return flagSchema.parse(await this.io.rceRenew(2, x.lease, x.lanes, job.lane, job.id, owner, this.clock() + leaseMs)) === 1;
  }

  async releaseLeasesOf(owner: string): Promise<number> {
    const now = this.clock();
    const counts = await Promise.all(
      shardList.map(async (s) =>
        z
          .number()
          .int()
          .parse(await this.io.rceReleaseOwner(1, this.keys.lanes(s), this.keys.shard(s), owner, now)),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Newest first over all shards. */
  async listDeadLetters(limit: number): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    const perShard = await Promise.all(shardList.map((s) => this.io.lrange(this.keys.dead(s), 0, limit - 1)));
    return perShard
      .flat()
      .map(parseDeadEntry)
      .sort((a, b) => b.failedAt - a.failedAt)
      .slice(0, limit);
  }

  async takeBudget(key: string, count: number, limit: number, windowMs: number): Promise<{ granted: number; waitMs: number }> {
    const s = shardOf(`budget/${key}`);
    const raw = await this.io.rceTakeBudget(1, `${this.keys.shard(s)}budget:${key}`, this.clock(), windowMs, limit, count, randomUUID());
    const [granted, waitMs] = z.tuple([z.number().int(), z.number()]).parse(raw);
    return { granted, waitMs };
  }

  /** Shard by shard, each a short script; at most `limit` in all. */
  async purgeIdleConversations(writtenBefore: number, limit: number): Promise<number> {
    let purged = 0;
    for (const s of shardList) {
      if (purged >= limit) break;
      purged += z
        .number()
        .int()
        .parse(
          await this.io.rcePurgeIdle(2, this.keys.idle(s), this.keys.engageIndex(s), writtenBefore, limit - purged, this.keys.shard(s)),
        );
    }
    return purged;
  }

  async retryDeadLetter(jobId: string, deadlineAt: number): Promise<OutboxJob | null> {
    for (const s of shardList) {
      const entries = await this.io.lrange(this.keys.dead(s), 0, -1);
      const entry = entries.find((text) => parseDeadEntry(text).job.id === jobId);
      if (entry === undefined) continue;
      const { job } = parseDeadEntry(entry);
      const now = this.clock();
      const data: JobData = {
        id: randomUUID(),
        tenantId: job.tenantId,
        threadId: job.threadId,
        lane: job.lane,
        kind: job.kind,
        payload: job.payload,
        deadlineAt,
        createdAt: now,
        ...(job.note ? { note: job.note } : {}),
      };
      const k = this.keys;
      const seq = z
        .number()
        .int()
        .parse(
          await this.io.rceRequeueDead(
            6,
            k.dead(s),
            k.job(s, data.id),
            k.lane(s, job.lane),
            k.seq(s),
            k.lanes(s),
            k.pending(s),
            entry,
            data.id,
            job.lane,
            JSON.stringify(data),
            now,
          ),
        );
      return seq === 0 ? null : assembleJob(data, { seq, attempts: 0, nextAttemptAt: now, lastError: null });
    }
    return null;
  }

  /** `relay inspect` only: one SCAN of every primary for the store's conversation keys, never on a request path. */
  async findConversations(ref: string): Promise<Conversation[]> {
    const found: Conversation[] = [];
    for (const node of this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', this.keys.convPattern(), 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          const data = await node.hget(key, 'd');
          if (data === null) continue;
          const c = parseConversation(data);
          if (c.threadId === ref || c.session.sessionId === ref || c.engageThreadId === ref) found.push(c);
        }
      } while (cursor !== '0');
    }
    return found;
  }

  async readHistory(tenantId: string, threadId: string): Promise<HistoryEntry[]> {
    const entries = await this.io.lrange(this.keys.hist(this.shardOfConversation(tenantId, threadId), tenantId, threadId), 0, -1);
    return entries.map((e) => historyEntrySchema.parse(JSON.parse(e)));
  }

  async pendingJobsOf(tenantId: string, threadId: string): Promise<OutboxJob[]> {
    const s = this.shardOfConversation(tenantId, threadId);
    const jobs: OutboxJob[] = [];
    for (const lane of conversationLanes(tenantId, threadId)) {
      for (const id of await this.io.zrange(this.keys.lane(s, lane), 0, -1)) {
        const fields = await this.io.hmget(this.keys.job(s, id), 'd', 's', 'a', 'n', 'e');
        // Completed between the two reads: no longer pending.
        if (fields[0] === null) continue;
        jobs.push(jobFromFields(claimedFieldsSchema.parse(fields)));
      }
    }
    return jobs.sort((a, b) => a.seq - b.seq);
  }

  async outboxStats(): Promise<OutboxStats> {
    const perShard = await Promise.all(
      shardList.map(async (s) => {
        const [pending, dead, first] = await Promise.all([
          this.io.get(this.keys.pending(s)),
          this.io.llen(this.keys.dead(s)),
          this.io.zrange(this.keys.lanes(s), 0, 0, 'WITHSCORES'),
        ]);
        return { pending: Number(pending ?? 0), dead, due: first[1] === undefined ? null : Number(first[1]) };
      }),
    );
    let nextDueAt: number | null = null;
    for (const p of perShard) if (p.due !== null && (nextDueAt === null || p.due < nextDueAt)) nextDueAt = p.due;
    return { pending: perShard.reduce((n, p) => n + p.pending, 0), deadLettered: perShard.reduce((n, p) => n + p.dead, 0), nextDueAt };
  }

  /** Persistence and eviction settings of every primary (for `doctor`); null where CONFIG GET is refused (managed Redis). */
  async serverSettings(): Promise<{ node: string; appendonly: string | null; save: string | null; maxmemoryPolicy: string | null }[]> {
    const nodes: Redis[] = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    return Promise.all(
      nodes.map(async (node) => {
        const name = `${node.options.host ?? '?'}:${node.options.port ?? '?'}`;
        const get = async (param: string): Promise<string | null> => {
          try {
            const r: unknown = await node.config('GET', param);
            return Array.isArray(r) && typeof r[1] === 'string' ? r[1] : null;
          } catch {
            return null;
          }
        };
        return { node: name, appendonly: await get('appendonly'), save: await get('save'), maxmemoryPolicy: await get('maxmemory-policy') };
      }),
    );
  }

  async ping(): Promise<void> {
    await assertWritable(this.redis);
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    try {
      if (this.redis.status === 'ready') {
        await this.redis.quit();
        return;
      }
    } catch {
      // fall through: force the socket closed
    }
    this.redis.disconnect();
  }
}
