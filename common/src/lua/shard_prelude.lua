-- Shared opening of every shard script (batches of runs and jobs on one shard).
-- KEYS  the shard's run index block (for each kind of KINDS: all runs, active runs, definitions,
--       then the finished runs of each status of FINISHED), then one block of 7 keys per
--       declared queue (high, normal, low streams, delayed, retries, dead letters, counters),
--       then the keys of each item of the batch.
-- ARGV  [1] number of declared queues, then their names, then the script's own arguments.
local KINDS = {'workflow', 'report', 'release', 'project'}
local FINISHED = {'success', 'error', 'canceled'}
local GROUP = 'baton'

local index = {}
local next_key = 1
for _, kind in ipairs(KINDS) do
  local entry = {all = KEYS[next_key], active = KEYS[next_key + 1], defs = KEYS[next_key + 2], finished = {}}
  next_key = next_key + 3
  for _, status in ipairs(FINISHED) do
    entry.finished[status] = KEYS[next_key]
    next_key = next_key + 1
  end
  index[kind] = entry
end

local declared = tonumber(ARGV[1])
local queues = {}
for i = 1, declared do
  queues[ARGV[1 + i]] = {high = KEYS[next_key], normal = KEYS[next_key + 1], low = KEYS[next_key + 2],
    delayed = KEYS[next_key + 3], retrying = KEYS[next_key + 4], dead = KEYS[next_key + 5],
    stats = KEYS[next_key + 6]}
  next_key = next_key + 7
end
-- The first key and the first argument of the batch's items.
local first_item_key = next_key
local first_arg = declared + 2

-- Counter increments of the batch, written once per queue and counter at the end.
local counts = {}
local function count(queue, name, by)
  local per_queue = counts[queue]
  if not per_queue then
    per_queue = {}
    counts[queue] = per_queue
  end
  per_queue[name] = (per_queue[name] or 0) + (by or 1)
end
local function flush_counts()
  for queue, per_queue in pairs(counts) do
    for name, by in pairs(per_queue) do
      redis.call('HINCRBY', queues[queue].stats, name, by)
    end
  end
end

-- The declared queues among `names` that are missing, as a list (empty when all are declared).
local function undeclared(names)
  local missing = {}
  for _, name in ipairs(names) do
    if not queues[name] then
      table.insert(missing, name)
    end
  end
  return missing
end

-- The queues a run's tasks use: its `queues` field (set when they are several), else its queue.
local function run_queues(run)
  local fields = redis.call('HMGET', run, 'queue', 'queues')
  local names = {}
  for name in string.gmatch(fields[2] or fields[1] or '', '[^,]+') do
    table.insert(names, name)
  end
  return names
end

-- Adds the first attempt's job of task `task` of run `run_id` to its queue's stream.
local function enqueue(queue, priority, run_id, task, attempt)
  redis.call('XADD', queues[queue][priority], '*', 'r', run_id, 't', task, 'a', attempt or 1, 'd', 0)
  count(queue, 'enqueued')
end

-- Adds a job to its queue's delayed set, due at `due`; a retry also goes to the retries set.
local function delay(queue, priority, run_id, task, attempt, due, is_retry)
  local member = priority .. '|' .. run_id .. '|' .. task .. '|' .. attempt .. '|0'
  redis.call('ZADD', queues[queue].delayed, due, member)
  if is_retry then
    redis.call('ZADD', queues[queue].retrying, due, member)
  end
end

-- Acknowledges a job read from its queue's stream.
local function ack(queue, priority, entry)
  redis.call('XACK', queues[queue][priority], GROUP, entry)
end

-- Moves a job to its queue's dead letters, once: the acknowledgement guards the move.
local function dead_letter(queue, priority, entry, run_id, task, attempt, redeliveries, error, now)
  local stream = queues[queue][priority]
  if redis.call('XACK', stream, GROUP, entry) == 0 then
    return
  end
  redis.call('XDEL', stream, entry)
  redis.call('XADD', queues[queue].dead, '*', 'r', run_id, 't', task, 'a', attempt, 'd', redeliveries,
    'p', priority, 'error', error, 'at', now)
  count(queue, 'dead')
end

-- Moves a run that just finished with `status` from its kind's active index to its finished one.
local function index_finished(run, run_id, status)
  local fields = redis.call('HMGET', run, 'kind', 'created')
  local entry = index[fields[1] or '']
  if entry and entry.finished[status] then
    redis.call('ZREM', entry.active, run_id)
    redis.call('ZADD', entry.finished[status], tonumber(fields[2]) or 0, run_id)
  end
end
