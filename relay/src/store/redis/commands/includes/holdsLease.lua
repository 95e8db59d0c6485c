--[[
  True if `leaseKey` names `owner` as holder of job `jobId`.
]]
local function holdsLease(leaseKey, jobId, owner)
  local l = redis.call('HMGET', leaseKey, 'o', 'j')
  return l[1] == owner and l[2] == jobId
end
