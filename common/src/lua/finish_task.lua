-- Records the outcome of a task attempt, guarded so only the task's current attempt and
-- delivery can do it, and queues the successors whose dependencies have all succeeded.
-- KEYS[1] run hash, KEYS[2] run log stream
-- ARGV[1] task index, ARGV[2] attempt, ARGV[3] redeliveries, ARGV[4] outcome (success|retry|error),
-- ARGV[5] result JSON (success) or error message, ARGV[6] now (Unix ms), ARGV[7] retention (s),
-- ARGV[8] due time of the retry (Unix ms)
-- Returns one of:
--   {'stale'}                                   not the current attempt (canceled, reclaimed, duplicate)
--   {'success', run status, succ, queue, ...}   successors (or the success hook) to enqueue
--   {'retry', next attempt}                     the retry's delayed job must be scheduled
--   {'error', run status, hook, queue}          the task failed for good (with the failure hook
--                                               to enqueue when it failed the run)
local run = KEYS[1]
local p = 't' .. ARGV[1] .. '.'
local now = ARGV[6]
local retention = tonumber(ARGV[7])

local state = redis.call('HMGET', run, 'status', p .. 'status', p .. 'attempt', p .. 'delivery', p .. 'succ',
  'ntasks', 'done', 'nwork', 'hook_success', 'hook_failure')
local run_status = state[1]
if not run_status or state[2] ~= 'running' or tonumber(state[3]) ~= tonumber(ARGV[2])
    or tonumber(state[4] or '0') ~= tonumber(ARGV[3]) then
  return {'stale'}
end
local active = run_status == 'pending' or run_status == 'progress'

-- A run marked `keep` (a project) stays; any other expires with the retention period.
local function expire_run()
  if redis.call('HEXISTS', run, 'keep') == 0 then
    redis.call('EXPIRE', run, retention)
    redis.call('EXPIRE', KEYS[2], retention)
  end
end

-- Queues the hook task `hook` (an index, or false) and appends it to `out` for enqueueing.
local function queue_hook(hook, out)
  if hook then
    local hp = 't' .. hook .. '.'
    redis.call('HSET', run, hp .. 'status', 'queued', hp .. 'updated', now)
    table.insert(out, hook)
    table.insert(out, redis.call('HGET', run, hp .. 'queue'))
  end
  return out
end

local outcome = ARGV[4]
if outcome == 'retry' then
  local next_attempt = tonumber(ARGV[2]) + 1
  redis.call('HSET', run, p .. 'status', 'retrying', p .. 'attempt', next_attempt, p .. 'delivery', 0,
    p .. 'error', ARGV[5], p .. 'due', ARGV[8], p .. 'updated', now)
  return {'retry', next_attempt}
end

if outcome == 'error' then
  if active then
    redis.call('HSET', run, p .. 'status', 'error', p .. 'error', ARGV[5], p .. 'finished', now, p .. 'updated', now,
      'status', 'error', 'updated', now, 'finished', now)
    expire_run()
    return queue_hook(state[10], {'error', 'error'})
  end
  redis.call('HSET', run, p .. 'status', 'error', p .. 'error', ARGV[5], p .. 'finished', now, p .. 'updated', now)
  return {'error', run_status}
end

local done = tonumber(state[7] or '0') + 1
local out = {'success', run_status}
for s in string.gmatch(state[5] or '', '[^,]+') do
  local sp = 't' .. s .. '.'
  local waiting = redis.call('HINCRBY', run, sp .. 'waiting', -1)
  if active and waiting <= 0 and redis.call('HGET', run, sp .. 'status') == 'pending' then
    redis.call('HSET', run, sp .. 'status', 'queued', sp .. 'updated', now)
    table.insert(out, s)
    table.insert(out, redis.call('HGET', run, sp .. 'queue'))
  end
end
if active and done >= tonumber(state[8] or state[6]) then
  redis.call('HSET', run, p .. 'status', 'success', p .. 'result', ARGV[5], p .. 'progress', 100,
    p .. 'finished', now, p .. 'updated', now, 'done', done, 'status', 'success', 'updated', now, 'finished', now)
  expire_run()
  out[2] = 'success'
  queue_hook(state[9], out)
else
  redis.call('HSET', run, p .. 'status', 'success', p .. 'result', ARGV[5], p .. 'progress', 100,
    p .. 'finished', now, p .. 'updated', now, 'done', done)
end
return out
