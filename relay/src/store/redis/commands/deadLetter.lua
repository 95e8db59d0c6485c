--[[
  Moves a job that ran out of time to its shard's dead letters (newest first, capped) and lets
  the lane go on with its next job.

  KEYS[1] lease hash   KEYS[2] job hash   KEYS[3] lane zset   KEYS[4] shard's due lanes
  KEYS[5] shard's pending counter   KEYS[6] shard's dead letters (list)   KEYS[7] the job's conversation timeline
  ARGV[1] shard key prefix S   ARGV[2] lane   ARGV[3] job id   ARGV[4] owner
  ARGV[5] error JSON   ARGV[6] failedAt   ARGV[7] cap (entries kept in this shard)
  ARGV[8] timeline entry JSON   ARGV[9] timeline cap
  Returns 1, or 0 if the lease was lost (nothing changed).
]]
--- @include "includes/holdsLease"
--- @include "includes/releaseToNextHead"
--- @include "includes/appendHistory"
local S, lane, jobId = ARGV[1], ARGV[2], ARGV[3]
if not holdsLease(KEYS[1], jobId, ARGV[4]) then return 0 end
local f = redis.call('HMGET', KEYS[2], 'd', 's', 'a', 'n', 'e')
if not f[1] then return 0 end
redis.call('LPUSH', KEYS[6], '{"d":' .. f[1] .. ',"s":' .. f[2] .. ',"a":' .. f[3] .. ',"n":' .. f[4] ..
  ',"e":' .. f[5] .. ',"error":' .. ARGV[5] .. ',"failedAt":' .. ARGV[6] .. '}')
redis.call('LTRIM', KEYS[6], 0, tonumber(ARGV[7]) - 1)
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], jobId)
redis.call('DECR', KEYS[5])
releaseToNextHead(S, KEYS[3], KEYS[4], lane)
appendHistory(KEYS[7], ARGV[8], ARGV[9])
return 1
