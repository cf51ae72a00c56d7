-- Reads tasks of project runs of one shard, each with the fields of its run and of itself
-- that a task's pages show and the key and result of each task it depends on, without the
-- run's other tasks. Reads only.
-- KEYS  per task: its run's hash
-- ARGV  [1] number R of run fields, then their names; then the number T of the task's field
--       suffixes (the first is 'deps'), then the suffixes; then, per task, its index
-- Returns, per task: {{the run's fields, then the task's (nil when absent)},
--                     {key, result of each task it depends on, in turn}}
local run_count = tonumber(ARGV[1])
local task_count = tonumber(ARGV[2 + run_count])
local first_index = 3 + run_count + task_count

local names = {}
for r = 1, run_count do
  names[r] = ARGV[1 + r]
end

local out = {}
for i = 1, #KEYS do
  local prefix = 't' .. ARGV[first_index + i - 1] .. '.'
  for t = 1, task_count do
    names[run_count + t] = prefix .. ARGV[2 + run_count + t]
  end
  local values = redis.call('HMGET', KEYS[i], unpack(names))
  local prerequisites = {}
  for dep in string.gmatch(values[run_count + 1] or '', '[^,]+') do
    local found = redis.call('HMGET', KEYS[i], 't' .. dep .. '.key', 't' .. dep .. '.result')
    table.insert(prerequisites, found[1])
    table.insert(prerequisites, found[2])
  end
  out[i] = {values, prerequisites}
end
return out
