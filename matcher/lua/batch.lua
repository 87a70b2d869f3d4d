--  batch: run many operations in one script call, in order, so that the
--  per-call cost (command parsing, script lookup, Lua call set-up, reply)
--  is paid once for all the frames of one matcher wake-up.
--  ARGV: a header of the batch's constants, then the ops.
--    header: now_ms, match_ttl, session_ttl, rematch_block_ms (strings
--            as the single scripts take them; "" if no op uses one)
--    op:     name, n, arg_1 .. arg_n
--  An op's name is either a key of OPS in lib.lua ("find", "leave", ...)
--  followed by exactly the ARGV its own script (find.lua, ...) takes, or
--  a short form that takes the header's constants instead of carrying
--  them (the matcher sends these: a batch's ops share its clock and
--  TTLs, and each string of ARGV costs Redis a Lua string):
--    f: sid, gw, mid, mode, interests, wait_ms [, now_ms]  (find)
--    l: sid, target [, now_ms]                             (leave)
--    c: sid, gw [, now_ms]                                 (close)
--    o: sid, gw, ip_hash                                   (open)
--  (now_ms given = this op's clock, else the header's.) Each op reads
--  its arguments where they are in ARGV (no copy).
--  Returns one reply per op, in order: what its own script returns, or an
--  error element if it failed (a pcall per op: one bad op fails alone;
--  its writes before the failure stand, as they would in its own script;
--  an op given a number of arguments it does not take fails alone,
--  before it runs). A malformed ARGV (no header, unknown name, count out
--  of range) fails the whole call before any op runs.
local H_NOW, H_MATCH_TTL, H_SESSION_TTL, H_BLOCK = ARGV[1], ARGV[2],
                                                   ARGV[3], ARGV[4]
local SHORT = {
    f = function (a, o, n)
        return find (a[o + 1], a[o + 3], H_MATCH_TTL, H_SESSION_TTL,
                     a[o + 4], a[o + 5], n == 7 and a[o + 7] or H_NOW,
                     a[o + 6])
    end,
    l = function (a, o, n)
        return leave (a[o + 1], a[o + 2], H_SESSION_TTL,
                      n == 3 and a[o + 3] or H_NOW, H_BLOCK)
    end,
    c = function (a, o, n)
        return close (a[o + 1], a[o + 2], n == 3 and a[o + 3] or H_NOW,
                      H_BLOCK)
    end,
    o = function (a, o)
        return open (a[o + 1], a[o + 2], a[o + 3], H_SESSION_TTL)
    end,
}
--  Arguments each op of OPS takes (relax: any number).
local ARITY = {gw_beat = 2, open = 4, find = 9, route = 3, leave = 5,
               close = 4, gw_dead = 4, report = 6}
--  Arguments a short form takes, without and with its own now_ms.
local SHORT_ARITY = {f = 6, l = 2, c = 2, o = 3}
local SHORT_NOW = {f = true, l = true, c = true}

local at = {} --  per op: where its name is in ARGV
local i, nargv = 5, #ARGV
if nargv < 4 then
    return redis.error_reply ('batch: no header')
end
while i <= nargv do
    local name, n = ARGV[i], tonumber (ARGV[i + 1])
    if not (OPS[name] or SHORT[name]) or not n or n < 0 or n % 1 ~= 0
        or i + 1 + n > nargv then
        return redis.error_reply ('batch: malformed op at ARGV[' .. i .. ']')
    end
    at[#at + 1] = i
    i = i + 2 + n
end
local out = {}
for k = 1, #at do
    local i = at[k]
    local name, n = ARGV[i], tonumber (ARGV[i + 1])
    local fn, want = SHORT[name], SHORT_ARITY[name]
    if fn then
        if n == want + 1 and SHORT_NOW[name] then
            want = n
        end
    else
        fn, want = OPS[name], ARITY[name]
    end
    local ok, reply
    if want and n ~= want then
        ok, reply = false, name .. ': wrong number of arguments'
    else
        ok, reply = pcall (fn, ARGV, i + 1, n)
    end
    if ok and reply then
        out[k] = reply
    elseif ok then
        out[k] = {err = 'batch: op returned nothing'}
    elseif type (reply) == 'table' and reply.err then
        out[k] = {err = reply.err}
    else
        out[k] = {err = 'batch: ' .. tostring (reply)}
    end
end
return out
