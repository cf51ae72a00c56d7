-- One guarded step of a release: a task's or the release's compare-and-set transition, then
-- the release's state recomputed from its tasks' states, each change with its event.
-- KEYS[1]        release hash
-- KEYS[2]        events index (sorted set, scored by creation time in microseconds)
-- KEYS[3]        releases meta hash (field `version`: the latest published version)
-- KEYS[4]        active releases (sorted set)
-- KEYS[5..12]    hashes of up to 8 new events (ids in ARGV[9..16])
-- KEYS[13..]     the release's task hashes (ARGV[2] of them), then its study hashes
-- ARGV[1]        now (Unix ms)
-- ARGV[2]        number of task hashes in KEYS
-- ARGV[3]        mode: `task`, `release` or `recompute`
-- ARGV[4]        for `task`: the task's position (1-based) among the task hashes
-- ARGV[5]        the new state (of the task or of the release)
-- ARGV[6]        comma-separated states it may come from
-- ARGV[7]        the task's progress to record, or ''
-- ARGV[8]        why (appended to the event's message), or ''
-- ARGV[9..16]    ids of the new events
-- ARGV[17]       the start of the names of the events' per-field indexes (`...:event:by:`);
--                each lives under the same hash tag as KEYS
-- ARGV[18]       the same for tasks (`...:task:by:`): a task's `state:S` index follows it
-- ARGV[19]       the same for releases (`...:release:by:`)
-- Returns {outcome, previous state, release state}; outcome is `changed`, `same` (already in
-- the new state: nothing but the progress changes), `refused` (not in an allowed state) or
-- `missing` (no such release or task).
-- Kept as text: Lua formats large numbers with 14 significant digits.
local now = ARGV[1]
local ntasks = tonumber(ARGV[2])
local mode = ARGV[3]
local new_state = ARGV[5]
local reason = ARGV[8]
local first_task = 13
local first_study = first_task + ntasks

local release_id = redis.call('HGET', KEYS[1], 'kf_id')
if not release_id then
  return {'missing', '', ''}
end

-- A list field holds ids as JSON (`["TA_1","TA_2"]`), or comma-separated as stored before
-- lists were JSON; ids are letters, digits and `_`, so either reads the same way.
local function listed(list, value)
  for item in string.gmatch(list, '[^,%[%]"]+') do
    if item == value then
      return true
    end
  end
  return false
end

local written = 0
local function event(kind, message, task_id, service_id)
  if written >= 8 then
    return
  end
  written = written + 1
  local id = ARGV[8 + written]
  redis.call('HSET', KEYS[4 + written], 'kf_id', id, 'event_type', kind, 'message', message,
    'release', release_id, 'task', task_id or '', 'task_service', service_id or '',
    'study', '', 'created_ms', now)
  -- After every event already written, even one written in this same millisecond by an
  -- earlier transition, so the index keeps the order in which things happened.
  local score = tonumber(now) * 1000 + written
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) >= score then
    score = tonumber(last[2]) + 1
  end
  local scored = string.format('%d', score)
  redis.call('ZADD', KEYS[2], scored, id)
  redis.call('ZADD', ARGV[17] .. 'release:' .. release_id, scored, id)
  if task_id and task_id ~= '' then
    redis.call('ZADD', ARGV[17] .. 'task:' .. task_id, scored, id)
  end
  if service_id and service_id ~= '' then
    redis.call('ZADD', ARGV[17] .. 'task_service:' .. service_id, scored, id)
  end
end

-- Moves a record from its old state's index to its new one's, scored by its creation time as
-- every index of its collection is.
local function reindex_state(prefix, key, id, from, to)
  redis.call('ZREM', prefix .. 'state:' .. from, id)
  redis.call('ZADD', prefix .. 'state:' .. to, redis.call('HGET', key, 'created_ms') or '0', id)
end

local function with_reason(message)
  if reason ~= '' then
    return message .. ': ' .. reason
  end
  return message
end

-- In the Release Coordinator's words: `release RE_..., version 0.1.0 changed from A to B`.
local function set_release(from, to, kind)
  redis.call('HSET', KEYS[1], 'state', to, 'updated_ms', now)
  reindex_state(ARGV[19], KEYS[1], release_id, from, to)
  local version = redis.call('HGET', KEYS[1], 'version') or ''
  event(kind, 'release ' .. release_id .. ', version ' .. version .. ' changed from ' .. from
    .. ' to ' .. to)
end

-- The release's version on publication: the next minor (or major) of the latest published.
local function publish_version()
  local latest = redis.call('HGET', KEYS[3], 'version') or '0.0.0'
  local major, minor, patch = string.match(latest, '^(%d+)%.(%d+)%.(%d+)$')
  major, minor = tonumber(major or 0), tonumber(minor or 0)
  if redis.call('HGET', KEYS[1], 'is_major') == '1' then
    major, minor = major + 1, 0
  else
    minor = minor + 1
  end
  local version = major .. '.' .. minor .. '.0'
  redis.call('HSET', KEYS[1], 'version', version)
  redis.call('HSET', KEYS[3], 'version', version)
  for i = first_study, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then
      redis.call('HSET', KEYS[i], 'version', version, 'last_pub_version', version,
        'last_pub_date_ms', now)
    end
  end
  return version
end

local outcome = 'changed'
local previous = ''

if mode == 'task' then
  local key = KEYS[first_task + tonumber(ARGV[4]) - 1]
  previous = redis.call('HGET', key, 'state')
  if not previous then
    return {'missing', '', ''}
  end
  if ARGV[7] ~= '' then
    redis.call('HSET', key, 'progress', ARGV[7])
  end
  if previous == new_state then
    outcome = 'same'
  elseif not listed(ARGV[6], previous) then
    return {'refused', previous, redis.call('HGET', KEYS[1], 'state')}
  else
    redis.call('HSET', key, 'state', new_state, 'updated_ms', now)
    local task_id = redis.call('HGET', key, 'kf_id')
    reindex_state(ARGV[18], key, task_id, previous, new_state)
    local kind = 'info'
    if new_state == 'failed' or new_state == 'rejected' then
      kind = 'error'
    end
    event(kind, with_reason('task ' .. task_id .. ' changed from ' .. previous .. ' to ' .. new_state),
      task_id, redis.call('HGET', key, 'task_service'))
  end
elseif mode == 'release' then
  previous = redis.call('HGET', KEYS[1], 'state')
  if previous == new_state then
    outcome = 'same'
  elseif not listed(ARGV[6], previous) then
    return {'refused', previous, previous}
  else
    set_release(previous, new_state, 'info')
  end
end

-- Recompute the release's state from its tasks', as many steps as hold.
local states = {}
for i = 1, ntasks do
  states[i] = redis.call('HGET', KEYS[first_task + i - 1], 'state') or 'canceled'
end
local function all_in(list)
  for _, state in ipairs(states) do
    if not listed(list, state) then
      return false
    end
  end
  return true
end
local function any_in(list)
  for _, state in ipairs(states) do
    if listed(list, state) then
      return true
    end
  end
  return false
end

local release_state = redis.call('HGET', KEYS[1], 'state')
for _ = 1, 6 do
  local finished = release_state == 'published' or release_state == 'canceled' or release_state == 'failed'
  if finished then
    break
  end
  local nxt, kind = nil, 'info'
  if release_state ~= 'canceling' and any_in('failed,rejected') then
    nxt, kind = 'failed', 'error'
  elseif release_state == 'canceling' then
    if all_in('canceled,failed,rejected,published') then
      nxt = 'canceled'
    end
  elseif (release_state == 'waiting' or release_state == 'initializing')
      and all_in('initialized,running,staged') then
    nxt = 'initialized'
  elseif release_state == 'initialized' and all_in('running,staged') then
    nxt = 'running'
  elseif release_state == 'running' and all_in('staged') then
    nxt = 'staged'
  elseif release_state == 'publishing' and all_in('published') then
    nxt = 'published'
    publish_version()
  end
  if not nxt then
    break
  end
  set_release(release_state, nxt, kind)
  release_state = nxt
end
-- A failed release stays active until its other tasks are canceled (the scheduler heals its
-- cancel phase); any other finished release leaves at once.
if release_state == 'published' or release_state == 'canceled'
    or (release_state == 'failed' and all_in('canceled,failed,rejected,published')) then
  redis.call('ZREM', KEYS[4], release_id)
end
return {outcome, previous, release_state}
