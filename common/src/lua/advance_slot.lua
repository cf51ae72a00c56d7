-- Records the slot a periodic definition fired, only ever moving it forward.
-- KEYS[1] hash of last fired slots
-- ARGV[1] definition name, ARGV[2] slot start (Unix ms)
-- Returns 1 when the slot moved forward, 0 when a later or equal slot was recorded already.
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if current < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
