-- Creates runs of one shard, each in its shard's active and definition indexes and with its
-- first jobs, unless it exists, so creating twice is harmless. (Opens with shard_prelude.lua.)
-- The run hash's fields that follow from a run's own arguments (its definition, kind, status,
-- times, queue, priority and task count) are written here rather than sent: every argument
-- costs Redis time, paid once per queued job. What every reader takes as the default is not
-- written at all, since every byte of a run hash is held for each queued job: a `null`
-- payload, the `normal` priority, the default queue, a task's queue when it is its run's, a
-- task's first attempt, a task's id (derived from its run's id and its index).
-- KEYS  per run: its hash, its definition's index
-- ARGV  now (Unix ms), the `listed` field of a run created now, then per run: id, kind,
--       definition, priority, queue, payload, due (Unix ms, 0 for now), number of tasks T,
--       number of further values E, E further fields and values (what differs from the
--       defaults), then T times: task key, executor, queue, status. The tasks whose status is
--       `queued` are its first jobs.
-- Returns, per run, 1 when it was created and 0 when it already existed.
-- Kept as the decimal string it came as: scores and fields take it as is.
local now = ARGV[first_arg]
local now_ms = tonumber(now)
local listed = ARGV[first_arg + 1]
local arg = first_arg + 2
local key = first_item_key
local created = {}
-- The definitions already recorded by this call, per kind: each is added to its set once.
local recorded = {}
-- The values each task takes: key, executor, queue, status.
local TASK_VALUES = 4
-- A call of one run (two keys) writes its index entries and counters as it goes.
writes_now = #KEYS == first_item_key + 1
while arg <= #ARGV do
  local run, definition_index = KEYS[key], KEYS[key + 1]
  key = key + 2
  local run_id, kind, definition, priority = ARGV[arg], ARGV[arg + 1], ARGV[arg + 2], ARGV[arg + 3]
  local queue, payload, due, ntasks = ARGV[arg + 4], ARGV[arg + 5], ARGV[arg + 6], ARGV[arg + 7]
  local tasks = tonumber(ntasks)
  local further_from = arg + 9
  local tasks_from = further_from + tonumber(ARGV[arg + 8])
  arg = tasks_from + TASK_VALUES * tasks
  if redis.call('EXISTS', run) == 1 then
    table.insert(created, 0)
  else
    local fields = {'definition', definition, 'kind', kind, 'status', 'pending', 'created', now,
      'ntasks', ntasks, 'listed', listed}
    local n = #fields
    if queue ~= DEFAULT_QUEUE then
      fields[n + 1], fields[n + 2] = 'queue', queue
      n = n + 2
    end
    if payload ~= 'null' then
      fields[n + 1], fields[n + 2] = 'payload', payload
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
    for task = 0, tasks - 1 do
      local at = tasks_from + TASK_VALUES * task
      local prefix = 't' .. (COUNT_TEXT[task] or tostring(task)) .. '.'
      fields[n + 1], fields[n + 2] = prefix .. 'key', ARGV[at]
      fields[n + 3], fields[n + 4] = prefix .. 'executor', ARGV[at + 1]
      fields[n + 5], fields[n + 6] = prefix .. 'status', ARGV[at + 3]
      n = n + 6
      if ARGV[at + 2] ~= queue then
        fields[n + 1], fields[n + 2] = prefix .. 'queue', ARGV[at + 2]
        n = n + 2
      end
    end
    in_chunks(fields, function(...) redis.call('HSET', run, ...) end)
    index_add(index_key(kind, 'active'), now, run_id)
    index_add(definition_index, now, run_id)
    local definitions = inner(recorded, kind)
    if not definitions[definition] then
      definitions[definition] = true
      redis.call('SADD', index_key(kind, 'defs'), definition)
    end
    local delayed = due ~= '0' and tonumber(due) > now_ms
    for task = 0, tasks - 1 do
      local at = tasks_from + TASK_VALUES * task
      if ARGV[at + 3] == 'queued' then
        local task_queue, index = ARGV[at + 2], COUNT_TEXT[task] or tostring(task)
        if delayed then
          delay(task_queue, priority, run_id, index, 1, due, false)
          count(task_queue, 'enqueued')
        else
          enqueue(task_queue, priority, run_id, index)
        end
      end
    end
    table.insert(created, 1)
  end
end
flush()
return created
