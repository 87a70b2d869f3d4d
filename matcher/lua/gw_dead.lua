--  gw_dead: gateway `gw` stopped (BYE) or stopped heartbeating: close
--  every session it held.
--  ARGV: gw, dead_before_ms ("" = unconditional; else only if the last
--  heartbeat stored in KEYS[1] is older, so that a gateway another
--  matcher still hears is left alone), now_ms, rematch_block_ms.
--  Returns {"alive", last_ms} or {"dead", partner1, partner_gw1, sid1,
--  mid1, partner2, ...}: the partners (on other gateways) to tell.
local gw, before = ARGV[1], ARGV[2]
local now, block = tonumber (ARGV[3]), tonumber (ARGV[4])
if before ~= '' then
    local last = redis.call ('HGET', KEYS[1], gw)
    if last and tonumber (last) and tonumber (last) >= tonumber (before) then
        return {'alive', last}
    end
end
local out = {'dead'}
local sids = redis.call ('SMEMBERS', gkey (gw))
for _, sid in ipairs (sids) do
    local partner, pgw, mid = close_session (sid, gw, now, block)
    if partner and pgw ~= gw then
        out[#out + 1] = partner
        out[#out + 1] = pgw
        out[#out + 1] = sid
        out[#out + 1] = mid
    end
end
redis.call ('DEL', gkey (gw))
redis.call ('HDEL', KEYS[1], gw)
return out
