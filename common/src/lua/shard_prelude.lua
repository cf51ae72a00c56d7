-- Shared opening of every shard script (batches of runs and jobs on one shard).
-- KEYS  the run index keys of each declared kind (its active runs, its definitions, then its
--       finished runs of each status of FINISHED), then one block of 11 keys per declared
--       queue (high, normal, low streams, delayed, retries, dead letters, counters, pause
--       marker, then the high, normal and low streams' wake lists), then the keys of each item
--       of the batch. A script declares only the kinds whose indexes it writes: every key
--       costs Redis time on every call.
-- ARGV  [1] number of declared kinds, then their names, then the number of declared queues,
--       then their names, then the script's own arguments.
-- FINISHED: success, error, canceled.
local GROUP = 'baton'

-- The position of each finished status's key in a kind's index keys, after its active runs
-- and its definitions.
local SLOT_AT = {active = 0, defs = 1, success = 2, error = 3, canceled = 4}

-- Where each declared kind's index keys start.
local kinds = tonumber(ARGV[1])
local kind_at = {}
for i = 1, kinds do
  kind_at[ARGV[1 + i]] = 1 + (i - 1) * 5
end

-- The index key `slot` (active, defs or a finished status) of runs of `kind`, or nil when
-- the kind was not declared.
local function index_key(kind, slot)
  local at = kind_at[kind]
  if not at then
    return nil
  end
  return KEYS[at + SLOT_AT[slot]]
end

-- Where each declared queue's key block starts.
local queues_arg = kinds + 2
local declared = tonumber(ARGV[queues_arg])
local first_queue_key = 1 + kinds * 5
local queue_at = {}
for i = 1, declared do
  queue_at[ARGV[queues_arg + i]] = first_queue_key + (i - 1) * 11
end
local QUEUE_SLOT = {high = 0, normal = 1, low = 2, delayed = 3, retrying = 4, dead = 5, stats = 6, paused = 7,
  wake_high = 8, wake_normal = 9, wake_low = 10}

-- The key `slot` (a priority's stream, delayed, retrying, dead, stats, paused or a priority's
-- wake list) of a declared queue.
local function queue_key(queue, slot)
  return KEYS[queue_at[queue] + QUEUE_SLOT[slot]]
end

-- The first key and the first argument of the batch's items.
local first_item_key = first_queue_key + declared * 11
local first_arg = queues_arg + declared + 1

-- The table `outer[key]`, made (empty) when it is missing.
local function inner(outer, key)
  local found = outer[key]
  if not found then
    found = {}
    outer[key] = found
  end
  return found
end

-- True when the call holds one item: its writes are made as they come, since there is
-- nothing to gather them with, and gathering costs more than it saves.
local writes_now = false

-- Counter increments of the batch, written once per queue and counter at the end.
local counts = {}
local function count(queue, name, by)
  if writes_now then
    redis.call('HINCRBY', queue_key(queue, 'stats'), name, by or 1)
    return
  end
  local per_queue = inner(counts, queue)
  per_queue[name] = (per_queue[name] or 0) + (by or 1)
end

-- The declared queues among `names` that are missing, as a list (empty when all are declared).
local function undeclared(names)
  local missing = {}
  for _, name in ipairs(names) do
    if not queue_at[name] then
      table.insert(missing, name)
    end
  end
  return missing
end

-- The queues a run's tasks use: its `queues` field (set when they are several), else its queue.
local function run_queues(run)
  local fields = redis.call('HMGET', run, 'queue', 'queues')
  local names = {}
  for name in string.gmatch(fields[2] or fields[1] or DEFAULT_QUEUE, '[^,]+') do
    table.insert(names, name)
  end
  return names
end

-- Puts `job` (`ENTRY|RUN|TASK|ATTEMPT|REDELIVERIES`, or '-' when not known) on the wake list of
-- a queue's priority stream in place of what it held: a worker waiting there with BLPOP wakes,
-- one worker per call.
local function wake(queue, priority, job)
  local list = queue_key(queue, 'wake_' .. priority)
  redis.call('DEL', list)
  redis.call('RPUSH', list, job)
end

-- The newest job the batch added to each stream: {queue, priority, entry, run, task, attempt},
-- announced on the stream's wake list once, at the end (see `flush`).
local newest = {}

-- Adds the job of task `task` of run `run_id` (its first attempt unless `attempt` is given) to
-- its queue's stream. A job's entry leaves out its redeliveries while there are none: readers
-- take 0 (as every reader since redeliveries were counted does).
local function enqueue(queue, priority, run_id, task, attempt)
  local stream = queue_key(queue, priority)
  local entry = redis.call('XADD', stream, '*', 'r', run_id, 't', task, 'a', attempt or '1')
  count(queue, 'enqueued')
  local last = newest[stream]
  if not last then
    last = {queue, priority}
    newest[stream] = last
  end
  last[3], last[4], last[5], last[6] = entry, run_id, task, attempt or '1'
end

-- Adds a job to its queue's delayed set, due at `due`; a retry also goes to the retries set.
local function delay(queue, priority, run_id, task, attempt, due, is_retry)
  local member = priority .. '|' .. run_id .. '|' .. task .. '|' .. attempt .. '|0'
  redis.call('ZADD', queue_key(queue, 'delayed'), due, member)
  if is_retry then
    redis.call('ZADD', queue_key(queue, 'retrying'), due, member)
  end
end

-- Calls `call` with the values of the list `values`, at most 1,000 at a time (an even number,
-- so pairs stay together): Lua's unpack() is limited to a few thousand values.
local function in_chunks(values, call)
  for first = 1, #values, 1000 do
    call(unpack(values, first, math.min(first + 999, #values)))
  end
end

-- Run index writes of the batch, per sorted set: member -> the score to add it with, or false
-- to remove it. The last write of a member wins, as if each were made in its turn; they are
-- made at the end, one ZADD and one ZREM per sorted set (see `flush`), which costs Redis less
-- than a command per run.
local index_writes = {}
local function index_write(key, member, score)
  if writes_now then
    if score then
      redis.call('ZADD', key, score, member)
    else
      redis.call('ZREM', key, member)
    end
    return
  end
  inner(index_writes, key)[member] = score
end

-- Adds (or moves) `member` to sorted set `key` with `score`, at the end of the batch.
local function index_add(key, score, member)
  index_write(key, member, score)
end

-- Removes `member` from sorted set `key`, at the end of the batch.
local function index_remove(key, member)
  index_write(key, member, false)
end

-- Acknowledgements of the batch, per stream, sent as one XACK per stream at the end (within
-- the same script, so as atomic as one XACK per job).
local acks = {}
local acked = {}
local function ack(queue, priority, entry)
  local stream = queue_key(queue, priority)
  local seen = inner(acked, stream)
  if not seen[entry] then
    seen[entry] = true
    table.insert(inner(acks, stream), entry)
  end
end

-- Moves a job to its queue's dead letters, once: the acknowledgement guards the move.
local function dead_letter(queue, priority, entry, run_id, task, attempt, redeliveries, error, now)
  local stream = queue_key(queue, priority)
  if (acked[stream] and acked[stream][entry]) or redis.call('XACK', stream, GROUP, entry) == 0 then
    return
  end
  redis.call('XDEL', stream, entry)
  redis.call('XADD', queue_key(queue, 'dead'), '*', 'r', run_id, 't', task, 'a', attempt, 'd', redeliveries,
    'p', priority, 'error', error, 'at', now)
  count(queue, 'dead')
end

-- Writes what the batch deferred: the counter increments, the run index writes, the
-- acknowledgements, then the newest job of each stream it added to on that stream's wake list.
local function flush()
  for queue, per_queue in pairs(counts) do
    for name, by in pairs(per_queue) do
      redis.call('HINCRBY', queue_key(queue, 'stats'), name, by)
    end
  end
  for key, writes in pairs(index_writes) do
    local adds, removes = {}, {}
    for member, score in pairs(writes) do
      if score then
        table.insert(adds, score)
        table.insert(adds, member)
      else
        table.insert(removes, member)
      end
    end
    in_chunks(adds, function(...) redis.call('ZADD', key, ...) end)
    in_chunks(removes, function(...) redis.call('ZREM', key, ...) end)
  end
  for stream, entries in pairs(acks) do
    in_chunks(entries, function(...) redis.call('XACK', stream, GROUP, ...) end)
  end
  for _, last in pairs(newest) do
    wake(last[1], last[2], last[3] .. '|' .. last[4] .. '|' .. last[5] .. '|' .. last[6] .. '|0')
  end
end

-- The hash field names of task `task` (`fields_of(task).status` is `tN.status`), each built once
-- per call: a batch names the same fields for many jobs.
local task_field_names = {}
local function fields_of(task)
  local names = task_field_names[task]
  if not names then
    local p = 't' .. task .. '.'
    names = setmetatable({}, {__index = function(built, name)
      local field = p .. name
      built[name] = field
      return field
    end})
    task_field_names[task] = names
  end
  return names
end

-- Small counts as the text a reply carries, without formatting a number each time.
local COUNT_TEXT = {[0] = '0', '1', '2', '3'}
