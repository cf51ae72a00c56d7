-- Acknowledges a pending job and re-adds it as a new entry: on its own stream for another
-- delivery, or on the dead-letter stream. The acknowledgement guards the move, so a job is
-- moved once even when two processes try.
-- KEYS[1] stream the job is pending on, KEYS[2] stream to add the new entry to, KEYS[3]
-- (optional) the wake list of KEYS[2], where '-' then takes the place of what it held, so a
-- waiting worker wakes (see shard_prelude.lua's `wake`)
-- ARGV[1] consumer group, ARGV[2] entry id, ARGV[3..] field, value, ... of the new entry
-- Returns the new entry's id, or false when the job was already acknowledged.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return false
end
redis.call('XDEL', KEYS[1], ARGV[2])
local entry = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
if KEYS[3] then
  redis.call('DEL', KEYS[3])
  redis.call('RPUSH', KEYS[3], '-')
end
return entry
