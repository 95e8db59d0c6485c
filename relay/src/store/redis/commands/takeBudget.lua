--[[
  A sliding-window budget shared by every relay: grants up to `count` of at most `limit` events
  per `windowMs` for one key.

  KEYS[1] the budget's log (zset: event id -> time)
  ARGV[1] now   ARGV[2] windowMs   ARGV[3] limit   ARGV[4] count wanted   ARGV[5] unique id prefix
  Returns {granted, msUntilOneMoreIsFree}.
]]
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local grant = math.max(0, math.min(tonumber(ARGV[4]), limit - used))
for i = 1, grant do redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], window)
local wait = 0
if used + grant >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
  wait = math.max(1, tonumber(oldest or now) + window - now)
end
return {grant, wait}
