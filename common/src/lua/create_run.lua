-- Creates a run and its tasks unless the run already exists, so creating twice is harmless.
-- KEYS[1] run hash
-- ARGV    field, value, field, value, ... (the run's fields and every task's tN.* fields)
-- Returns 1 when the run was created, 0 when it already existed.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
-- HSET in chunks: Lua's unpack() is limited to a few thousand values.
local chunk = 1000
for first = 1, #ARGV, chunk do
  redis.call('HSET', KEYS[1], unpack(ARGV, first, math.min(first + chunk - 1, #ARGV)))
end
return 1
