--[[
  Takes one entry out of a shard's dead letters and appends its job again to its lane (a new job
  id, attempts 0, due now). Nothing happens if the entry is gone (retried already).

  KEYS[1] shard's dead letters (list)   KEYS[2] new job hash   KEYS[3] lane zset
  KEYS[4] shard's seq counter   KEYS[5] shard's due lanes   KEYS[6] shard's pending counter
  ARGV[1] the dead-letter entry, exactly as stored   ARGV[2] new job id   ARGV[3] lane
  ARGV[4] new job JSON   ARGV[5] now
  Returns the new job's seq, or 0 if the entry was not there.
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
local seq = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[2], 'd', ARGV[4], 's', seq, 'a', '0', 'n', ARGV[5], 'e', 'null')
redis.call('ZADD', KEYS[3], seq, ARGV[2])
if redis.call('ZCARD', KEYS[3]) == 1 then redis.call('ZADD', KEYS[5], ARGV[5], ARGV[3]) end
redis.call('INCR', KEYS[6])
return seq
