--[[
  Retention: removes up to `limit` conversations of one shard last written before `writtenBefore`,
  with their Engage index entries.

  KEYS[1] shard's idle index (zset: conversation key -> last write, same hash tag)
  KEYS[2] shard's Engage index (hash)
  ARGV[1] writtenBefore (ms, exclusive)   ARGV[2] limit   ARGV[3] shard key prefix S
  A conversation's timeline (S hist:<id>, beside S conv:<id>) goes with it.
  Returns how many conversations were removed.
]]
local convKeys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, convKey in ipairs(convKeys) do
  local ek = redis.call('HGET', convKey, 'ek')
  if ek and ek ~= '' and redis.call('HGET', KEYS[2], ek) == convKey then redis.call('HDEL', KEYS[2], ek) end
  redis.call('DEL', convKey, ARGV[3] .. 'hist:' .. string.sub(convKey, #ARGV[3] + 6))
  redis.call('ZREM', KEYS[1], convKey)
end
return #convKeys
