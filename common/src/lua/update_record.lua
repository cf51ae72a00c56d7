-- Sets fields of an existing releases-front record and moves it between the per-field indexes
-- of those fields that are indexed, reading the old values here so concurrent updates never
-- leave a record in an index its hash disagrees with.
-- KEYS[1]        the record's hash
-- ARGV[1]        its id
-- ARGV[2]        its score in its collection's indexes
-- ARGV[3]        the start of the names of its collection's per-field indexes (`...:KIND:by:`);
--                each lives under the same hash tag as KEYS[1]
-- ARGV[4]        number of fields to set
-- ARGV[5..]      for each field: name, value, and `1` when the field is indexed, else `0`
-- Returns 1, or 0 when the record does not exist (nothing is written).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local id, score, prefix = ARGV[1], ARGV[2], ARGV[3]
for i = 0, tonumber(ARGV[4]) - 1 do
  local name, value, indexed = ARGV[5 + 3 * i], ARGV[6 + 3 * i], ARGV[7 + 3 * i]
  if indexed == '1' then
    local old = redis.call('HGET', KEYS[1], name) or ''
    if old ~= value then
      if old ~= '' then
        redis.call('ZREM', prefix .. name .. ':' .. old, id)
      end
      if value ~= '' then
        redis.call('ZADD', prefix .. name .. ':' .. value, score, id)
      end
    end
  end
  redis.call('HSET', KEYS[1], name, value)
end
return 1
