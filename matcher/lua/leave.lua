--  leave: session `sid` ends its match, or leaves the queues.
--  ARGV: sid, target ("" = whoever is the partner), session_ttl, now_ms,
--  rematch_block_ms. Returns {"ended", partner, partner_gw, mid}
--  (partner_gw "" if the partner is gone: tell nobody) | {"unqueued"} |
--  {"not_partner"} | {"not_matched"}.
local sid, target, ttl = ARGV[1], ARGV[2], tonumber (ARGV[3])
local now, block = tonumber (ARGV[4]), tonumber (ARGV[5])
local sk = skey (sid)
local s = redis.call ('HMGET', sk, 'gw', 'state', 'partner', 'match', 'mode',
                      'interests')
if not s[1] then
    return {'not_matched'}
end
redis.call ('EXPIRE', sk, ttl)
if s[2] == 'matched' then
    if target ~= '' and target ~= s[3] then
        return {'not_partner'}
    end
    local pgw = unpair (sid, s[3], s[4], now, block)
    return {'ended', s[3], pgw or '', s[4]}
end
if s[2] == 'waiting' then
    dequeue (sid, s[5], s[6])
    redis.call ('HSET', sk, 'state', 'idle')
    return {'unqueued'}
end
return {'not_matched'}
