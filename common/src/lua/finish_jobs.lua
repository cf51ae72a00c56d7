-- Records the outcomes of a batch of attempts of one shard, each guarded so only the task's
-- current attempt and delivery can, and settles each job: successors whose dependencies all
-- succeeded get their jobs, retries are scheduled, failures go to the dead letters, finished runs
-- move to their status's index and expire, counters count, jobs are acknowledged.
-- (Opens with shard_prelude.lua.)
-- KEYS  per job: its run's hash, its run's log
-- ARGV  now (Unix ms), retention (s), then per job: run id, task, attempt, redeliveries, outcome
--       (success|retry|error), result JSON (success) or error message, due time of the retry
--       (Unix ms), queue, priority, stream entry id
-- Returns, per job, one of:
--   {'success', run status, n}   recorded; n successors (or the success hook) were enqueued
--   {'retry', next attempt}      the next attempt is scheduled
--   {'error', run status}        the task failed for good; the job is in the dead letters
--   {'stale'}                    not the current attempt (canceled, reclaimed, duplicate)
--   {'queues', name...}          these queues were not declared: nothing was done
local now = ARGV[first_arg]
local retention = ARGV[first_arg + 1]

-- A run marked `keep` (a project) stays; any other expires with the retention period. It
-- leaves its kind's active index for its status's (`state` as the finish reads it).
local function close_run(run, log, run_id, state, status)
  if not state[13] then
    redis.call('EXPIRE', run, retention)
    -- A run's log exists only once a task has logged (`logged`, set by report.lua).
    if state[14] then
      redis.call('EXPIRE', log, retention)
    end
  end
  local active = index_key(state[11], 'active')
  if active then
    index_add(index_key(state[11], status), state[12] or '0', run_id)
    index_remove(active, run_id)
  end
end

-- The copy of a run's status and times a list reads (`listed`: status, updated, created,
-- finished) of a run that finishes now with `status` (`state` as the finish reads it).
local function listed(status, state)
  return status .. ' ' .. now .. ' ' .. (state[12] or '') .. ' ' .. now
end

-- Queues the hook task `hook` (an index, or false) of a run; returns how many jobs that added.
local function queue_hook(run, run_id, hook, priority)
  if not hook then
    return 0
  end
  local hf = fields_of(hook)
  redis.call('HSET', run, hf.status, 'queued', hf.updated, now)
  -- A task's queue is its run's unless it names one, a run's the default unless it names one.
  local queues = redis.call('HMGET', run, hf.queue, 'queue')
  enqueue(queues[1] or queues[2] or DEFAULT_QUEUE, priority, run_id, hook)
  return 1
end

local function finish(run, log, run_id, task, attempt, redeliveries, outcome, detail, due, queue, priority, entry)
  local f = fields_of(task)
  local state = redis.call('HMGET', run, 'status', f.status, f.attempt, f.delivery, f.succ,
    'ntasks', 'done', 'nwork', 'hook_success', 'hook_failure', 'kind', 'created', 'keep', 'logged')
  local run_status = state[1]
  -- Attempts and deliveries are compared as the decimal strings they are stored as; a task
  -- stores no attempt until its second, no delivery until its first redelivery.
  if not run_status or state[2] ~= 'running' or (state[3] or '1') ~= attempt
    or (state[4] or '0') ~= redeliveries then
    ack(queue, priority, entry)
    return {'stale'}
  end
  local active = run_status == 'pending' or run_status == 'progress'
  local enqueues = (outcome == 'success' and (state[5] or state[9])) or (outcome == 'error' and state[10])
  if enqueues then
    local missing = undeclared(run_queues(run))
    if #missing > 0 then
      return {'queues', unpack(missing)}
    end
  end

  if outcome == 'retry' then
    local next_attempt = tostring(tonumber(attempt) + 1)
    redis.call('HSET', run, f.status, 'retrying', f.attempt, next_attempt, f.delivery, '0',
      f.error, detail, f.due, due, f.updated, now)
    delay(queue, priority, run_id, task, next_attempt, due, true)
    count(queue, 'retried')
    ack(queue, priority, entry)
    return {'retry', next_attempt}
  end

  if outcome == 'error' then
    count(queue, 'failed')
    -- A task's `updated` and a finished run's are not written: readers take the latest of
    -- it and `finished` (and a task's `started`).
    if active then
      redis.call('HSET', run, f.status, 'error', f.error, detail, f.finished, now,
        'status', 'error', 'finished', now, 'listed', listed('error', state))
      close_run(run, log, run_id, state, 'error')
      queue_hook(run, run_id, state[10], priority)
      run_status = 'error'
    else
      redis.call('HSET', run, f.status, 'error', f.error, detail, f.finished, now)
    end
    dead_letter(queue, priority, entry, run_id, task, attempt, redeliveries, detail, now)
    return {'error', run_status}
  end

  local done_count = tonumber(state[7] or '0') + 1
  local done = tostring(done_count)
  local enqueued = 0
  if state[5] then
    for s in string.gmatch(state[5], '[^,]+') do
      local sf = fields_of(s)
      local waiting = redis.call('HINCRBY', run, sf.waiting, -1)
      if active and waiting <= 0 then
        local next_state = redis.call('HMGET', run, sf.status, sf.queue, 'queue')
        if next_state[1] == 'pending' then
          redis.call('HSET', run, sf.status, 'queued', sf.updated, now)
          enqueue(next_state[2] or next_state[3] or DEFAULT_QUEUE, priority, run_id, s)
          enqueued = enqueued + 1
        end
      end
    end
  end
  -- A succeeded task's progress is 100 without being written; its `updated` and a finished
  -- run's are not written either (see above).
  if active and done_count >= tonumber(state[8] or state[6]) then
    redis.call('HSET', run, f.status, 'success', f.result, detail, f.finished, now, 'done', done,
      'status', 'success', 'finished', now, 'listed', listed('success', state))
    close_run(run, log, run_id, state, 'success')
    enqueued = enqueued + queue_hook(run, run_id, state[9], priority)
    run_status = 'success'
  else
    redis.call('HSET', run, f.status, 'success', f.result, detail, f.finished, now, 'done', done)
  end
  count(queue, 'succeeded')
  ack(queue, priority, entry)
  return {'success', run_status, COUNT_TEXT[enqueued] or tostring(enqueued)}
end

local out = {}
local arg = first_arg + 2
local key = first_item_key
while arg <= #ARGV do
  local run, log, run_id = KEYS[key], KEYS[key + 1], ARGV[arg]
  local task, attempt, redeliveries = ARGV[arg + 1], ARGV[arg + 2], ARGV[arg + 3]
  local outcome, detail, due = ARGV[arg + 4], ARGV[arg + 5], ARGV[arg + 6]
  local queue, priority, entry = ARGV[arg + 7], ARGV[arg + 8], ARGV[arg + 9]
  key = key + 2
  arg = arg + 10
  if not queue_at[queue] then
    table.insert(out, {'queues', queue})
  else
    table.insert(out, finish(run, log, run_id, task, attempt, redeliveries, outcome, detail, due, queue, priority, entry))
  end
end
flush()
return out
