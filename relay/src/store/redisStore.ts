import { randomUUID } from 'node:crypto';
import Redis, { type Result } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { assembleJob, type JobData, jobDataSchema, nextVersion, outboxJobSchema, parseConversation, validateMutation } from './schemas';
import type {
  ApplyResult,
  ClaimOptions,
  CompleteResult,
  Conversation,
  DeadLetter,
  JsonValue,
  LeaseRequest,
  Mutation,
  MutationOutcome,
  OutboxJob,
  OutboxStats,
  Store,
} from './types';

/*
 * Key layout (P = keyPrefix; <x> = encodeURIComponent(x) where several ids share one key, so ':' can't collide):
 *   P conv:<tenant>:<thread>      HASH  v = version, ek = engage index key ('' if none), d = conversation JSON
 *   P engage:<tenant>:<engageId>  STRING the conv key it points to (checked against the conv's ek on read)
 *   P dedup:<key>                 STRING expiry (epoch ms, compared with the store's clock); PX = ttl reclaims memory
 *   P seq                         STRING job sequence counter
 *   P job:<id>                    HASH  d = immutable job JSON, s = seq, a = attempts, n = nextAttemptAt, e = lastError JSON
 *   P lane:<lane>                 ZSET  job ids scored by seq (head = lowest)
 *   P lanes                       ZSET  non-empty lanes scored by when they can next be claimed:
 *                                       head's nextAttemptAt, or lease expiry while leased
 *   P lease:<lane>                HASH  o = owner, j = job id (absent = not leased)
 *   P pending                     STRING number of jobs in all lanes
 *   P dead                        LIST  dead-letter JSON, newest first
 * Scripts build some keys themselves (from lane names and job ids), so this targets a single Redis
 * (or a primary with replicas), not Redis Cluster.
 */

/** Releases a lane to its next head (or drops it when empty). Shared tail of complete and dead-letter. */
const RELEASE_TO_NEXT_HEAD = `
local function releaseToNextHead(P, lane)
  local head = redis.call('ZRANGE', P .. 'lane:' .. lane, 0, 0)[1]
  if head then
    redis.call('ZADD', P .. 'lanes', redis.call('HGET', P .. 'job:' .. head, 'n') or '0', lane)
  else
    redis.call('ZREM', P .. 'lanes', lane)
  end
end
local function holdsLease(P, lane, jobId, owner)
  local l = redis.call('HMGET', P .. 'lease:' .. lane, 'o', 'j')
  return l[1] == owner and l[2] == jobId
end
`;

const SCRIPTS = {
  // ARGV: P, now, hasDedup, dedupKey, dedupExpiresAt, dedupTtlMs, hasConv, convKey, expectedVersion ('' = must not
  //       exist), newVersion, engageKey ('' = none), convJson, leaseOwner ('' = no lease), leaseUntil, jobCount,
  //       then per job: id, lane, dataJson, nextAttemptAt.
  // Returns 'duplicate', 'conflict' or {'applied', leasedId, leasedSeq, ...}: a job that opens an empty lane and is
  // due now is leased to leaseOwner at once.
  rceApply: `
local P = ARGV[1]
local now = tonumber(ARGV[2])
if ARGV[3] == '1' then
  local exp = redis.call('GET', ARGV[4])
  if exp and tonumber(exp) > now then return 'duplicate' end
end
if ARGV[7] == '1' then
  local cur = redis.call('HGET', ARGV[8], 'v')
  if ARGV[9] == '' then
    if cur then return 'conflict' end
  elseif cur ~= ARGV[9] then
    return 'conflict'
  end
end
if ARGV[3] == '1' then redis.call('SET', ARGV[4], ARGV[5], 'PX', ARGV[6]) end
if ARGV[7] == '1' then
  local convKey, newEk = ARGV[8], ARGV[11]
  local oldEk = redis.call('HGET', convKey, 'ek')
  if oldEk and oldEk ~= '' and oldEk ~= newEk and redis.call('GET', oldEk) == convKey then
    redis.call('DEL', oldEk)
  end
  if newEk ~= '' then redis.call('SET', newEk, convKey) end
  redis.call('HSET', convKey, 'v', ARGV[10], 'ek', newEk, 'd', ARGV[12])
end
local leaseOwner, leaseUntil = ARGV[13], ARGV[14]
local out = {'applied'}
local n = tonumber(ARGV[15])
for i = 0, n - 1 do
  local b = 16 + i * 4
  local id, lane, nextAt = ARGV[b], ARGV[b + 1], ARGV[b + 3]
  local seq = redis.call('INCR', P .. 'seq')
  redis.call('HSET', P .. 'job:' .. id, 'd', ARGV[b + 2], 's', seq, 'a', '0', 'n', nextAt, 'e', 'null')
  local laneKey = P .. 'lane:' .. lane
  redis.call('ZADD', laneKey, seq, id)
  if redis.call('ZCARD', laneKey) == 1 then
    if leaseOwner ~= '' and tonumber(nextAt) <= now then
      redis.call('HSET', P .. 'lease:' .. lane, 'o', leaseOwner, 'j', id)
      redis.call('ZADD', P .. 'lanes', leaseUntil, lane)
      out[#out + 1] = id
      out[#out + 1] = seq
    else
      redis.call('ZADD', P .. 'lanes', nextAt, lane)
    end
  end
end
if n > 0 then redis.call('INCRBY', P .. 'pending', n) end
return out
`,
  // ARGV: P, now, limit, owner, leaseUntil. Returns [d, s, a, n, e] per claimed job.
  rceClaim: `
local P, now, owner, leaseUntil = ARGV[1], tonumber(ARGV[2]), ARGV[4], ARGV[5]
local lanes = redis.call('ZRANGEBYSCORE', P .. 'lanes', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, lane in ipairs(lanes) do
  local laneKey = P .. 'lane:' .. lane
  local head = redis.call('ZRANGE', laneKey, 0, 0)[1]
  if not head then
    redis.call('ZREM', P .. 'lanes', lane)
  else
    local f = redis.call('HMGET', P .. 'job:' .. head, 'd', 's', 'a', 'n', 'e')
    if not f[1] then
      redis.call('ZREM', laneKey, head) -- defensive: id without job; the next claim sees the next head
    elseif tonumber(f[4]) > now then
      redis.call('ZADD', P .. 'lanes', f[4], lane) -- defensive: re-sync the lane score
    else
      redis.call('HSET', P .. 'lease:' .. lane, 'o', owner, 'j', head)
      redis.call('ZADD', P .. 'lanes', leaseUntil, lane)
      out[#out + 1] = f
    end
  end
end
return out
`,
  // ARGV: P, lane, jobId, owner, now ('' = release the lane), leaseUntil.
  // Returns {0} (lease lost), {1} (lane empty), {1, n} (next job due at n) or {1, d, s, a, n, e}: the lane's
  // next job, due now, leased to the owner.
  rceComplete: `${RELEASE_TO_NEXT_HEAD}
local P, lane, jobId, owner = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if not holdsLease(P, lane, jobId, owner) then return {0} end
redis.call('DEL', P .. 'lease:' .. lane, P .. 'job:' .. jobId)
redis.call('ZREM', P .. 'lane:' .. lane, jobId)
redis.call('DECR', P .. 'pending')
local head = redis.call('ZRANGE', P .. 'lane:' .. lane, 0, 0)[1]
if head then
  local f = redis.call('HMGET', P .. 'job:' .. head, 'd', 's', 'a', 'n', 'e')
  if ARGV[5] ~= '' and f[1] and tonumber(f[4]) <= tonumber(ARGV[5]) then
    redis.call('HSET', P .. 'lease:' .. lane, 'o', owner, 'j', head)
    redis.call('ZADD', P .. 'lanes', ARGV[6], lane)
    return {1, f[1], f[2], f[3], f[4], f[5]}
  end
  -- Released to its head, as releaseToNextHead does (the head is already read here).
  redis.call('ZADD', P .. 'lanes', f[4] or '0', lane)
  if f[4] then return {1, f[4]} end
  return {1}
end
redis.call('ZREM', P .. 'lanes', lane)
return {1}
`,
  // ARGV: P, lane, jobId, owner, nextAttemptAt, errorJson
  rceRetry: `${RELEASE_TO_NEXT_HEAD}
local P, lane, jobId = ARGV[1], ARGV[2], ARGV[3]
if not holdsLease(P, lane, jobId, ARGV[4]) then return 0 end
local jobKey = P .. 'job:' .. jobId
redis.call('HINCRBY', jobKey, 'a', 1)
redis.call('HSET', jobKey, 'n', ARGV[5], 'e', ARGV[6])
redis.call('DEL', P .. 'lease:' .. lane)
redis.call('ZADD', P .. 'lanes', ARGV[5], lane) -- the job stays head of its lane
return 1
`,
  // ARGV: P, lane, jobId, owner, errorJson, failedAt. The entry is assembled from stored fields (all JSON already).
  rceDeadLetter: `${RELEASE_TO_NEXT_HEAD}
local P, lane, jobId = ARGV[1], ARGV[2], ARGV[3]
if not holdsLease(P, lane, jobId, ARGV[4]) then return 0 end
local jobKey = P .. 'job:' .. jobId
local f = redis.call('HMGET', jobKey, 'd', 's', 'a', 'n', 'e')
if not f[1] then return 0 end
redis.call('LPUSH', P .. 'dead', '{"d":' .. f[1] .. ',"s":' .. f[2] .. ',"a":' .. f[3] .. ',"n":' .. f[4] ..
  ',"e":' .. f[5] .. ',"error":' .. ARGV[5] .. ',"failedAt":' .. ARGV[6] .. '}')
redis.call('DEL', P .. 'lease:' .. lane, jobKey)
redis.call('ZREM', P .. 'lane:' .. lane, jobId)
redis.call('DECR', P .. 'pending')
releaseToNextHead(P, lane)
return 1
`,
  // ARGV: engageKey. Returns the conversation JSON only if it still names this engage thread (index may be stale).
  rceFindByEngage: `
local convKey = redis.call('GET', ARGV[1])
if not convKey then return false end
local f = redis.call('HMGET', convKey, 'ek', 'd')
if f[1] ~= ARGV[1] then return false end
return f[2]
`,
} as const;

type ScriptArg = string | number;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    rceApply(...args: ScriptArg[]): Result<unknown, Context>;
    rceClaim(...args: ScriptArg[]): Result<unknown, Context>;
    rceComplete(...args: ScriptArg[]): Result<unknown, Context>;
    rceRetry(...args: ScriptArg[]): Result<unknown, Context>;
    rceDeadLetter(...args: ScriptArg[]): Result<unknown, Context>;
    rceFindByEngage(...args: ScriptArg[]): Result<unknown, Context>;
  }
}

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
const deadEntrySchema = z.object({
  d: jobDataSchema,
  s: z.number().int(),
  a: z.number().int(),
  n: z.number(),
  e: z.string().nullable(),
  error: z.string(),
  failedAt: z.number(),
});
const statsSchema = z.tuple([
  z.tuple([z.null(), z.string().nullable()]),
  z.tuple([z.null(), z.number().int()]),
  z.tuple([z.null(), z.array(z.string())]),
]);

const key = (...parts: string[]): string => parts.map(encodeURIComponent).join(':');

/** A job from the fields a script read with HMGET d, s, a, n, e. */
function jobFromFields([d, seq, attempts, nextAttemptAt, e]: z.infer<typeof claimedFieldsSchema>): OutboxJob {
  return assembleJob(jobDataSchema.parse(JSON.parse(d)), { seq, attempts, nextAttemptAt, lastError: nullableStringSchema.parse(JSON.parse(e)) });
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
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly P: string;
  private readonly clock: () => number;

  /** Connects and waits until Redis answers; rejects (and stops reconnecting) if the first connection fails. */
  static async connect(url: string, opts: RedisStoreOptions = {}): Promise<RedisStore> {
    const logger = opts.logger;
    const maxDelay = opts.maxReconnectDelayMs ?? 1000;
    // Reconnect only once we have been connected: a wrong URL at startup should fail, not retry forever.
    let everReady = false;
    let lastError: Error | undefined;
    const redis = new Redis(url, {
      lazyConnect: true,
      connectTimeout: 5000,
      commandTimeout: opts.commandTimeoutMs ?? 5000,
      // Commands issued while disconnected wait at most two reconnect attempts, then fail.
      maxRetriesPerRequest: 1,
      // A script that was sent but unanswered may have run; re-sending could apply it twice. Fail it instead.
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times) => (everReady ? Math.min(50 * 2 ** Math.min(times, 10), maxDelay) : null),
    });
    // Without an 'error' listener ioredis reports every failed reconnect as an unhandled error event.
    let down = false;
    redis.on('error', (err: Error) => {
      lastError = err;
      if (everReady) logger?.debug({ err }, 'redis store: connection error');
    });
    redis.on('reconnecting', () => {
      if (!down) logger?.warn({ err: lastError }, 'redis store: connection lost; reconnecting');
      down = true;
    });
    redis.on('ready', () => {
      everReady = true;
      if (down) logger?.info('redis store: reconnected');
      down = false;
      lastError = undefined;
    });
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 0, lua });
    try {
      await redis.connect();
    } catch (err) {
      // With retryStrategy returning null the client is already 'end'; disconnect() on it would leave a 2 s timer.
      if (redis.status !== 'end') redis.disconnect();
      const cause = lastError ?? err;
      throw new Error(`cannot connect to Redis store at ${redactUrl(url)}: ${cause instanceof Error ? cause.message : String(cause)}`, {
        cause,
      });
    }
    return new RedisStore(redis, opts);
  }

  private constructor(
    private readonly redis: Redis,
    opts: RedisStoreOptions,
  ) {
    this.P = opts.keyPrefix ?? 'rce:';
    this.clock = opts.clock ?? Date.now;
  }

  private convKey(tenantId: string, threadId: string): string {
    return `${this.P}conv:${key(tenantId, threadId)}`;
  }

  private engageKey(tenantId: string, engageThreadId: string): string {
    return `${this.P}engage:${key(tenantId, engageThreadId)}`;
  }

  async getConversation(tenantId: string, threadId: string): Promise<Conversation | null> {
    const data = await this.redis.hget(this.convKey(tenantId, threadId), 'd');
    return data === null ? null : parseConversation(data);
  }

  async findConversationByEngageThread(tenantId: string, engageThreadId: string): Promise<Conversation | null> {
    const data = nullableStringSchema.parse(await this.redis.rceFindByEngage(this.engageKey(tenantId, engageThreadId)));
    return data === null ? null : parseConversation(data);
  }

  async apply(m: Mutation): Promise<MutationOutcome> {
    return (await this.applyWith(m, null)).outcome;
  }

  async applyLeasing(m: Mutation, lease: LeaseRequest): Promise<ApplyResult> {
    return this.applyWith(m, lease);
  }

  private async applyWith(m: Mutation, lease: LeaseRequest | null): Promise<ApplyResult> {
    validateMutation(m);
    const now = this.clock();
    const args: ScriptArg[] = [this.P, now];
    if (m.dedup) args.push('1', `${this.P}dedup:${m.dedup.key}`, now + m.dedup.ttlMs, Math.ceil(m.dedup.ttlMs));
    else args.push('0', '', '', '');
    if (m.conversation) {
      const { value, expectedVersion } = m.conversation;
      const stored: Conversation = { ...value, version: nextVersion(expectedVersion) };
      args.push(
        '1',
        this.convKey(value.tenantId, value.threadId),
        expectedVersion === null ? '' : String(expectedVersion),
        String(stored.version),
        value.engageThreadId === null ? '' : this.engageKey(value.tenantId, value.engageThreadId),
        JSON.stringify(stored),
      );
    } else {
      args.push('0', '', '', '', '', '');
    }
    const jobs = m.jobs ?? [];
    args.push(lease ? lease.owner : '', lease ? now + lease.leaseMs : '', jobs.length);
    const built = new Map<string, JobData>();
    for (const job of jobs) {
      const data = {
        id: randomUUID(),
        tenantId: job.tenantId,
        lane: job.lane,
        kind: job.kind,
        payload: job.payload,
        deadlineAt: job.deadlineAt,
        ...(job.notBefore === undefined ? {} : { notBefore: job.notBefore }),
        createdAt: now,
      };
      const text = JSON.stringify(data);
      if (lease) built.set(data.id, data);
      args.push(data.id, job.lane, text, job.notBefore ?? now);
    }
    const reply = applyReplySchema.parse(await this.redis.rceApply(...args));
    if (typeof reply === 'string') return { outcome: reply, leased: [] };
    const leased: OutboxJob[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const data = built.get(String(reply[i]));
      if (!data) throw new Error('Redis store: apply leased a job it was not given');
      // The payload as a claim would read it back (JSON drops undefined fields).
      const payload = JSON.parse(JSON.stringify(data.payload)) as JsonValue;
      leased.push(assembleJob({ ...data, payload }, { seq: Number(reply[i + 1]), attempts: 0, nextAttemptAt: data.notBefore ?? now, lastError: null }));
    }
    return { outcome: 'applied', leased };
  }

  async hasDedupKey(dedupKey: string): Promise<boolean> {
    const exp = await this.redis.get(`${this.P}dedup:${dedupKey}`);
    return exp !== null && Number(exp) > this.clock();
  }

  async claimDueJobs(o: ClaimOptions): Promise<OutboxJob[]> {
    if (o.limit <= 0) return [];
    const raw = await this.redis.rceClaim(this.P, o.now, o.limit, o.owner, o.now + o.leaseMs);
    return claimedSchema.parse(raw).map(jobFromFields);
  }

  async completeJob(job: OutboxJob, owner: string): Promise<boolean> {
    return (await this.complete(job, owner, null)).completed;
  }

  async completeLeasingNext(job: OutboxJob, owner: string, leaseMs: number): Promise<CompleteResult> {
    return this.complete(job, owner, leaseMs);
  }

  private async complete(job: OutboxJob, owner: string, leaseMs: number | null): Promise<CompleteResult> {
    const now = this.clock();
    const reply = completeReplySchema.parse(await this.redis.rceComplete(this.P, job.lane, job.id, owner, leaseMs === null ? '' : now, leaseMs === null ? '' : now + leaseMs));
    if (reply[0] === 0) return { completed: false, next: null, nextDueAt: null };
    const rest = reply.slice(1);
    if (rest.length === 0) return { completed: true, next: null, nextDueAt: null };
    if (rest.length === 1) return { completed: true, next: null, nextDueAt: Number(rest[0]) };
    return { completed: true, next: jobFromFields(claimedFieldsSchema.parse(rest)), nextDueAt: null };
  }

  async retryJob(job: OutboxJob, owner: string, next: { nextAttemptAt: number; error: string }): Promise<boolean> {
    const r = await this.redis.rceRetry(this.P, job.lane, job.id, owner, next.nextAttemptAt, JSON.stringify(next.error));
    return flagSchema.parse(r) === 1;
  }

  async deadLetterJob(job: OutboxJob, owner: string, error: string): Promise<boolean> {
    const r = await this.redis.rceDeadLetter(this.P, job.lane, job.id, owner, JSON.stringify(error), this.clock());
    return flagSchema.parse(r) === 1;
  }

  async listDeadLetters(limit: number): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    const entries = await this.redis.lrange(`${this.P}dead`, 0, limit - 1);
    return entries.map((text) => {
      const x = deadEntrySchema.parse(JSON.parse(text));
      const job = outboxJobSchema.parse(assembleJob(x.d, { seq: x.s, attempts: x.a, nextAttemptAt: x.n, lastError: x.e }));
      return { job, error: x.error, failedAt: x.failedAt };
    });
  }

  async outboxStats(): Promise<OutboxStats> {
    const res = await this.redis
      .multi()
      .get(`${this.P}pending`)
      .llen(`${this.P}dead`)
      .zrange(`${this.P}lanes`, 0, 0, 'WITHSCORES')
      .exec();
    const [[, pending], [, dead], [, first]] = statsSchema.parse(res);
    const score = first[1];
    return { pending: Number(pending ?? 0), deadLettered: dead, nextDueAt: score === undefined ? null : Number(score) };
  }

  async ping(): Promise<void> {
    // Fail at once instead of queueing behind reconnect attempts: readiness must answer quickly.
    if (this.redis.status !== 'ready') throw new Error(`Redis store not connected (${this.redis.status})`);
    await this.redis.ping();
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

/** Hides a password in redis://user:pass@host URLs before it reaches a log or an error. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
