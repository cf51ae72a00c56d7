-- Moves delayed jobs that are due onto their priority's stream, and puts the newest job
-- moved to each stream on that stream's wake list (see shard_prelude.lua's `wake`).
-- KEYS[1] delayed sorted set, KEYS[2] high stream, KEYS[3] normal stream, KEYS[4] low stream,
-- KEYS[5] sorted set of the delayed jobs that are retries (a promoted job leaves it too),
-- KEYS[6] high, KEYS[7] normal, KEYS[8] low stream's wake list
-- ARGV[1] now (Unix ms), ARGV[2] most jobs to move
-- Members are 'PRIORITY|RUN|TASK|ATTEMPT|REDELIVERIES'. Returns how many jobs were moved.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local streams = {high = KEYS[2], normal = KEYS[3], low = KEYS[4]}
local wake_lists = {high = KEYS[6], normal = KEYS[7], low = KEYS[8]}
local newest = {}
for _, member in ipairs(due) do
  local priority, run, task, attempt, redeliveries =
    string.match(member, '^(%a+)|(.+)|(%d+)|(%d+)|(%d+)$')
  local stream = streams[priority]
  if stream then
    -- An entry leaves out its redeliveries while there are none (see shard_prelude.lua's
    -- `enqueue`).
    local entry
    if redeliveries == '0' then
      entry = redis.call('XADD', stream, '*', 'r', run, 't', task, 'a', attempt)
    else
      entry = redis.call('XADD', stream, '*', 'r', run, 't', task, 'a', attempt, 'd', redeliveries)
    end
    newest[priority] = entry .. '|' .. run .. '|' .. task .. '|' .. attempt .. '|' .. redeliveries
  end
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZREM', KEYS[5], member)
end
for priority, job in pairs(newest) do
  redis.call('DEL', wake_lists[priority])
  redis.call('RPUSH', wake_lists[priority], job)
end
return #due
