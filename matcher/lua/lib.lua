--  lib.lua - helpers prepended to every megle script at build time
--  (matcher/embed_lua.cmake), so each script stays self-contained in Redis.
--
--  Every script is called with one key: KEYS[1] = "{megle}:gws" (gateway
--  heartbeats). Queue, session, match, gateway and recent-partner keys are
--  built here from the "{megle}:" prefix on purpose: they cannot be known
--  before the script runs (a candidate comes out of a queue, its interests
--  out of its hash), and because every key shares the one hash tag {megle}
--  they all live in the same Redis Cluster slot as KEYS[1], so the scripts
--  run unchanged on Cluster.
--
--  Queues of a mode m ("video" or "text"):
--    {megle}:q:m            set: sessions open to a random stranger
--    {megle}:qi:m:<i>       set: sessions waiting for interest i
--    {megle}:relax:m        zset: sessions with interests not yet open to
--                           a random stranger, score = when they will be
--                           (ms); the relax script moves the due ones
--  A waiting session's hash records its mode, its interests (joined by
--  "\n") and `relaxed`, so every script knows every queue it sits in:
--  whoever matches or removes it takes it out of all of them at once.
--  {megle}:r:<sid> (zset, member = another session, score = until when,
--  ms) holds the recent partners that sid is not re-matched with while
--  someone else is waiting.
--  Reports and bans key on a session's salted address hash (its hash's
--  `ip` field), never on an address:
--    {megle}:rep:<iphash>   zset: member = a reporter's address hash,
--                           score = when it reported (ms); TTL = window
--    {megle}:ban:<iphash>   string, TTL = the ban's length

local P = '{megle}:'
local MODES = {'video', 'text'}
local SAMPLE = 32 --  members looked at per queue, per pick

local function skey (sid)
    return P .. 's:' .. sid
end

local function mkey (mid)
    return P .. 'm:' .. mid
end

local function gkey (gw)
    return P .. 'gw:' .. gw
end

local function qkey (mode)
    return P .. 'q:' .. mode
end

local function qikey (mode, interest)
    return P .. 'qi:' .. mode .. ':' .. interest
end

local function relaxkey (mode)
    return P .. 'relax:' .. mode
end

local function rkey (sid)
    return P .. 'r:' .. sid
end

local function repkey (iphash)
    return P .. 'rep:' .. iphash
end

local function bankey (iphash)
    return P .. 'ban:' .. iphash
end

--  "a\nb" -> {"a", "b"}; "" or nil -> {}.
local function split (s)
    local out = {}
    if s and s ~= '' then
        for item in string.gmatch (s, '[^\n]+') do
            out[#out + 1] = item
        end
    end
    return out
end

--  A hash's mode field (false when missing) as a mode.
local function mode_of (m)
    if m == 'text' then
        return 'text'
    end
    return 'video'
end

--  Take `sid` out of every queue of `mode` its `interests` put it in.
local function dequeue (sid, mode, interests)
    mode = mode_of (mode)
    redis.call ('SREM', qkey (mode), sid)
    redis.call ('ZREM', relaxkey (mode), sid)
    for _, interest in ipairs (split (interests)) do
        redis.call ('SREM', qikey (mode, interest), sid)
    end
    redis.call ('HDEL', skey (sid), 'relaxed')
end

--  Put waiting `sid` in its queues: each interest queue; the random queue
--  when it has no interests or is relaxed, else the relax set (due at
--  `due` ms, or earlier if it was already there).
local function enqueue (sid, mode, list, relaxed, due)
    for _, interest in ipairs (list) do
        redis.call ('SADD', qikey (mode, interest), sid)
    end
    if #list == 0 or relaxed then
        redis.call ('SADD', qkey (mode), sid)
        redis.call ('ZREM', relaxkey (mode), sid)
        if #list > 0 then
            redis.call ('HSET', skey (sid), 'relaxed', '1')
        end
    else
        redis.call ('ZADD', relaxkey (mode), 'NX', due, sid)
    end
    redis.call ('HSET', skey (sid), 'state', 'waiting')
end

--  True while `other` is a recent partner of `sid`.
local function is_recent (sid, other, now)
    local until_ms = redis.call ('ZSCORE', rkey (sid), other)
    return until_ms and tonumber (until_ms) > now
end

--  `a` and `b` just ended a match: each is the other's recent partner
--  for `block` ms. Expired entries go; the key expires with its newest.
local function remember (a, b, now, block)
    if not block or block <= 0 or not a or not b or a == '' or b == '' then
        return
    end
    for _, pair in ipairs ({{a, b}, {b, a}}) do
        local key = rkey (pair[1])
        redis.call ('ZREMRANGEBYSCORE', key, '-inf', now)
        redis.call ('ZADD', key, now + block, pair[2])
        redis.call ('PEXPIRE', key, block)
    end
end

--  Look at up to SAMPLE members of each queue in `keys` (sets, or relax
--  zsets, oldest first) for a live session other than `sid`, waiting in
--  `mode`. Members that are not one (expired, already matched: ghosts) are
--  removed from that queue. Returns cand, cand_gw, is_recent: the first
--  candidate that is not a recent partner of sid, else the first recent
--  one (is_recent = true), else nil.
local function pick (keys, sid, mode, now)
    local recent, recent_gw
    for _, key in ipairs (keys) do
        local zset = string.find (key, ':relax:', 1, true) ~= nil
        local members
        if zset then
            members = redis.call ('ZRANGE', key, 0, SAMPLE - 1)
        else
            members = redis.call ('SRANDMEMBER', key, SAMPLE)
        end
        for _, cand in ipairs (members) do
            if cand ~= sid then
                local c = redis.call ('HMGET', skey (cand), 'gw', 'state',
                                      'mode')
                if not c[1] or c[2] ~= 'waiting' or mode_of (c[3]) ~= mode then
                    redis.call (zset and 'ZREM' or 'SREM', key, cand)
                elseif not is_recent (sid, cand, now) then
                    return cand, c[1], false
                elseif not recent then
                    recent, recent_gw = cand, c[1]
                end
            end
        end
    end
    if recent then
        return recent, recent_gw, true
    end
    return nil
end

--  Make `sid` (the initiator) and the waiting `cand` a match `mid` of
--  `mode`: both leave every queue they are in, in this same step. Returns
--  the interests they share, joined by "\n" (in sid's order).
local function pair (sid, cand, mid, mode, match_ttl, session_ttl)
    local si = redis.call ('HGET', skey (sid), 'interests')
    local ci = redis.call ('HGET', skey (cand), 'interests')
    dequeue (sid, mode, si)
    dequeue (cand, mode, ci)
    redis.call ('HSET', mkey (mid), 'a', cand, 'b', sid, 'mode', mode)
    redis.call ('EXPIRE', mkey (mid), match_ttl)
    redis.call ('HSET', skey (sid), 'state', 'matched', 'partner', cand,
                'match', mid)
    redis.call ('HSET', skey (cand), 'state', 'matched', 'partner', sid,
                'match', mid)
    redis.call ('EXPIRE', skey (cand), session_ttl)
    local theirs = {}
    for _, interest in ipairs (split (ci)) do
        theirs[interest] = true
    end
    local shared = {}
    for _, interest in ipairs (split (si)) do
        if theirs[interest] then
            shared[#shared + 1] = interest
        end
    end
    return table.concat (shared, '\n')
end

--  End the match `mid` between `sid` and `partner`: delete the match hash,
--  make `sid` idle, and make the partner idle if its hash still points
--  back at `sid` in the same match; the two become recent partners for
--  `block` ms. Returns the partner's gateway, or false if the partner is
--  gone or no longer in this match (then nobody is to be told).
local function unpair (sid, partner, mid, now, block)
    if mid and mid ~= '' then
        redis.call ('DEL', mkey (mid))
    end
    if redis.call ('EXISTS', skey (sid)) == 1 then
        redis.call ('HSET', skey (sid), 'state', 'idle')
        redis.call ('HDEL', skey (sid), 'partner', 'match')
    end
    if not partner or partner == '' then
        return false
    end
    remember (sid, partner, now, block)
    local p = redis.call ('HMGET', skey (partner), 'gw', 'partner', 'match')
    if p[1] and p[2] == sid and p[3] == mid then
        redis.call ('HSET', skey (partner), 'state', 'idle')
        redis.call ('HDEL', skey (partner), 'partner', 'match')
        return p[1]
    end
    return false
end

--  Remove session `sid` (last seen on gateway `gw`) entirely: end its
--  match, leave every queue, leave its gateway's set, delete its hash and
--  its recent partners. Returns partner, partner_gw, mid if a partner
--  must be told, else nil.
local function close_session (sid, gw, now, block)
    local s = redis.call ('HMGET', skey (sid), 'gw', 'state', 'partner',
                          'match', 'mode', 'interests')
    local partner, pgw, mid
    if s[2] == 'matched' then
        pgw = unpair (sid, s[3], s[4], now, block)
        if pgw then
            partner, mid = s[3], s[4]
        end
    end
    dequeue (sid, s[5], s[6])
    if s[1] then
        redis.call ('SREM', gkey (s[1]), sid)
    end
    if gw and gw ~= '' and gw ~= s[1] then
        redis.call ('SREM', gkey (gw), sid)
    end
    redis.call ('DEL', skey (sid))
    redis.call ('DEL', rkey (sid))
    if partner then
        return partner, pgw, mid
    end
    return nil
end

