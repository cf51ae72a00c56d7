-- Moves delayed jobs that are due onto their priority's stream.
-- KEYS[1] delayed sorted set, KEYS[2] high stream, KEYS[3] normal stream, KEYS[4] low stream,
-- KEYS[5] sorted set of the delayed jobs that are retries (a promoted job leaves it too)
-- ARGV[1] now (Unix ms), ARGV[2] most jobs to move
-- Members are 'PRIORITY|RUN|TASK|ATTEMPT|REDELIVERIES'. Returns how many jobs were moved.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local streams = {high = KEYS[2], normal = KEYS[3], low = KEYS[4]}
for _, member in ipairs(due) do
  local priority, run, task, attempt, redeliveries =
    string.match(member, '^(%a+)|(.+)|(%d+)|(%d+)|(%d+)$')
  local stream = streams[priority]
  if stream then
    redis.call('XADD', stream, '*', 'r', run, 't', task, 'a', attempt, 'd', redeliveries)
  end
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZREM', KEYS[5], member)
end
return #due
