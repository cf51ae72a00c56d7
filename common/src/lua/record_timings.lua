-- Adds a batch of observations to a queue's timing histograms at once, so a scrape never sees
-- a bucket counted without its sum and count.
-- KEYS[1] the queue's timings hash
-- ARGV field, increment, ... : fields ending in ':sum' take a float increment (seconds), the
-- others (bucket counters and counts) an integer one.
-- Returns how many fields were incremented.
for i = 1, #ARGV, 2 do
  local field = ARGV[i]
  if string.sub(field, -4) == ':sum' then
    redis.call('HINCRBYFLOAT', KEYS[1], field, ARGV[i + 1])
  else
    redis.call('HINCRBY', KEYS[1], field, ARGV[i + 1])
  end
end
return #ARGV / 2
