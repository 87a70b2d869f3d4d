--  find: session `sid` asks for a partner of `mode`, preferably sharing
--  one of `interests`. In one atomic step it takes a live waiting stranger
--  out of every queue it sits in and pairs the two, or enqueues `sid`:
--  - with interests: a session waiting in one of sid's interest queues
--    (not a recent partner, unless sid is alone: see below), else sid
--    waits in its interest queues and, `wait` ms later, the relax script
--    opens it to a random stranger too (at once when wait is 0);
--  - without: a session in the random queue of the mode, else sid waits
--    there. The random queue holds at most one live session, so a recent
--    partner found there is taken (two people alone can still talk).
--  "Alone" for an interest finder whose only candidates are recent
--  partners: nobody else waits in the mode's random queue or relax set.
--  ARGV: sid, gw, mid (a fresh match id), match_ttl, session_ttl, mode
--  ("video" | "text"), interests (joined by "\n", "" = none), now_ms,
--  wait_ms. Returns {"matched", cand, cand_gw, mid, mode, shared} |
--  {"waiting"} | {"already_matched"} | {"gone"} (no session hash) |
--  {"banned", ms} (sid's address hash is banned for ms more; report.lua).
local sid, mid = ARGV[1], ARGV[3]
local match_ttl, session_ttl = tonumber (ARGV[4]), tonumber (ARGV[5])
local mode, interests = mode_of (ARGV[6]), ARGV[7]
local now, wait = tonumber (ARGV[8]), tonumber (ARGV[9])
local sk = skey (sid)
local s = redis.call ('HMGET', sk, 'gw', 'state', 'mode', 'interests',
                      'relaxed')
if not s[1] then
    return {'gone'}
end
if s[2] == 'matched' then
    return {'already_matched'}
end
local ip = redis.call ('HGET', sk, 'ip')
if ip and ip ~= '' then
    local left = redis.call ('PTTL', bankey (ip))
    if left > 0 or left == -1 then
        --  Banned: out of every queue (a find while waiting), not queued.
        if s[2] == 'waiting' then
            dequeue (sid, s[3], s[4])
            redis.call ('HSET', sk, 'state', 'idle')
        end
        return {'banned', tostring (left > 0 and left or 0)}
    end
end
redis.call ('EXPIRE', sk, session_ttl)
if s[2] == 'waiting' then
    --  A second find changes nothing: the first one's queues stand (the
    --  queues are sets, so nobody is queued twice).
    enqueue (sid, mode_of (s[3]), split (s[4]), s[5] == '1', now + wait)
    return {'waiting'}
end
redis.call ('HSET', sk, 'mode', mode, 'interests', interests)
redis.call ('HDEL', sk, 'relaxed')
local list = split (interests)

local function matched (cand, cand_gw)
    local shared = pair (sid, cand, mid, mode, match_ttl, session_ttl)
    return {'matched', cand, cand_gw, mid, mode, shared}
end

--  Someone other than a recent partner of sid waits in the mode?
local function others_wait ()
    local cand, _, recent = pick ({qkey (mode), relaxkey (mode)}, sid, mode,
                                  now)
    return cand ~= nil and not recent
end

if #list > 0 then
    local keys = {}
    for _, interest in ipairs (list) do
        keys[#keys + 1] = qikey (mode, interest)
    end
    local cand, cand_gw, recent = pick (keys, sid, mode, now)
    if cand and not recent then
        return matched (cand, cand_gw)
    end
    if wait <= 0 then
        --  No interest wait: open to a random stranger at once.
        local rand, rand_gw, rand_recent = pick ({qkey (mode)}, sid, mode, now)
        if rand and not rand_recent then
            return matched (rand, rand_gw)
        end
        if cand then
            return matched (cand, cand_gw)
        end
        if rand then
            return matched (rand, rand_gw)
        end
        enqueue (sid, mode, list, true, now)
        return {'waiting'}
    end
    if cand and not others_wait () then
        return matched (cand, cand_gw)
    end
    enqueue (sid, mode, list, false, now + wait)
    return {'waiting'}
end
local cand, cand_gw = pick ({qkey (mode)}, sid, mode, now)
if cand then
    return matched (cand, cand_gw)
end
enqueue (sid, mode, list, true, now)
return {'waiting'}
