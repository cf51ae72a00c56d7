-- Sets a project's status as its managers steer it (the project hash's `status`): `paused`,
-- `active` (the field removed) or `aborted`. An aborted project stays aborted: pausing or
-- resuming it changes nothing, whichever of the two requests comes first.
-- KEYS[1] project hash
-- ARGV[1] 'paused', 'active' or 'aborted', ARGV[2] now (Unix ms)
-- Returns one of:
--   {'missing'}            no such project
--   {'aborted'}            refused: the project was ended
--   {'set', previous}      done; previous is 'active', 'paused' or 'aborted'
local project = KEYS[1]
local state = redis.call('HMGET', project, 'run', 'status')
if not state[1] then
  return {'missing'}
end
local previous = state[2] or 'active'
if previous == 'aborted' and ARGV[1] ~= 'aborted' then
  return {'aborted'}
end
if ARGV[1] == 'active' then
  redis.call('HDEL', project, 'status')
else
  redis.call('HSET', project, 'status', ARGV[1])
end
if previous ~= ARGV[1] then
  redis.call('HSET', project, 'status_changed', ARGV[2])
end
return {'set', previous}
