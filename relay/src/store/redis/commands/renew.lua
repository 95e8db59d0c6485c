--[[
  Extends a lease its holder is still working on, so no other relay takes the lane over.

  KEYS[1] lease hash   KEYS[2] shard's due lanes
  ARGV[1] lane   ARGV[2] job id   ARGV[3] owner   ARGV[4] lease until
  Returns 1, or 0 if the lease was lost (nothing changed).
]]
--- @include "includes/holdsLease"
if not holdsLease(KEYS[1], ARGV[2], ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
