--[[
  Removes a finished job and releases its lane; optionally leases the lane's next due job to the
  same owner in the same write.

  KEYS[1] lease hash   KEYS[2] job hash   KEYS[3] lane zset   KEYS[4] shard's due lanes
  KEYS[5] shard's pending counter   KEYS[6] the job's conversation timeline (list)
  ARGV[1] shard key prefix S   ARGV[2] lane   ARGV[3] job id   ARGV[4] owner
  ARGV[5] now ('' = only release the lane)   ARGV[6] lease until
  ARGV[7] timeline entry JSON   ARGV[8] timeline cap
  Returns {0} (lease lost, nothing changed), {1} (lane empty), {1, n} (next job due at n) or
  {1, d, s, a, n, e}: the lane's next job, due now, leased to the owner.
]]
--- @include "includes/holdsLease"
--- @include "includes/appendHistory"
local S, lane, jobId, owner = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if not holdsLease(KEYS[1], jobId, owner) then return {0} end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], jobId)
redis.call('DECR', KEYS[5])
appendHistory(KEYS[6], ARGV[7], ARGV[8])
local head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
if head then
  local f = redis.call('HMGET', S .. 'job:' .. head, 'd', 's', 'a', 'n', 'e')
  if ARGV[5] ~= '' and f[1] and tonumber(f[4]) <= tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[1], 'o', owner, 'j', head)
    redis.call('ZADD', KEYS[4], ARGV[6], lane)
    return {1, f[1], f[2], f[3], f[4], f[5]}
  end
  redis.call('ZADD', KEYS[4], f[4] or '0', lane)
  if f[4] then return {1, f[4]} end
  return {1}
end
redis.call('ZREM', KEYS[4], lane)
return {1}
