-- Takes the jobs a worker woke for: reads up to `count` new jobs of one queue's priority stream
-- of one shard for the worker, and starts those it was told of (seen by the wait that woke the
-- worker, so their runs' keys are among KEYS), in one step: a job cannot be read by a worker
-- and left unstarted by a crash in between, and a woken job starts one round trip sooner.
-- Nothing is read while the queue's pause marker is set. When it read as many jobs as asked
-- for, it wakes another waiting worker for the rest. (Opens with shard_prelude.lua, then
-- start_job.lua.)
-- KEYS  per job seen: its run's hash
-- ARGV  worker id (also its consumer name), now (Unix ms), queue, priority, most jobs to read
--       (count), then per job seen: its stream entry id, its run id
-- Returns {'paused'} when the queue is paused on this shard (nothing was read), else
-- {'read', entry...} with each entry read: {entry id, its fields (a flat list), what start()
-- returned for it, or an empty list when it was not started here (not a job seen, or one that
-- needs queues not declared): the caller starts those itself}.
local queue, priority, count = ARGV[first_arg + 2], ARGV[first_arg + 3], ARGV[first_arg + 4]
if redis.call('EXISTS', queue_key(queue, 'paused')) == 1 then
  return {'paused'}
end

-- The jobs seen, by entry id: their run's key and id.
local seen = {}
local arg = first_arg + 5
local key = first_item_key
while arg <= #ARGV do
  seen[ARGV[arg]] = {KEYS[key], ARGV[arg + 1]}
  key = key + 1
  arg = arg + 2
end

local out = {'read'}
local read = redis.call('XREADGROUP', 'GROUP', GROUP, worker, 'COUNT', count,
  'STREAMS', queue_key(queue, priority), '>')
if read then
  for _, entry in ipairs(read[1][2]) do
    local id, fields = entry[1], entry[2]
    local job = {}
    for i = 1, #fields, 2 do
      job[fields[i]] = fields[i + 1]
    end
    local known = seen[id]
    local started = {}
    -- An entry leaves out its redeliveries while there are none.
    if known and job.r == known[2] and job.t and job.a then
      started = start(known[1], job.r, job.t, job.a, job.d or '0', queue, priority, id)
      if started[1] == 'queues' then
        started = {}
      end
    end
    table.insert(out, {id, fields, started})
  end
  -- As many as asked for: more may be waiting, so another waiting worker is woken for them.
  if #read[1][2] >= tonumber(count) then
    wake(queue, priority, '-')
  end
end
flush()
return out
