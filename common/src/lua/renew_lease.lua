-- Takes or renews a lease held under a key.
-- KEYS[1] lease key
-- ARGV[1] holder id, ARGV[2] lease length (ms)
-- Returns 1 when the caller holds the lease, 0 when someone else does.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
