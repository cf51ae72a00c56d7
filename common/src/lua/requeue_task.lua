-- Gives a task that failed for good a new attempt (an operator's requeue from the dead letter),
-- reopens its run, and releases successors that became ready while the run was failed.
-- KEYS[1] run hash, KEYS[2] run log stream
-- ARGV[1] task index, ARGV[2] now (Unix ms)
-- Returns {'missing'}, {'skip', status} or {'queued', task, attempt, queue, task, attempt, queue, ...}
local run = KEYS[1]
local p = 't' .. ARGV[1] .. '.'
local now = ARGV[2]
local state = redis.call('HMGET', run, 'status', p .. 'status', p .. 'attempt', p .. 'queue', 'ntasks', 'created',
  'queue')
-- A task stores no attempt until its second, its queue only when it is not its run's, and a
-- run its queue only when it is not the default.
local run_queue = state[7] or DEFAULT_QUEUE
if not state[1] or not state[2] then
  return {'missing'}
end
if state[2] ~= 'error' or state[1] == 'canceled' then
  return {'skip', state[2]}
end
local attempt = tonumber(state[3] or '1') + 1
redis.call('HSET', run, p .. 'status', 'queued', p .. 'attempt', attempt, p .. 'delivery', 0, p .. 'updated', now)
redis.call('HDEL', run, p .. 'finished')
local out = {'queued', ARGV[1], attempt, state[4] or run_queue}
for i = 0, tonumber(state[5]) - 1 do
  local ip = 't' .. i .. '.'
  local other = redis.call('HMGET', run, ip .. 'status', ip .. 'waiting', ip .. 'attempt', ip .. 'queue')
  if other[1] == 'pending' and (tonumber(other[2]) or 0) <= 0 then
    redis.call('HSET', run, ip .. 'status', 'queued', ip .. 'updated', now)
    table.insert(out, i)
    table.insert(out, other[3] or '1')
    table.insert(out, other[4] or run_queue)
  end
end
if state[1] == 'error' then
  redis.call('HSET', run, 'status', 'progress', 'updated', now, 'listed', 'progress ' .. now .. ' ' .. (state[6] or '') .. ' ')
  redis.call('HDEL', run, 'finished')
  redis.call('PERSIST', run)
  redis.call('PERSIST', KEYS[2])
end
return out
