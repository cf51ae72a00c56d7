-- Deletes a releases-front record and every index entry of it, reading its indexed fields
-- here so an update running at the same time cannot leave an entry behind.
-- KEYS[1]        the record's hash
-- KEYS[2]        its collection's index
-- ARGV[1]        its id
-- ARGV[2]        the start of the names of its collection's per-field indexes (`...:KIND:by:`);
--                each lives under the same hash tag as KEYS
-- ARGV[3..]      the names of its indexed fields
-- Returns 1, or 0 when it did not exist.
local id, prefix = ARGV[1], ARGV[2]
for i = 3, #ARGV do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if value and value ~= '' then
    redis.call('ZREM', prefix .. ARGV[i] .. ':' .. value, id)
  end
end
redis.call('ZREM', KEYS[2], id)
return redis.call('DEL', KEYS[1])
