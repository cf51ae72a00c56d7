-- Starts the attempts a batch of jobs of one shard asks for, each only if its job is the task's
-- current attempt, or settles the job and says why not. (Opens with shard_prelude.lua, then
-- start_job.lua.)
-- KEYS  per job: its run's hash
-- ARGV  worker id, now (Unix ms), then per job: run id, task, attempt, redeliveries of the job, queue,
--       priority, stream entry id
-- Returns, per job, what start() returns (see start_job.lua).
local out = {}

local arg = first_arg + 2
local key = first_item_key
while arg <= #ARGV do
  local run, run_id = KEYS[key], ARGV[arg]
  local task, attempt, redeliveries = ARGV[arg + 1], ARGV[arg + 2], ARGV[arg + 3]
  local queue, priority, entry = ARGV[arg + 4], ARGV[arg + 5], ARGV[arg + 6]
  key = key + 1
  arg = arg + 7
  if not queue_at[queue] then
    table.insert(out, {'queues', queue})
  else
    table.insert(out, start(run, run_id, task, attempt, redeliveries, queue, priority, entry))
  end
end
flush()
return out
