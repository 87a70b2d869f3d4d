--  close: session `sid`'s socket closed; forget it.
--  ARGV: sid, gw. Returns {"ended", partner, partner_gw, mid} when a
--  partner must be told, else {"closed"}.
local partner, pgw, mid = close_session (KEYS[1], ARGV[1], ARGV[2])
if partner then
    return {'ended', partner, pgw, mid}
end
return {'closed'}
