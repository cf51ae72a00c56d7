-- Registers a task service, or registers again the one already registered at the same URL:
-- that one keeps its id, creation time and (unless asked) whether it is enabled, and gets the
-- new name, description, author, health and token digest, so its old token stops working.
-- KEYS[1]        the services index (sorted set by creation time)
-- KEYS[2]        the new service's hash (written only when no service has the URL)
-- KEYS[3]        the index of enabled services (`...:service:by:enabled:1`)
-- KEYS[4]        the index of disabled services (`...:service:by:enabled:0`)
-- KEYS[5..]      the hashes of every service the index listed when the caller read it
-- ARGV[1]        how many such hashes follow KEYS[4]
-- ARGV[2]        the URL
-- ARGV[3]        the new service's id
-- ARGV[4]        the new service's creation time (Unix ms), its score in the indexes
-- ARGV[5]        `enabled` as asked: `1`, `0`, or '' (new: enabled; registered again: unchanged)
-- ARGV[6]        how many field, value pairs are written either way (ARGV[7..])
-- ARGV[...]      those pairs, then the pairs written only on a new service
-- Returns {'created', id}, {'replaced', id}, or {'stale', ''} when the index no longer holds
-- what the caller read (a service came or went): read it again and retry.
local listed = tonumber(ARGV[1])
if redis.call('ZCARD', KEYS[1]) ~= listed then
  return {'stale', ''}
end
local url, enabled = ARGV[2], ARGV[5]
local common = tonumber(ARGV[6])

local function write(key, from, to)
  for i = from, to, 2 do
    redis.call('HSET', key, ARGV[i], ARGV[i + 1])
  end
end

-- The same count and every listed service still there: the index holds what was read.
local found = nil
for i = 5, 4 + listed do
  local id = redis.call('HGET', KEYS[i], 'kf_id')
  if not id or redis.call('ZSCORE', KEYS[1], id) == false then
    return {'stale', ''}
  end
  if not found and redis.call('HGET', KEYS[i], 'url') == url then
    found = i
  end
end

if found then
  local key = KEYS[found]
  local id = redis.call('HGET', key, 'kf_id')
  write(key, 7, 6 + 2 * common)
  local was = redis.call('HGET', key, 'enabled')
  if enabled ~= '' and enabled ~= was then
    local score = redis.call('HGET', key, 'created_ms') or '0'
    redis.call('HSET', key, 'enabled', enabled)
    if enabled == '1' then
      redis.call('ZREM', KEYS[4], id)
      redis.call('ZADD', KEYS[3], score, id)
    else
      redis.call('ZREM', KEYS[3], id)
      redis.call('ZADD', KEYS[4], score, id)
    end
  end
  return {'replaced', id}
end

local id, score = ARGV[3], ARGV[4]
write(KEYS[2], 7, #ARGV)
if enabled == '0' then
  redis.call('HSET', KEYS[2], 'enabled', '0')
  redis.call('ZADD', KEYS[4], score, id)
else
  redis.call('HSET', KEYS[2], 'enabled', '1')
  redis.call('ZADD', KEYS[3], score, id)
end
redis.call('ZADD', KEYS[1], score, id)
return {'created', id}
