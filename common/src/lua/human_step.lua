-- Records a person's work on a human task: saving work in progress, submitting it, and the
-- review cycle of a step that requires one. Guarded: only the claimant works, only a person
-- other than the claimant reviews, only while the task runs, one final submission.
-- KEYS[1] run hash, KEYS[2] the shard's review queue (sorted set of tasks pending review),
-- KEYS[3] the set of the tasks the person reviews on the shard (members RUN_ID|TASK)
-- ARGV[1] 'save', 'submit', 'review_claim', 'accept' or 'reject'
-- ARGV[2] task index, ARGV[3] the person (their key id), ARGV[4] the data (JSON),
-- ARGV[5] the snapshot (JSON: submit, accept, reject), ARGV[6] now (Unix ms),
-- ARGV[7] '1' when the step requires review (submit), ARGV[8] the project's priority (submit),
-- ARGV[9] the reviewer's assignment id (review_claim), ARGV[10] the run id
-- The review states (`tN.review`): pending (submitted, waiting for a reviewer), reviewing (a
-- reviewer holds it), post_review (sent back to the claimant), accepted.
-- Returns one of:
--   {'missing'}                        the run or task does not exist
--   {'machine'}                        the task is not a human step
--   {'not_claimed', status}            nobody claimed it yet (status queued or pending)
--   {'not_yours', status, worker}      someone else claimed it
--   {'closed', status}                 it is no longer open (submitted, finished or canceled)
--   {'saved'}                          the work in progress is stored
--   {'submitted', data, status, worker}    the final submission is recorded (a submit without
--                                      review, or an accept): finish the task for `worker`
--   {'resubmitted', data, status, worker}  it was recorded before: finish the task if it
--                                      still runs (the submitter stopped midway)
--   {'in_review', data, review}        the submission waits for review (pending or reviewing)
--   {'in_review_again', data, review}  it was submitted for review before
--   {'review_claimed'}                 the caller reviews it now
--   {'review_yours'}                   the caller reviews it already
--   {'own_work'}                       the caller did the work: someone else must review it
--   {'not_pending', status, review}    it waits for no reviewer
--   {'not_reviewer', reviewer}         someone else reviews it
--   {'rejected', again}                sent back to the claimant ('1' when it was already)
local run = KEYS[1]
local op, task, person, data, snapshot, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local p = 't' .. task .. '.'
local state = redis.call('HMGET', run, 'status', p .. 'status', p .. 'executor', p .. 'worker', p .. 'submitted',
  p .. 'submission', p .. 'review', p .. 'reviewer', p .. 'review_member')
local status, worker, review, reviewer = state[2], state[4], state[7] or '', state[8]
if not state[1] or not status then
  return {'missing'}
end
if state[3] ~= '{"type":"human"}' then
  return {'machine'}
end

-- Appends `item` (JSON) to the JSON array in field `field`, as text (no re-encoding of data).
local function append(field, item)
  local list = redis.call('HGET', run, field)
  if not list or list == '[]' then
    list = '[' .. item .. ']'
  else
    list = string.sub(list, 1, -2) .. ',' .. item .. ']'
  end
  redis.call('HSET', run, field, list)
end

if op == 'review_claim' or op == 'accept' or op == 'reject' then
  if status ~= 'running' then
    if state[9] then
      redis.call('ZREM', KEYS[2], state[9])
    end
    redis.call('SREM', KEYS[3], ARGV[10] .. '|' .. task)
    return {'closed', status}
  end
  if op == 'review_claim' then
    if review == 'reviewing' and reviewer == person then
      return {'review_yours'}
    end
    if review ~= 'pending' then
      return {'not_pending', status, review}
    end
    if worker == person then
      return {'own_work'}
    end
    -- The reviewer keeps their assignment id across rounds of review.
    if not redis.call('HGET', run, p .. 'review_assignment') then
      redis.call('HSET', run, p .. 'review_assignment', ARGV[9], p .. 'review_started', now)
    end
    redis.call('HSET', run, p .. 'review', 'reviewing', p .. 'reviewer', person, p .. 'updated', now)
    redis.call('SADD', KEYS[3], ARGV[10] .. '|' .. task)
    if state[9] then
      redis.call('ZREM', KEYS[2], state[9])
      redis.call('HDEL', run, p .. 'review_member')
    end
    return {'review_claimed'}
  end
  if reviewer ~= person then
    if review == '' or review == 'pending' or not reviewer then
      return {'not_pending', status, review}
    end
    return {'not_reviewer', reviewer}
  end
  if op == 'accept' then
    if review == 'accepted' then
      return {'resubmitted', state[6], status, worker}
    end
    if review ~= 'reviewing' then
      return {'not_pending', status, review}
    end
    append(p .. 'review_snapshots', snapshot)
    redis.call('HSET', run, p .. 'review', 'accepted', p .. 'submitted', '1', p .. 'submission', data,
      p .. 'work', data, p .. 'updated', now)
    redis.call('SREM', KEYS[3], ARGV[10] .. '|' .. task)
    return {'submitted', data, status, worker}
  end
  -- reject
  if review == 'post_review' then
    return {'rejected', '1'}
  end
  if review ~= 'reviewing' then
    return {'not_pending', status, review}
  end
  append(p .. 'review_snapshots', snapshot)
  redis.call('HSET', run, p .. 'review', 'post_review', p .. 'work', data, p .. 'updated', now)
  return {'rejected', ''}
end

if status == 'pending' or status == 'queued' then
  return {'not_claimed', status}
end
if worker ~= person then
  return {'not_yours', status, worker or ''}
end
if state[5] == '1' then
  if op == 'submit' then
    return {'resubmitted', state[6], status, worker}
  end
  return {'closed', status}
end
if status ~= 'running' then
  return {'closed', status}
end
if review == 'pending' or review == 'reviewing' then
  if op == 'submit' then
    return {'in_review_again', redis.call('HGET', run, p .. 'work'), review}
  end
  return {'closed', status}
end
if op == 'save' then
  redis.call('HSET', run, p .. 'work', data, p .. 'saved', now, p .. 'updated', now)
  return {'saved'}
end
append(p .. 'snapshots', snapshot)
if ARGV[7] == '1' then
  if review == 'post_review' then
    -- Back to the reviewer who sent it back.
    redis.call('HSET', run, p .. 'work', data, p .. 'review', 'reviewing', p .. 'snapshot', snapshot,
      p .. 'updated', now)
    return {'in_review', data, 'reviewing'}
  end
  local member = string.format('%015d', tonumber(now)) .. '|' .. ARGV[10] .. '|' .. task
  redis.call('ZADD', KEYS[2], -tonumber(ARGV[8]), member)
  redis.call('HSET', run, p .. 'work', data, p .. 'review', 'pending', p .. 'review_member', member,
    p .. 'snapshot', snapshot, p .. 'updated', now)
  return {'in_review', data, 'pending'}
end
redis.call('HSET', run, p .. 'work', data, p .. 'submitted', '1', p .. 'submission', data,
  p .. 'snapshot', snapshot, p .. 'updated', now)
return {'submitted', data, status, worker}
