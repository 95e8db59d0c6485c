--[[
  One atomic write of a mutation: dedup key, conversation (version-checked), jobs appended to lanes.
  Every key belongs to one shard (one hash tag), so it runs on Redis Cluster.

  KEYS[1] dedup key            KEYS[2] conversation hash     KEYS[3] shard's Engage index (hash)
  KEYS[4] shard's seq counter  KEYS[5] shard's due lanes     KEYS[6] shard's pending counter
  KEYS[7] shard's idle index (zset: conversation key -> last write, for retention)
  KEYS[8] the conversation's timeline (list)
  then per job: job hash, lane zset, lease hash
  ARGV[1] now                  ARGV[2] '1' = has dedup        ARGV[3] dedup expires at (ms)
  ARGV[4] dedup TTL (ms)       ARGV[5] '1' = has conversation ARGV[6] expected version ('' = must not exist)
  ARGV[7] new version          ARGV[8] Engage index field ('' = none)
  ARGV[9] conversation JSON    ARGV[10] lease owner ('' = no lease)   ARGV[11] lease until
  ARGV[12] timeline entry JSON ('' = none)   ARGV[13] timeline cap
  ARGV[14] job count, then per job: id, lane, job JSON, nextAttemptAt
  Returns 'duplicate', 'conflict' or {'applied', leasedId, leasedSeq, ...}: a job that opens an empty
  lane and is due now is leased to the owner at once.
]]
--- @include "includes/appendHistory"
local now = tonumber(ARGV[1])
if ARGV[2] == '1' then
  local exp = redis.call('GET', KEYS[1])
  if exp and tonumber(exp) > now then return 'duplicate' end
end
if ARGV[5] == '1' then
  local cur = redis.call('HGET', KEYS[2], 'v')
  if ARGV[6] == '' then
    if cur then return 'conflict' end
  elseif cur ~= ARGV[6] then
    return 'conflict'
  end
end
if ARGV[2] == '1' then redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4]) end
if ARGV[5] == '1' then
  local convKey, newEk = KEYS[2], ARGV[8]
  local oldEk = redis.call('HGET', convKey, 'ek')
  if oldEk and oldEk ~= '' and oldEk ~= newEk and redis.call('HGET', KEYS[3], oldEk) == convKey then
    redis.call('HDEL', KEYS[3], oldEk)
  end
  if newEk ~= '' then redis.call('HSET', KEYS[3], newEk, convKey) end
  redis.call('HSET', convKey, 'v', ARGV[7], 'ek', newEk, 'd', ARGV[9])
  redis.call('ZADD', KEYS[7], ARGV[1], convKey)
end
local leaseOwner, leaseUntil = ARGV[10], ARGV[11]
local out = {'applied'}
local n = tonumber(ARGV[14])
for i = 0, n - 1 do
  local b = 15 + i * 4
  local k = 9 + i * 3
  local id, lane, nextAt = ARGV[b], ARGV[b + 1], ARGV[b + 3]
  local jobKey, laneKey, leaseKey = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local seq = redis.call('INCR', KEYS[4])
  redis.call('HSET', jobKey, 'd', ARGV[b + 2], 's', seq, 'a', '0', 'n', nextAt, 'e', 'null')
  redis.call('ZADD', laneKey, seq, id)
  if redis.call('ZCARD', laneKey) == 1 then
    if leaseOwner ~= '' and tonumber(nextAt) <= now then
      redis.call('HSET', leaseKey, 'o', leaseOwner, 'j', id)
      redis.call('ZADD', KEYS[5], leaseUntil, lane)
      out[#out + 1] = id
      out[#out + 1] = seq
    else
      redis.call('ZADD', KEYS[5], nextAt, lane)
    end
  end
end
if n > 0 then redis.call('INCRBY', KEYS[6], n) end
appendHistory(KEYS[8], ARGV[12], ARGV[13])
return out
