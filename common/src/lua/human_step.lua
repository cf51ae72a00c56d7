-- Records a person's work on a human task they claimed: saving work in progress, or
-- submitting it. Guarded: only the claimant, only while the task runs, one submission.
-- KEYS[1] run hash
-- ARGV[1] 'save' or 'submit', ARGV[2] task index, ARGV[3] the person (the consumer that
-- claimed it), ARGV[4] the data (JSON), ARGV[5] the snapshot (JSON, submit), ARGV[6] now (Unix ms)
-- Returns one of:
--   {'missing'}                        the run or task does not exist
--   {'machine'}                        the task is not a human step
--   {'not_claimed', status}            nobody claimed it yet (status queued or pending)
--   {'not_yours', status, worker}      someone else claimed it
--   {'closed', status}                 it is no longer open (submitted, finished or canceled)
--   {'saved'}                          the work in progress is stored
--   {'submitted', data, status}        the submission is recorded; finish the task
--   {'resubmitted', data, status}      it was submitted before, with data: finish the task
--                                      if it still runs (the submitter stopped midway)
local run = KEYS[1]
local p = 't' .. ARGV[2] .. '.'
local state = redis.call('HMGET', run, 'status', p .. 'status', p .. 'executor', p .. 'worker', p .. 'submitted',
  p .. 'submission')
local status = state[2]
if not state[1] or not status then
  return {'missing'}
end
if state[3] ~= '{"type":"human"}' then
  return {'machine'}
end
if status == 'pending' or status == 'queued' then
  return {'not_claimed', status}
end
if state[4] ~= ARGV[3] then
  return {'not_yours', status, state[4] or ''}
end
if state[5] == '1' then
  if ARGV[1] == 'submit' then
    return {'resubmitted', state[6], status}
  end
  return {'closed', status}
end
if status ~= 'running' then
  return {'closed', status}
end
if ARGV[1] == 'save' then
  redis.call('HSET', run, p .. 'work', ARGV[4], p .. 'saved', ARGV[6], p .. 'updated', ARGV[6])
  return {'saved'}
end
redis.call('HSET', run, p .. 'work', ARGV[4], p .. 'submitted', '1', p .. 'submission', ARGV[4],
  p .. 'snapshot', ARGV[5], p .. 'updated', ARGV[6])
return {'submitted', ARGV[4], status}
