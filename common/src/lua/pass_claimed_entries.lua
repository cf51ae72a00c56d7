-- Moves a human queue's consumer group past the entries at the head of its undelivered ones
-- that wait for nobody any more: tasks claimed by name (their entry is pending under the
-- person who holds them), finished or canceled tasks, and stale attempts. It stops at the
-- first entry whose task still waits to be claimed, so nothing waiting is ever passed over.
-- KEYS[1]     the stream (one priority of a human queue on one shard)
-- KEYS[2..]   the run hash of each entry, in the order of ARGV
-- ARGV[1]     the consumer group
-- ARGV[2..]   per entry: its id, its task index, its attempt (the entries as read, in order)
-- Returns the id the group now stands at, or '' when it did not move.
local stream, group = KEYS[1], ARGV[1]
local passed = nil
for i = 2, #KEYS do
  local at = 2 + (i - 2) * 3
  local id, task, attempt = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  local p = 't' .. task .. '.'
  local state = redis.call('HMGET', KEYS[i], p .. 'status', p .. 'attempt')
  -- A task stores no attempt until its second.
  local waiting = (state[1] == 'queued' or state[1] == 'pending') and tonumber(state[2] or '1') == attempt
  if waiting then
    break
  end
  passed = id
end
if not passed then
  return ''
end
-- Only forward: another caller may have moved it further meanwhile.
local groups = redis.call('XINFO', 'GROUPS', stream)
for _, info in ipairs(groups) do
  local fields = {}
  for j = 1, #info, 2 do
    fields[info[j]] = info[j + 1]
  end
  if fields['name'] == group then
    local current = fields['last-delivered-id']
    local cms, cseq = string.match(current, '^(%d+)-(%d+)$')
    local pms, pseq = string.match(passed, '^(%d+)-(%d+)$')
    cms, cseq, pms, pseq = tonumber(cms), tonumber(cseq), tonumber(pms), tonumber(pseq)
    if cms > pms or (cms == pms and cseq >= pseq) then
      return ''
    end
    redis.call('XGROUP', 'SETID', stream, group, passed)
    return passed
  end
end
return ''
