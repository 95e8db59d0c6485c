--[[
  Leases the due lane heads of one shard to `owner` (at most one job per lane).

  KEYS[1] shard's due lanes (zset, lane -> when it can next be claimed)
  ARGV[1] shard key prefix S (lane, lease and job keys are S .. 'lane:' .. lane etc., same hash tag)
  ARGV[2] now   ARGV[3] limit   ARGV[4] owner   ARGV[5] lease until
  Returns one {d, s, a, n, e} per claimed job.
]]
local S, now, owner, leaseUntil = ARGV[1], tonumber(ARGV[2]), ARGV[4], ARGV[5]
local lanes = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, lane in ipairs(lanes) do
  local laneKey = S .. 'lane:' .. lane
  local head = redis.call('ZRANGE', laneKey, 0, 0)[1]
  if not head then
    redis.call('ZREM', KEYS[1], lane)
  else
    local f = redis.call('HMGET', S .. 'job:' .. head, 'd', 's', 'a', 'n', 'e')
    if not f[1] then
      redis.call('ZREM', laneKey, head) -- defensive: id without job; the next claim sees the next head
    elseif tonumber(f[4]) > now then
      redis.call('ZADD', KEYS[1], f[4], lane) -- defensive: re-sync the lane score
    else
      redis.call('HSET', S .. 'lease:' .. lane, 'o', owner, 'j', head)
      redis.call('ZADD', KEYS[1], leaseUntil, lane)
      out[#out + 1] = f
    end
  end
end
return out
