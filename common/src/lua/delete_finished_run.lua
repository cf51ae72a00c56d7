-- Deletes a finished run (its hash, its log and its entries in the run indexes of its shard);
-- a run still pending or in progress is left alone, so deleting never races a relaunch.
-- KEYS[1] run hash, KEYS[2] run log, KEYS[3..] the indexes of its shard that may hold it
-- ARGV[1] run id
-- Returns 1 when it was deleted, 0 when it is active (or did not exist).
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'pending' or status == 'progress' then
  return 0
end
for i = 3, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[1])
end
if not status then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
