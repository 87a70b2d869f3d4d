--  leave: session `sid` ends its match, or leaves the queue.
--  ARGV: sid, target ("" = whoever is the partner), session_ttl.
--  Returns {"ended", partner, partner_gw, mid} (partner_gw "" if the
--  partner is gone: tell nobody) | {"unqueued"} | {"not_partner"} |
--  {"not_matched"}.
local sid, target, ttl = ARGV[1], ARGV[2], tonumber (ARGV[3])
local sk = skey (sid)
local s = redis.call ('HMGET', sk, 'gw', 'state', 'partner', 'match')
if not s[1] then
    return {'not_matched'}
end
redis.call ('EXPIRE', sk, ttl)
if s[2] == 'matched' then
    if target ~= '' and target ~= s[3] then
        return {'not_partner'}
    end
    local pgw = unpair (sid, s[3], s[4])
    return {'ended', s[3], pgw or '', s[4]}
end
if s[2] == 'waiting' then
    redis.call ('SREM', KEYS[1], sid)
    redis.call ('HSET', sk, 'state', 'idle')
    return {'unqueued'}
end
return {'not_matched'}
