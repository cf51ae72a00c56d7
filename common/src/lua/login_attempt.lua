-- Counts one login attempt for a user and for the address it came from, each in a fixed
-- window that starts with its first attempt.
-- KEYS[1]: the user's attempt counter
-- KEYS[2]: the address's attempt counter
-- ARGV[1]: the window in milliseconds
-- Returns {attempts by the user, attempts from the address, ms until the later window ends}.
local window = tonumber(ARGV[1])
local counts = {}
local wait = 0
for index, key in ipairs(KEYS) do
    local count = redis.call('INCR', key)
    if count == 1 then
        redis.call('PEXPIRE', key, window)
    end
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
        redis.call('PEXPIRE', key, window)
        ttl = window
    end
    if ttl > wait then
        wait = ttl
    end
    counts[index] = count
end
return {counts[1], counts[2], wait}
