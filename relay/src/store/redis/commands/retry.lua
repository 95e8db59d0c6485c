--[[
  Records a failed attempt: the job stays head of its lane, due again at nextAttemptAt; the lane
  is released.

  KEYS[1] lease hash   KEYS[2] job hash   KEYS[3] shard's due lanes   KEYS[4] the job's conversation timeline
  ARGV[1] lane   ARGV[2] job id   ARGV[3] owner   ARGV[4] nextAttemptAt   ARGV[5] error JSON
  ARGV[6] timeline entry JSON   ARGV[7] timeline cap
  Returns 1, or 0 if the lease was lost (nothing changed).
]]
--- @include "includes/holdsLease"
--- @include "includes/appendHistory"
if not holdsLease(KEYS[1], ARGV[2], ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[2], 'a', 1)
redis.call('HSET', KEYS[2], 'n', ARGV[4], 'e', ARGV[5])
redis.call('DEL', KEYS[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
appendHistory(KEYS[4], ARGV[6], ARGV[7])
return 1
