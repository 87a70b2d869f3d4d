--  route: may `sid` send a signal to `target` within match `match`?
--  Read-only. ARGV: sid, target, match ("" = the current one).
--  Returns {"ok", partner_gw, mid} | {"not_matched"} | {"not_partner"}.
local sid, target, match = ARGV[1], ARGV[2], ARGV[3]
local s = redis.call ('HMGET', skey (sid), 'state', 'partner', 'match')
if s[1] ~= 'matched' then
    return {'not_matched'}
end
if s[2] ~= target then
    return {'not_partner'}
end
if match ~= '' and match ~= s[3] then
    --  a stale signal from an earlier match with the same peer
    return {'not_partner'}
end
local p = redis.call ('HMGET', skey (target), 'gw', 'state', 'partner',
                      'match')
if not p[1] or p[2] ~= 'matched' or p[3] ~= sid or p[4] ~= s[3] then
    return {'not_matched'}
end
return {'ok', p[1], s[3]}
