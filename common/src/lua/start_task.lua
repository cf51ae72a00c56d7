-- Starts an attempt of a task if the job that asks is the task's current attempt, or says why not.
-- KEYS[1] run hash
-- ARGV[1] task index, ARGV[2] attempt, ARGV[3] redeliveries of this job, ARGV[4] worker id,
-- ARGV[5] now (Unix ms)
-- Returns one of:
--   {'start', key, executor, payload, timeout, retries, result of each dependency (JSON or '')...}
--   {'missing'}                          the run or task does not exist (expired, never created)
--   {'done', succ, queue, succ, queue...} the task already succeeded; the listed successors are
--                                         queued and may still lack their jobs (a crash between
--                                         recording the result and enqueueing them)
--   {'reschedule', due}                  the task awaits a retry whose delayed job may be missing
--   {'failed'}                           the task failed for good: the job belongs in the dead letter
--   {'skip', status}                     nothing to do (duplicate, stale or canceled job)
local run = KEYS[1]
local p = 't' .. ARGV[1] .. '.'
local attempt = tonumber(ARGV[2])
local redeliveries = tonumber(ARGV[3])
local now = ARGV[5]

-- One read of everything this script may need.
local state = redis.call('HMGET', run, 'status', p .. 'status', p .. 'attempt', p .. 'delivery', p .. 'due',
  p .. 'key', p .. 'executor', 'payload', p .. 'timeout', p .. 'retries', p .. 'deps')
local run_status, status = state[1], state[2]
if not run_status or not status then
  return {'missing'}
end
local current_attempt = tonumber(state[3])
local delivery = tonumber(state[4]) or 0

if status == 'success' then
  local out = {'done'}
  local succ = redis.call('HGET', run, p .. 'succ') or ''
  for s in string.gmatch(succ, '[^,]+') do
    local sp = 't' .. s .. '.'
    local next_state = redis.call('HMGET', run, sp .. 'status', sp .. 'queue', sp .. 'attempt')
    if next_state[1] == 'queued' and next_state[3] == '1' then
      table.insert(out, s)
      table.insert(out, next_state[2])
    end
  end
  return out
end
if status == 'retrying' and attempt < current_attempt then
  return {'reschedule', state[5]}
end
if attempt ~= current_attempt then
  return {'skip', status}
end
if status == 'error' then
  return {'failed'}
end
-- A running task is restarted only by a later delivery: its previous worker was presumed dead.
local restart = status == 'running' and redeliveries > delivery
if status ~= 'queued' and status ~= 'retrying' and not restart then
  return {'skip', status}
end

if run_status == 'pending' then
  redis.call('HSET', run, p .. 'status', 'running', p .. 'delivery', redeliveries, p .. 'worker', ARGV[4],
    p .. 'started', now, p .. 'updated', now, 'status', 'progress', 'updated', now)
else
  redis.call('HSET', run, p .. 'status', 'running', p .. 'delivery', redeliveries, p .. 'worker', ARGV[4],
    p .. 'started', now, p .. 'updated', now)
end

local out = {'start', state[6], state[7], state[8] or 'null', state[9] or '', state[10] or '0'}
for d in string.gmatch(state[11] or '', '[^,]+') do
  table.insert(out, redis.call('HGET', run, 't' .. d .. '.result') or '')
end
return out
