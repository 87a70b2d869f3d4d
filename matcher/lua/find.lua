--  find: session `sid` asks for a partner. Atomically pops a live waiting
--  stranger or enqueues `sid`.
--  ARGV: sid, gw, mid (a fresh match id), match_ttl, session_ttl.
--  Returns {"matched", cand, cand_gw, mid} | {"waiting"} |
--  {"already_matched"} | {"gone"} (no session hash).
local queue = KEYS[1]
local sid, mid = ARGV[1], ARGV[3]
local match_ttl, session_ttl = tonumber (ARGV[4]), tonumber (ARGV[5])
local sk = skey (sid)
local s = redis.call ('HMGET', sk, 'gw', 'state')
if not s[1] then
    return {'gone'}
end
if s[2] == 'matched' then
    return {'already_matched'}
end
redis.call ('EXPIRE', sk, session_ttl)
if s[2] == 'waiting' then
    --  The queue is a set: a second find adds nothing.
    redis.call ('SADD', queue, sid)
    return {'waiting'}
end
--  A popped member that is not a live waiting session is a ghost (it
--  expired, or is ourselves); drop it. Bounded so one call stays short.
for _ = 1, 64 do
    local cand = redis.call ('SPOP', queue)
    if not cand then
        break
    end
    if cand ~= sid then
        local ck = skey (cand)
        local c = redis.call ('HMGET', ck, 'gw', 'state')
        if c[1] and c[2] == 'waiting' then
            redis.call ('HSET', mkey (mid), 'a', cand, 'b', sid)
            redis.call ('EXPIRE', mkey (mid), match_ttl)
            redis.call ('HSET', sk, 'state', 'matched', 'partner', cand,
                        'match', mid)
            redis.call ('HSET', ck, 'state', 'matched', 'partner', sid,
                        'match', mid)
            redis.call ('EXPIRE', ck, session_ttl)
            return {'matched', cand, c[1], mid}
        end
    end
end
redis.call ('SADD', queue, sid)
redis.call ('HSET', sk, 'state', 'waiting')
return {'waiting'}
