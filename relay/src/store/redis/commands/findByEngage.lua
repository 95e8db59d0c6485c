--[[
  The conversation an Engage thread id points to, within one shard.

  KEYS[1] shard's Engage index (hash: field -> conversation key, same hash tag)
  ARGV[1] index field
  Returns the conversation JSON, or false if absent or if the conversation no longer names this
  Engage thread (a stale index entry).
]]
local convKey = redis.call('HGET', KEYS[1], ARGV[1])
if not convKey then return false end
local f = redis.call('HMGET', convKey, 'ek', 'd')
if f[1] ~= ARGV[1] then return false end
return f[2]
