-- Fails a task for good whatever worker holds it: used when its job was lost too many times.
-- KEYS[1] run hash, KEYS[2] run log stream
-- ARGV[1] task index, ARGV[2] attempt, ARGV[3] error message, ARGV[4] now (Unix ms), ARGV[5] retention (s)
-- Returns {1} when the task was failed ({1, hook, queue} when that failed the run and it has a
-- failure hook to enqueue), {0} when it was already finished or at another attempt.
local run = KEYS[1]
local p = 't' .. ARGV[1] .. '.'
local state = redis.call('HMGET', run, 'status', p .. 'status', p .. 'attempt', 'hook_failure', 'created')
-- A task stores no attempt until its second.
if not state[1] or tonumber(state[3] or '1') ~= tonumber(ARGV[2]) then
  return {0}
end
if state[2] ~= 'queued' and state[2] ~= 'running' and state[2] ~= 'retrying' then
  return {0}
end
redis.call('HSET', run, p .. 'status', 'error', p .. 'error', ARGV[3], p .. 'finished', ARGV[4], p .. 'updated', ARGV[4])
if state[1] == 'pending' or state[1] == 'progress' then
  redis.call('HSET', run, 'status', 'error', 'updated', ARGV[4], 'finished', ARGV[4],
    'listed', 'error ' .. ARGV[4] .. ' ' .. (state[5] or '') .. ' ' .. ARGV[4])
  -- A run marked `keep` (a project) stays; any other expires with the retention period.
  if redis.call('HEXISTS', run, 'keep') == 0 then
    redis.call('EXPIRE', run, tonumber(ARGV[5]))
    redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
  end
  if state[4] then
    local hp = 't' .. state[4] .. '.'
    redis.call('HSET', run, hp .. 'status', 'queued', hp .. 'updated', ARGV[4])
    -- A task's queue is its run's unless it names one, and a run's the default unless it does.
    local queue = redis.call('HMGET', run, hp .. 'queue', 'queue')
    return {1, state[4], queue[1] or queue[2] or DEFAULT_QUEUE}
  end
end
return {1}
