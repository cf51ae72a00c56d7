-- Publishes a set of definitions as one version, only if the published version is still the
-- one the caller compared against (so two API servers starting at once cannot interleave).
-- KEYS[1] the definitions (hash: name -> JSON), KEYS[2] the published version (hash)
-- ARGV[1] the version hash the caller saw ('' when none), ARGV[2] the new set's hash,
-- ARGV[3] where the set comes from, ARGV[4] now (Unix ms), then pairs: name, JSON
-- Returns {'published'}, or {'moved', hash now published} when another server published first.
local current = redis.call('HGET', KEYS[2], 'hash') or ''
if current ~= ARGV[1] then
  return {'moved', current}
end
local keep = {}
for i = 5, #ARGV, 2 do
  keep[ARGV[i]] = true
end
for _, name in ipairs(redis.call('HKEYS', KEYS[1])) do
  if not keep[name] then
    redis.call('HDEL', KEYS[1], name)
  end
end
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[2], 'hash', ARGV[2], 'source', ARGV[3], 'published', ARGV[4],
  'workflows', tostring((#ARGV - 4) / 2))
return {'published'}
