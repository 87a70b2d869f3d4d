--  route: may `sid` send a signal (to `target`), a chat message or a
--  typing flag (target "": to whoever is its partner) within match
--  `match`? Read-only. ARGV: sid, target ("" = the current partner),
--  match ("" = the current one).
--  Returns {"ok", partner_gw, mid, partner} | {"not_matched"} |
--  {"not_partner"}.
local sid, target, match = ARGV[1], ARGV[2], ARGV[3]
local s = redis.call ('HMGET', skey (sid), 'state', 'partner', 'match')
if s[1] ~= 'matched' then
    return {'not_matched'}
end
if target ~= '' and s[2] ~= target then
    return {'not_partner'}
end
if match ~= '' and match ~= s[3] then
    --  a stale message from an earlier match with the same peer
    return {'not_partner'}
end
local p = redis.call ('HMGET', skey (s[2]), 'gw', 'state', 'partner',
                      'match')
if not p[1] or p[2] ~= 'matched' or p[3] ~= sid or p[4] ~= s[3] then
    return {'not_matched'}
end
return {'ok', p[1], s[3], s[2]}
