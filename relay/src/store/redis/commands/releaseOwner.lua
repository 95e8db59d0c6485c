--[[
  Releases every lease `owner` holds in one shard: a relay that starts again under its stable id
  gets back what it held when it died at once, instead of after the leases expire.

  KEYS[1] shard's due lanes (leased lanes are scored by their lease expiry, so later than now)
  ARGV[1] shard key prefix S (lease keys are S .. 'lease:' .. lane, same hash tag)
  ARGV[2] owner   ARGV[3] now
  Returns how many leases were released.
]]
local S, owner, now = ARGV[1], ARGV[2], ARGV[3]
local released = 0
for _, lane in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  local leaseKey = S .. 'lease:' .. lane
  if redis.call('HGET', leaseKey, 'o') == owner then
    redis.call('DEL', leaseKey)
    redis.call('ZADD', KEYS[1], now, lane)
    released = released + 1
  end
end
return released
