-- Changes who holds a claimed human task. Guarded: only while the task runs under the expected
-- person in an active run, not submitted and not in review (`review` absent or empty).
--   release   the task goes back to the pool: a new attempt (queued, delivery 0, no worker, not
--             started; saved work is kept) whose job is added to the stream as shard_prelude's
--             `enqueue` adds jobs, and the old entry is acknowledged
--   reassign  the task keeps running, under the new person: its worker changes, its last
--             activity is now, and the old entry moves to their pending list
-- KEYS[1] run hash, KEYS[2] the task's stream (its queue at the run's priority, on the run's
-- shard), KEYS[3] the queue's counters on that shard
-- ARGV[1] 'release' or 'reassign', ARGV[2] task index, ARGV[3] the person expected to hold it,
-- ARGV[4] the id of the entry pending under them ('' when none was found), ARGV[5] now (Unix ms),
-- ARGV[6] release only when the task's last activity (the latest of `updated` and `started`) is
-- at or before this (Unix ms; '' for no such condition), ARGV[7] the new holder (reassign),
-- ARGV[8] the run id,
-- ARGV[9] the consumer group
-- Returns one of:
--   {'missing'}               the run or task does not exist
--   {'machine'}               the task is not a human step
--   {'not_claimed', status}   nobody holds it (status pending or queued)
--   {'closed', status}        it is finished, canceled, or its run is
--   {'not_yours', worker}     someone else holds it
--   {'submitted'}             its holder submitted it
--   {'in_review', review}     it is in review
--   {'touched', updated}      its holder was active after ARGV[6]: kept
--   {'same'}                  reassign to the person who holds it: nothing to do
--   {'reassigned'}            it runs under the new person
--   {'released', attempt}     it waits for anyone again, as this attempt
local run = KEYS[1]
local task = ARGV[2]
local p = 't' .. task .. '.'
local state = redis.call('HMGET', run, 'status', p .. 'status', p .. 'executor', p .. 'worker', p .. 'submitted',
  p .. 'review', p .. 'attempt', p .. 'updated', p .. 'started')
local run_status, status, worker = state[1], state[2], state[4]
if not run_status or not status then
  return {'missing'}
end
if state[3] ~= '{"type":"human"}' then
  return {'machine'}
end
if status == 'pending' or status == 'queued' then
  return {'not_claimed', status}
end
if status ~= 'running' or (run_status ~= 'pending' and run_status ~= 'progress') then
  return {'closed', status}
end
if worker ~= ARGV[3] then
  return {'not_yours', worker or ''}
end
if state[5] == '1' then
  return {'submitted'}
end
if state[6] and state[6] ~= '' then
  return {'in_review', state[6]}
end
local now, entry, group = ARGV[5], ARGV[4], ARGV[9]

if ARGV[1] == 'reassign' then
  local to = ARGV[7]
  if to == worker then
    return {'same'}
  end
  redis.call('HSET', run, p .. 'worker', to, p .. 'updated', now)
  if entry ~= '' then
    redis.call('XCLAIM', KEYS[2], group, to, 0, entry, 'FORCE', 'JUSTID')
  end
  return {'reassigned'}
end

-- Its last activity: the latest of `updated` and `started` (a start does not write `updated`).
local active_at = math.max(tonumber(state[8]) or 0, tonumber(state[9]) or 0)
if ARGV[6] ~= '' and active_at > tonumber(ARGV[6]) then
  return {'touched', tostring(active_at)}
end
local attempt = (tonumber(state[7]) or 1) + 1
redis.call('HSET', run, p .. 'status', 'queued', p .. 'attempt', attempt, p .. 'delivery', 0, p .. 'updated', now)
redis.call('HDEL', run, p .. 'worker', p .. 'started')
redis.call('XADD', KEYS[2], '*', 'r', ARGV[8], 't', task, 'a', attempt)
redis.call('HINCRBY', KEYS[3], 'enqueued', 1)
if entry ~= '' then
  redis.call('XACK', KEYS[2], group, entry)
end
return {'released', tostring(attempt)}
