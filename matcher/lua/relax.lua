--  relax: the sessions whose interest wait is over (score <= now in
--  {megle}:relax:<mode>) are opened to a random stranger: each moves into
--  the random queue of its mode (staying in its interest queues) and is
--  at once matched with whoever waits there, if anyone. At most one due
--  session per match id given, so every call is bounded.
--  ARGV: now_ms, match_ttl, session_ttl, mid1, mid2, ... (fresh ids).
--  Returns {"relaxed", moved, more, sid1, sid_gw1, cand1, cand_gw1, mid1,
--  mode1, shared1, sid2, ...}: one 7-tuple per match made (sid is the
--  initiator); more = "1" if due sessions may remain, else "0".
local now = tonumber (ARGV[1])
local match_ttl, session_ttl = tonumber (ARGV[2]), tonumber (ARGV[3])
local budget = #ARGV - 3
local seen, moved, used = 0, 0, 0
local out = {'relaxed', 0, '0'}
for _, mode in ipairs (MODES) do
    if seen >= budget then
        break
    end
    local due = redis.call ('ZRANGEBYSCORE', relaxkey (mode), '-inf', now,
                            'LIMIT', 0, budget - seen)
    for _, sid in ipairs (due) do
        seen = seen + 1
        local s = redis.call ('HMGET', skey (sid), 'gw', 'state', 'mode',
                              'interests')
        if not s[1] or s[2] ~= 'waiting' or mode_of (s[3]) ~= mode then
            redis.call ('ZREM', relaxkey (mode), sid) --  a ghost
        else
            enqueue (sid, mode, split (s[4]), true, now)
            moved = moved + 1
            local cand, cand_gw = pick ({qkey (mode)}, sid, mode, now)
            if cand then
                used = used + 1
                local mid = ARGV[3 + used]
                local shared = pair (sid, cand, mid, mode, match_ttl,
                                     session_ttl)
                redis.call ('EXPIRE', skey (sid), session_ttl)
                for _, v in ipairs ({sid, s[1], cand, cand_gw, mid, mode,
                                     shared}) do
                    out[#out + 1] = v
                end
            end
        end
    end
end
out[2] = moved
if seen >= budget then
    out[3] = '1'
end
return out
