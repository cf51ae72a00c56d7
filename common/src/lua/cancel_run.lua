-- Cancels a run: every unfinished task becomes canceled, so queued jobs are skipped when
-- delivered; workers kill the running ones when told on the cancel channel.
-- KEYS[1] run hash, KEYS[2] run log stream
-- ARGV[1] now (Unix ms), ARGV[2] retention (s)
-- Returns {'missing'}, {'finished', status} or {'canceled', index of each task that was running...}
local run = KEYS[1]
local state = redis.call('HMGET', run, 'status', 'ntasks', 'created')
local status = state[1]
if not status then
  return {'missing'}
end
if status == 'success' or status == 'error' or status == 'canceled' then
  return {'finished', status}
end
local out = {'canceled'}
for i = 0, tonumber(state[2]) - 1 do
  local p = 't' .. i .. '.'
  local task_status = redis.call('HGET', run, p .. 'status')
  if task_status ~= 'success' and task_status ~= 'error' and task_status ~= 'canceled' then
    if task_status == 'running' then
      table.insert(out, i)
    end
    redis.call('HSET', run, p .. 'status', 'canceled', p .. 'updated', ARGV[1], p .. 'finished', ARGV[1])
  end
end
redis.call('HSET', run, 'status', 'canceled', 'updated', ARGV[1], 'finished', ARGV[1],
  'listed', 'canceled ' .. ARGV[1] .. ' ' .. (state[3] or '') .. ' ' .. ARGV[1])
-- A run marked `keep` (a project) stays; any other expires with the retention period.
if redis.call('HEXISTS', run, 'keep') == 0 then
  redis.call('EXPIRE', run, tonumber(ARGV[2]))
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
end
return out
