-- Records what a running task reports: a log line or its progress. Does nothing once the run
-- is gone, so a late report never resurrects an expired run.
-- KEYS[1] run hash, KEYS[2] run log stream
-- ARGV[1] task index, ARGV[2] kind ('log' or 'progress'), ARGV[3] the line or the percentage,
-- ARGV[4] most lines kept in the log
-- Returns 1 when recorded, 0 when the run no longer exists.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[2] == 'progress' then
  redis.call('HSET', KEYS[1], 't' .. ARGV[1] .. '.progress', ARGV[3])
  return 1
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 't', ARGV[1], 'm', ARGV[3])
-- Tells the scripts that close the run that it has a log to expire with it.
redis.call('HSET', KEYS[1], 'logged', 1)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
