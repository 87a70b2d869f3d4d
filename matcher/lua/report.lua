--  report: session `sid` reports its current partner in match `match`
--  (a report ends nothing: the reporter usually presses Next). The
--  partner's address hash gets sid's address hash added to its report
--  set, scored by time; reports older than the window drop out and the
--  set expires with the window. Once `threshold` distinct reporter hashes
--  are in it, the partner's address hash is banned for `ban_s` seconds
--  (find.lua refuses it). A report from the reported hash itself (two
--  sessions behind one address) is not counted.
--  ARGV: sid, match, now_ms, window_s, threshold, ban_s.
--  Returns {"reported", partner, count, banned ("1" | "0")} |
--  {"not_matched"} (no partner, or `match` is not the current one).
local sid, match = ARGV[1], ARGV[2]
local now, window = tonumber (ARGV[3]), tonumber (ARGV[4])
local threshold, ban_s = tonumber (ARGV[5]), tonumber (ARGV[6])
local s = redis.call ('HMGET', skey (sid), 'state', 'partner', 'match', 'ip')
if s[1] ~= 'matched' or not s[2] or s[3] ~= match then
    return {'not_matched'}
end
local partner, mine = s[2], s[4]
local theirs = redis.call ('HGET', skey (partner), 'ip')
if not theirs or theirs == '' or not mine or mine == '' or theirs == mine then
    return {'reported', partner, '0', '0'}
end
local key = repkey (theirs)
redis.call ('ZADD', key, now, mine)
redis.call ('ZREMRANGEBYSCORE', key, '-inf', now - window * 1000)
redis.call ('EXPIRE', key, window)
local count = redis.call ('ZCARD', key)
local banned = '0'
if count >= threshold then
    redis.call ('SET', bankey (theirs), '1', 'EX', ban_s)
    redis.call ('DEL', key)
    banned = '1'
end
return {'reported', partner, tostring (count), banned}
