-- Creates runs of one shard, each in its shard's active and definition indexes and with its
-- first jobs, unless it exists, so creating twice is harmless. (Opens with shard_prelude.lua.)
-- The run hash's fields that follow from a run's own arguments (its definition, kind, status,
-- times, queue, priority and task count) are written here rather than sent: every argument
-- costs Redis time, paid once per queued job. What every reader takes as the default is not
-- written at all, since every byte of a run hash is held for each queued job: a `null`
-- payload, the `normal` priority, the default queue, a task's queue when it is its run's, a
-- task's first attempt, a task's id (derived from its run's id and its index).
-- Runs of one call often share everything but their id and payload (a bulk creation of one
-- workflow): what they share, their shape, is sent once and each run names its shape.
-- KEYS  per shape: its definition's index; then per run: its hash
-- ARGV  now (Unix ms), the `listed` field of a run created now, the number of shapes S, then
--       per shape: kind, definition, priority, queue, due (Unix ms, 0 for now), number of
--       tasks T, number of further values E, E further fields and values (what differs from
--       the defaults), then T times: task key, executor, queue, status; then per run: id, its
--       shape's number (1 for the first), payload. The tasks whose status is `queued` are a
--       run's first jobs.
-- Returns, per run, 1 when it was created and 0 when it already existed.
-- Kept as the decimal string it came as: scores and fields take it as is.
local now = ARGV[first_arg]
local now_ms = tonumber(now)
local listed = ARGV[first_arg + 1]
local shape_count = tonumber(ARGV[first_arg + 2])
-- The values each task takes: key, executor, queue, status.
local TASK_VALUES = 4

-- Each shape: what its runs share, read once: its kind, definition, priority, due time,
-- whether that is later than now, its definition's index key, the hash fields every run of it
-- starts with (a run adds its creation time, `listed` and its payload), the queue and index of
-- each task queued at creation (flat), and whether its definition was recorded by this call.
local shapes = {}
local arg = first_arg + 3
for number = 1, shape_count do
  local kind, definition, priority, queue = ARGV[arg], ARGV[arg + 1], ARGV[arg + 2], ARGV[arg + 3]
  local due, ntasks = ARGV[arg + 4], ARGV[arg + 5]
  local tasks = tonumber(ntasks)
  local further_from = arg + 7
  local tasks_from = further_from + tonumber(ARGV[arg + 6])
  arg = tasks_from + TASK_VALUES * tasks
  local fields = {'definition', definition, 'kind', kind, 'status', 'pending', 'ntasks', ntasks}
  local n = #fields
  if queue ~= DEFAULT_QUEUE then
    fields[n + 1], fields[n + 2] = 'queue', queue
    n = n + 2
  end
  if priority ~= 'normal' then
    fields[n + 1], fields[n + 2] = 'priority', priority
    n = n + 2
  end
  for at = further_from, tasks_from - 1 do
    n = n + 1
    fields[n] = ARGV[at]
  end
  local first_jobs = {}
  for task = 0, tasks - 1 do
    local at = tasks_from + TASK_VALUES * task
    local index = COUNT_TEXT[task] or tostring(task)
    local prefix = 't' .. index .. '.'
    local task_queue = ARGV[at + 2]
    fields[n + 1], fields[n + 2] = prefix .. 'key', ARGV[at]
    fields[n + 3], fields[n + 4] = prefix .. 'executor', ARGV[at + 1]
    fields[n + 5], fields[n + 6] = prefix .. 'status', ARGV[at + 3]
    n = n + 6
    if task_queue ~= queue then
      fields[n + 1], fields[n + 2] = prefix .. 'queue', task_queue
      n = n + 2
    end
    if ARGV[at + 3] == 'queued' then
      first_jobs[#first_jobs + 1] = task_queue
      first_jobs[#first_jobs + 1] = index
    end
  end
  shapes[number] = {kind, definition, priority, due, due ~= '0' and tonumber(due) > now_ms,
    KEYS[first_item_key + number - 1], fields, first_jobs}
end
-- Where each value of a shape is in its table.
local KIND, DEFINITION, PRIORITY, DUE, DELAYED, INDEX, FIELDS, FIRST_JOBS, RECORDED = 1, 2, 3, 4, 5, 6, 7, 8, 9

-- A call of one run (one shape, one run) writes its index entries and counters as it goes.
writes_now = #KEYS == first_item_key + 1
local first_run_key = first_item_key + shape_count
-- Whether any of the runs exists, asked once for the whole call: only then is each asked in
-- turn. A batch is nearly always all new, and one EXISTS of many keys costs Redis far less
-- than one per run. A run named twice in the call is known by `made` the second time.
local some_exist = false
local made = {}
for first = first_run_key, #KEYS, 1000 do
  if redis.call('EXISTS', unpack(KEYS, first, math.min(first + 999, #KEYS))) > 0 then
    some_exist = true
    break
  end
end
local created = {}
local key = first_run_key
while arg <= #ARGV do
  local run, run_id, shape, payload = KEYS[key], ARGV[arg], shapes[tonumber(ARGV[arg + 1])], ARGV[arg + 2]
  key = key + 1
  arg = arg + 3
  if made[run] or (some_exist and redis.call('EXISTS', run) == 1) then
    table.insert(created, 0)
  else
    -- The shape's fields, then the run's own, written by one HSET; the shape's are left as
    -- they were for its next run.
    local fields = shape[FIELDS]
    local n = #fields
    fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4] = 'created', now, 'listed', listed
    if payload ~= 'null' then
      fields[n + 5], fields[n + 6] = 'payload', payload
    end
    if #fields <= 1000 then
      redis.call('HSET', run, unpack(fields))
    else
      in_chunks(fields, function(...) redis.call('HSET', run, ...) end)
    end
    for at = #fields, n + 1, -1 do
      fields[at] = nil
    end
    local kind, priority = shape[KIND], shape[PRIORITY]
    index_add(index_key(kind, 'active'), now, run_id)
    index_add(shape[INDEX], now, run_id)
    if not shape[RECORDED] then
      shape[RECORDED] = true
      redis.call('SADD', index_key(kind, 'defs'), shape[DEFINITION])
    end
    local first_jobs = shape[FIRST_JOBS]
    for at = 1, #first_jobs, 2 do
      local queue, task = first_jobs[at], first_jobs[at + 1]
      if shape[DELAYED] then
        delay(queue, priority, run_id, task, 1, shape[DUE], false)
        count(queue, 'enqueued')
      else
        enqueue(queue, priority, run_id, task)
      end
    end
    made[run] = true
    table.insert(created, 1)
  end
end
flush()
return created
