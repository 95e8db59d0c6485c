--[[
  Appends one entry (JSON) to a conversation's timeline list and keeps only its newest `cap` entries.
  `entry` is '' when the write records nothing.
]]
local function appendHistory(histKey, entry, cap)
  if entry == '' then return end
  redis.call('RPUSH', histKey, entry)
  redis.call('LTRIM', histKey, -tonumber(cap), -1)
end
