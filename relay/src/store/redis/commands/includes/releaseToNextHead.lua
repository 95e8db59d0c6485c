--[[
  Puts a lane back into its shard's due index, scored by its head's next attempt, or drops it
  from the index when it is empty. `S` is the shard's key prefix (job keys share its hash tag).
]]
local function releaseToNextHead(S, laneKey, lanesKey, lane)
  local head = redis.call('ZRANGE', laneKey, 0, 0)[1]
  if head then
    redis.call('ZADD', lanesKey, redis.call('HGET', S .. 'job:' .. head, 'n') or '0', lane)
  else
    redis.call('ZREM', lanesKey, lane)
  end
end
