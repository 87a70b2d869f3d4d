--  open: a session connected.
--  ARGV: sid, gw, ip_hash, session_ttl.
--  Returns {"ok"}, or {"exists"} if the session is already known (a
--  replayed OPEN must not reset a matched session to idle).
local sid, gw, ip, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber (ARGV[4])
local sk = skey (sid)
if redis.call ('EXISTS', sk) == 1 then
    return {'exists'}
end
redis.call ('HSET', sk, 'gw', gw, 'state', 'idle', 'ip', ip)
redis.call ('EXPIRE', sk, ttl)
redis.call ('SADD', gkey (gw), sid)
return {'ok'}
