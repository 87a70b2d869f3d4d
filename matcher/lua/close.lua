--  close: session `sid`'s socket closed; forget it.
--  ARGV: sid, gw, now_ms, rematch_block_ms. Returns {"ended", partner,
--  partner_gw, mid} when a partner must be told, else {"closed"}.
local partner, pgw, mid = close_session (ARGV[1], ARGV[2], tonumber (ARGV[3]),
                                         tonumber (ARGV[4]))
if partner then
    return {'ended', partner, pgw, mid}
end
return {'closed'}
