--  lib.lua - helpers prepended to every megle script at build time
--  (matcher/embed_lua.cmake), so each script stays self-contained in Redis.
--
--  Every script is called with the same two KEYS: KEYS[1] = "{megle}:q"
--  (the waiting set) and KEYS[2] = "{megle}:gws" (gateway heartbeats).
--  Per-session, per-match and per-gateway keys are built here from the
--  "{megle}:" prefix on purpose: they cannot be known before the script
--  runs (a candidate comes out of SPOP), and because every key shares the
--  one hash tag {megle} they all live in the same Redis Cluster slot as
--  KEYS[1], so the scripts run unchanged on Cluster.

local P = '{megle}:'

local function skey (sid)
    return P .. 's:' .. sid
end

local function mkey (mid)
    return P .. 'm:' .. mid
end

local function gkey (gw)
    return P .. 'gw:' .. gw
end

--  End the match `mid` between `sid` and `partner`: delete the match hash,
--  make `sid` idle, and make the partner idle if its hash still points
--  back at `sid` in the same match. Returns the partner's gateway, or
--  false if the partner is gone or no longer in this match (then nobody
--  is to be told).
local function unpair (sid, partner, mid)
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
    local p = redis.call ('HMGET', skey (partner), 'gw', 'partner', 'match')
    if p[1] and p[2] == sid and p[3] == mid then
        redis.call ('HSET', skey (partner), 'state', 'idle')
        redis.call ('HDEL', skey (partner), 'partner', 'match')
        return p[1]
    end
    return false
end

--  Remove session `sid` (last seen on gateway `gw`) entirely: end its
--  match, leave the queue, leave its gateway's set, delete its hash.
--  Returns partner, partner_gw, mid if a partner must be told, else nil.
local function close_session (queue, sid, gw)
    local s = redis.call ('HMGET', skey (sid), 'gw', 'state', 'partner',
                          'match')
    local partner, pgw, mid
    if s[2] == 'matched' then
        pgw = unpair (sid, s[3], s[4])
        if pgw then
            partner, mid = s[3], s[4]
        end
    end
    redis.call ('SREM', queue, sid)
    if s[1] then
        redis.call ('SREM', gkey (s[1]), sid)
    end
    if gw and gw ~= '' and gw ~= s[1] then
        redis.call ('SREM', gkey (gw), sid)
    end
    redis.call ('DEL', skey (sid))
    if partner then
        return partner, pgw, mid
    end
    return nil
end

