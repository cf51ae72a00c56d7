-- Starting one job: the attempt it asks for, only if it is the task's current attempt, or the
-- job settled and why not. Shared by start_jobs.lua and take_jobs.lua, which both open with
-- shard_prelude.lua, then this, and take the worker's id and the time as their first own
-- arguments.
-- ARGV  worker id, now (Unix ms), then the script's own arguments
-- start() returns one of:
--   {'start', key, executor, payload, timeout, retries, hook ('1' or ''), result of each
--    dependency (JSON or '')...}
--   {'missing'}        the run or task does not exist (expired, never created): acknowledged
--   {'done', n}        the task already succeeded; its n successors still lacking jobs (a crash
--                      between recording the result and enqueueing them) were enqueued
--   {'reschedule'}     the task awaits a retry whose delayed job may be missing: it was scheduled
--   {'failed'}         the task failed for good: the job went to the dead letters
--   {'skip', status}   nothing to do (duplicate, stale or canceled job): acknowledged
--   {'queues', name...} these queues were not declared: nothing was done, ask again with them
local worker, now = ARGV[first_arg], ARGV[first_arg + 1]

local function start(run, run_id, task, attempt, redeliveries, queue, priority, entry)
  local f = fields_of(task)
  -- One read of everything a job that starts needs (what only a settled job needs is read
  -- when it is: every field named costs Redis time, and most are absent).
  local state = redis.call('HMGET', run, 'status', f.status, f.attempt, f.delivery, f.key, f.executor,
    'payload', f.timeout, f.retries, f.deps, f.hook, 'created')
  local run_status, status = state[1], state[2]
  if not run_status or not status then
    ack(queue, priority, entry)
    return {'missing'}
  end
  -- Attempts and deliveries are compared as the decimal strings they are stored as; a task
  -- stores no attempt until its second, no delivery until its first redelivery.
  local current_attempt = state[3] or '1'
  local delivery = state[4] or '0'

  if status == 'success' then
    -- A task's queue is its run's unless it names one (and a run's the default unless it
    -- names one).
    local more = redis.call('HMGET', run, f.succ, 'queue')
    local run_queue = more[2] or DEFAULT_QUEUE
    local ready = {}
    local needed = {}
    for s in string.gmatch(more[1] or '', '[^,]+') do
      local sf = fields_of(s)
      local next_state = redis.call('HMGET', run, sf.status, sf.queue, sf.attempt)
      if next_state[1] == 'queued' and (next_state[3] or '1') == '1' then
        local successor_queue = next_state[2] or run_queue
        table.insert(ready, {s, successor_queue})
        table.insert(needed, successor_queue)
      end
    end
    local missing = undeclared(needed)
    if #missing > 0 then
      return {'queues', unpack(missing)}
    end
    for _, successor in ipairs(ready) do
      enqueue(successor[2], priority, run_id, successor[1])
    end
    ack(queue, priority, entry)
    return {'done', tostring(#ready)}
  end
  if status == 'retrying' and tonumber(attempt) < tonumber(current_attempt) then
    delay(queue, priority, run_id, task, current_attempt, redis.call('HGET', run, f.due) or now, true)
    ack(queue, priority, entry)
    return {'reschedule'}
  end
  if attempt ~= current_attempt then
    ack(queue, priority, entry)
    return {'skip', status}
  end
  if status == 'error' then
    dead_letter(queue, priority, entry, run_id, task, attempt, redeliveries,
      'task failed for good (recorded before a restart)', now)
    return {'failed'}
  end
  -- A running task is restarted only by a later delivery: its previous worker was presumed dead.
  local restart = status == 'running' and tonumber(redeliveries) > tonumber(delivery)
  if status ~= 'queued' and status ~= 'retrying' and not restart then
    ack(queue, priority, entry)
    return {'skip', status}
  end

  -- A task's `updated` is not written here: readers take the latest of it, `started` and
  -- `finished`. Its delivery is written only when it changes.
  if run_status == 'pending' then
    redis.call('HSET', run, f.status, 'running', f.worker, worker, f.started, now,
      'status', 'progress', 'updated', now, 'listed', 'progress ' .. now .. ' ' .. (state[12] or '') .. ' ')
  else
    redis.call('HSET', run, f.status, 'running', f.worker, worker, f.started, now)
  end
  if redeliveries ~= delivery then
    redis.call('HSET', run, f.delivery, redeliveries)
  end
  count(queue, 'started')

  local reply = {'start', state[5], state[6], state[7] or 'null', state[8] or '', state[9] or '0', state[11] or ''}
  if state[10] then
    for d in string.gmatch(state[10], '[^,]+') do
      table.insert(reply, redis.call('HGET', run, fields_of(d).result) or '')
    end
  end
  return reply
end
