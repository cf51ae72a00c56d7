-- Creates runs of one shard, each in its shard's active and definition indexes and with its
-- first jobs, unless it exists, so creating twice is harmless. (Opens with shard_prelude.lua.)
-- KEYS  per run: its hash, its definition's index
-- ARGV  now (Unix ms), then per run: id, kind, definition, priority, number of fields F,
--       F fields and values, number of root tasks R, then R times: task, queue, due (Unix ms, 0
--       for now)
-- Returns, per run, 1 when it was created and 0 when it already existed.
-- Kept as the decimal string it came as: scores and fields take it as is.
local now = ARGV[first_arg]
local now_ms = tonumber(now)
local arg = first_arg + 1
local key = first_item_key
local created = {}
-- The definitions already recorded by this call, per kind: each is added to its set once.
local recorded = {}
while arg <= #ARGV do
  local run, definition_index = KEYS[key], KEYS[key + 1]
  key = key + 2
  local run_id, kind, definition, priority = ARGV[arg], ARGV[arg + 1], ARGV[arg + 2], ARGV[arg + 3]
  local nfields = tonumber(ARGV[arg + 4])
  local fields_from = arg + 5
  local roots_at = fields_from + nfields
  local nroots = tonumber(ARGV[roots_at])
  arg = roots_at + 1 + 3 * nroots
  if redis.call('EXISTS', run) == 1 then
    table.insert(created, 0)
  else
    -- HSET in chunks: Lua's unpack() is limited to a few thousand values.
    local chunk = 1000
    for first = fields_from, roots_at - 1, chunk do
      redis.call('HSET', run, unpack(ARGV, first, math.min(first + chunk - 1, roots_at - 1)))
    end
    index_add(index_key(kind, 'active'), now, run_id)
    index_add(definition_index, now, run_id)
    local definitions = inner(recorded, kind)
    if not definitions[definition] then
      definitions[definition] = true
      redis.call('SADD', index_key(kind, 'defs'), definition)
    end
    for r = 0, nroots - 1 do
      local at = roots_at + 1 + 3 * r
      local task, queue, due = ARGV[at], ARGV[at + 1], ARGV[at + 2]
      if due ~= '0' and tonumber(due) > now_ms then
        delay(queue, priority, run_id, task, 1, due, false)
        count(queue, 'enqueued')
      else
        enqueue(queue, priority, run_id, task)
      end
    end
    table.insert(created, 1)
  end
end
flush()
return created
