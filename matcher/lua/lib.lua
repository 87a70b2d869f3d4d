--  lib.lua - helpers and operations prepended to every megle script at
--  build time (matcher/embed_lua.cmake), so each script stays
--  self-contained in Redis. The body of each script is a function of OPS
--  (at the end of this file): find.lua and the others call one of them
--  with their ARGV; batch.lua calls many of them in one script call.
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
--  The recent partners that sid is not re-matched with while someone else
--  is waiting are fields of sid's own hash: `r:<other>` = until when (ms).
--  The two of a pair always note each other with the same time, so a
--  finder asks the candidate's hash (read anyway) whether the finder is a
--  recent partner of the candidate, at no extra call; the entries go with
--  the hash. A session remembers its RECENT_MAX newest recent partners
--  (a check asks the candidate's memory): its hash field `rn` counts the
--  entries added since the last prune (next_rn).
--  A session that is not matched has `partner` and `match` = "" (written
--  in the same HSET that changes its state, rather than one more HDEL):
--  every reader looks at `state` first.
--  Every redis.call costs ~0.2 µs of Redis CPU on top of the command
--  itself (an HMGET of three fields ~0.85 µs in all; tools/bench/
--  analysis.md), and Redis runs one script at a time: the helpers below
--  read each hash once (every field the op needs, in one HMGET), write it
--  once (one HSET), and touch only the queues the hash says a session is
--  in.
--  Reports and bans key on a session's salted address hash (its hash's
--  `ip` field), never on an address:
--    {megle}:rep:<iphash>   zset: member = a reporter's address hash,
--                           score = when it reported (ms); TTL = window
--    {megle}:ban:<iphash>   string, TTL = the ban's length

local MODES = {'video', 'text'}
local SAMPLE = 32 --  members looked at per queue, per pick
local PRUNE_EVERY = 8 --  recent partners added between two prunes
local RECENT_MAX = 8 --  recent partners a prune keeps, the newest

local function skey (sid)
    return '{megle}:s:' .. sid
end

local function mkey (mid)
    return '{megle}:m:' .. mid
end

local function gkey (gw)
    return '{megle}:gw:' .. gw
end

local function qkey (mode)
    return '{megle}:q:' .. mode
end

local function qikey (mode, interest)
    return '{megle}:qi:' .. mode .. ':' .. interest
end

local function relaxkey (mode)
    return '{megle}:relax:' .. mode
end

--  The field of a session's hash that holds `other` as a recent partner.
local function rfield (other)
    return 'r:' .. other
end

local function repkey (iphash)
    return '{megle}:rep:' .. iphash
end

local function bankey (iphash)
    return '{megle}:ban:' .. iphash
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

--  Take `sid` out of the queues it waits in, as its hash records them
--  (see enqueue): each interest queue of `list`; the random queue when it
--  has no interests or is `relaxed`, else the relax set. `popped` is a
--  queue it was already taken out of (pick's SPOP), or nil. Its `relaxed`
--  field goes unless `dropping` (its hash is about to be deleted).
local function dequeue (sid, mode, list, relaxed, popped, dropping)
    mode = mode_of (mode)
    for _, interest in ipairs (list) do
        local key = qikey (mode, interest)
        if key ~= popped then
            redis.call ('SREM', key, sid)
        end
    end
    if #list == 0 or relaxed then
        local key = qkey (mode)
        if key ~= popped then
            redis.call ('SREM', key, sid)
        end
    else
        redis.call ('ZREM', relaxkey (mode), sid)
    end
    if relaxed and not dropping then
        redis.call ('HDEL', skey (sid), 'relaxed')
    end
end

--  Put waiting `sid` in its queues: each interest queue; the random queue
--  when it has no interests or is relaxed, else the relax set (due at
--  `due` ms, or earlier if it was already there). Its hash gets state
--  "waiting" (and `relaxed` = "1" for a relaxed one with interests), and
--  its mode and `interests` (the list joined) if `interests` is given,
--  in one HSET.
--  Invariants every script keeps (so that dequeue needs no guessing): an
--  idle or matched session is in no queue; a waiting one is in exactly
--  the queues above.
local function enqueue (sid, mode, list, relaxed, due, interests)
    for _, interest in ipairs (list) do
        redis.call ('SADD', qikey (mode, interest), sid)
    end
    local sk = skey (sid)
    if #list == 0 or not relaxed then
        if #list == 0 then
            redis.call ('SADD', qkey (mode), sid)
        else
            redis.call ('ZADD', relaxkey (mode), 'NX', due, sid)
        end
        if interests then
            redis.call ('HSET', sk, 'state', 'waiting', 'mode', mode,
                        'interests', interests)
        else
            redis.call ('HSET', sk, 'state', 'waiting')
        end
        return
    end
    redis.call ('SADD', qkey (mode), sid)
    redis.call ('ZREM', relaxkey (mode), sid)
    if interests then
        redis.call ('HSET', sk, 'state', 'waiting', 'relaxed', '1', 'mode',
                    mode, 'interests', interests)
    else
        redis.call ('HSET', sk, 'state', 'waiting', 'relaxed', '1')
    end
end

--  `n` (a hash's `rn` field, a string or nil) plus one, as a string for
--  the hash. When it reaches PRUNE_EVERY the recent partners of hash `sk`
--  (`r:<other>` fields) are pruned first and the count starts again at 0:
--  the expired ones (time <= now) go, and of the others only the
--  RECENT_MAX newest stay. A prune reads the whole hash, so a hash holds
--  at most RECENT_MAX + PRUNE_EVERY entries and a prune costs a few per
--  addition, however many strangers a session meets: someone who skips
--  through dozens of strangers a minute is spared the last RECENT_MAX of
--  them, and every HMGET and HSET of its hash stays short (every field is
--  scanned; with hundreds, Redis paid ~4-5 µs more per pair). One field per
--  partner keeps each value short: a single field of all of them would
--  pass Redis's hash-max-listpack-value (64 bytes) and turn every session
--  hash into a hashtable, measured 1.5-3 µs a pair dearer for sessions
--  with few partners. (Numbers are passed to redis.call as strings made
--  here with %d: Redis would format a Lua number with %.17g, which costs
--  more than the command.)
local function next_rn (sk, n, now)
    n = (tonumber (n) or 0) + 1
    if n < PRUNE_EVERY then
        return string.format ('%d', n)
    end
    local all = redis.call ('HGETALL', sk)
    local dead = {sk}
    local live = {}
    local t = tonumber (now)
    for i = 1, #all, 2 do
        local f = all[i]
        if string.sub (f, 1, 2) == 'r:' then
            local until_ms = tonumber (all[i + 1]) or 0
            if until_ms <= t then
                dead[#dead + 1] = f
            else
                live[#live + 1] = {until_ms, f}
            end
        end
    end
    if #live > RECENT_MAX then
        table.sort (live, function (x, y)
            return x[1] > y[1]
        end)
        for i = RECENT_MAX + 1, #live do
            dead[#dead + 1] = live[i][2]
        end
    end
    --  At most RECENT_MAX + PRUNE_EVERY fields (fewer than unpack's
    --  limit, the C stack), unless a hash from before the cap holds more.
    for i = 2, #dead, 1000 do
        redis.call ('HDEL', sk, unpack (dead, i, math.min (i + 999, #dead)))
    end
    return '0'
end

--  Reads candidate `cand`'s hash for finder `sid`; returns its gw,
--  interests, relaxed and whether sid is one of its recent partners
--  (until a time > now: the two note each other alike), if it is a live
--  session waiting in `mode`, else nil (a ghost: expired, already
--  matched, or queued in another mode).
local function candidate (cand, mode, sid, now)
    local c = redis.call ('HMGET', skey (cand), 'gw', 'state', 'mode',
                          'interests', 'relaxed', rfield (sid))
    if not c[1] or c[2] ~= 'waiting' or mode_of (c[3]) ~= mode then
        return nil
    end
    local recent = c[6] and tonumber (c[6]) > tonumber (now) or false
    return c[1], c[4], c[5], recent
end

--  Look in each queue of `keys` (sets, or relax zsets, oldest first) for
--  a live session other than `sid`, waiting in `mode`. Members that are
--  not one (ghosts) are removed from that queue. Returns cand,
--  cand_gw, cand_interests, cand_relaxed, is_recent, popped: the first
--  candidate that is not a recent partner of sid, else the first recent
--  one (is_recent = true), else nil. With `take` (the caller pairs a
--  non-recent candidate at once) a set is first tried with one SPOP: a
--  usable member comes out of that set right away (popped = the set's
--  key, which dequeue then skips); an unusable one (sid itself, a recent
--  partner) is put back and up to SAMPLE members are looked at, as
--  without `take`.
local function pick (keys, sid, mode, now, take)
    local recent, rgw, ri, rr
    for _, key in ipairs (keys) do
        local zset = string.find (key, ':relax:', 1, true) ~= nil
        local members, skip
        if zset then
            members = redis.call ('ZRANGE', key, 0, SAMPLE - 1)
        elseif take then
            local first = redis.call ('SPOP', key)
            if first then
                local gw, ci, cr, old
                if first ~= sid then
                    gw, ci, cr, old = candidate (first, mode, sid, now)
                end
                if gw and not old then
                    return first, gw, ci, cr, false, key
                end
                if first == sid or gw then
                    redis.call ('SADD', key, first)
                end
                if gw and not recent then
                    recent, rgw, ri, rr = first, gw, ci, cr
                end
                skip = first
                members = redis.call ('SRANDMEMBER', key, SAMPLE)
            else
                members = {} --  an empty set
            end
        else
            members = redis.call ('SRANDMEMBER', key, SAMPLE)
        end
        for _, cand in ipairs (members) do
            if cand ~= sid and cand ~= skip then
                local gw, ci, cr, old = candidate (cand, mode, sid, now)
                if not gw then
                    redis.call (zset and 'ZREM' or 'SREM', key, cand)
                elseif not old then
                    return cand, gw, ci, cr, false, nil
                elseif not recent then
                    recent, rgw, ri, rr = cand, gw, ci, cr
                end
            end
        end
    end
    if recent then
        return recent, rgw, ri, rr, true, nil
    end
    return nil
end

--  Make `sid` (the initiator, interests `slist`) and the waiting `cand`
--  (its interests `ci` and `relaxed` field `cr`, and `popped`, from pick)
--  a match `mid` of `mode`: both leave every queue they are in, in this
--  same step (sid only if `squeued`: the relax script's sid waits, a
--  finder does not). sid's hash also gets its mode and `interests` if
--  given (a finder's). Returns the interests they share, joined by "\n"
--  (in sid's order).
local function pair (sid, slist, squeued, cand, ci, cr, popped, mid, mode,
                     match_ttl, session_ttl, interests)
    local sk, ck = skey (sid), skey (cand)
    if squeued then
        dequeue (sid, mode, slist, true, nil, true)
    end
    local clist = split (ci)
    local crelaxed = cr == '1'
    dequeue (cand, mode, clist, crelaxed, popped, true)
    local mk = mkey (mid)
    redis.call ('HSET', mk, 'a', cand, 'b', sid, 'mode', mode)
    redis.call ('EXPIRE', mk, match_ttl)
    --  `relaxed` goes in the same HSET (dequeue left it).
    if interests then
        redis.call ('HSET', sk, 'state', 'matched', 'partner', cand, 'match',
                    mid, 'mode', mode, 'interests', interests)
    elseif squeued then
        redis.call ('HSET', sk, 'state', 'matched', 'partner', cand, 'match',
                    mid, 'relaxed', '')
    else
        redis.call ('HSET', sk, 'state', 'matched', 'partner', cand, 'match',
                    mid)
    end
    if crelaxed then
        redis.call ('HSET', ck, 'state', 'matched', 'partner', sid, 'match',
                    mid, 'relaxed', '')
    else
        redis.call ('HSET', ck, 'state', 'matched', 'partner', sid, 'match',
                    mid)
    end
    redis.call ('EXPIRE', ck, session_ttl)
    if #clist == 0 or #slist == 0 then
        return ''
    end
    local theirs = {}
    for _, interest in ipairs (clist) do
        theirs[interest] = true
    end
    local shared = {}
    for _, interest in ipairs (slist) do
        if theirs[interest] then
            shared[#shared + 1] = interest
        end
    end
    return table.concat (shared, '\n')
end

--  End the match `mid` between `sid` and `partner`: delete the match hash,
--  make `sid` idle (unless `rn` is nil: sid's hash is about to be
--  deleted; else `rn` is its hash's field), and make the partner
--  idle if its hash still points back at `sid` in the same match; the
--  two become recent partners for `block` ms (each notes the other in
--  its hash: `r:<other>`). Returns the partner's gateway, or false if the
--  partner is gone or no longer in this match (then nobody is to be
--  told).
local function unpair (sid, partner, mid, now, block, rn)
    if mid and mid ~= '' then
        redis.call ('DEL', mkey (mid))
    end
    local sk = skey (sid)
    if not partner or partner == '' then
        if rn then
            redis.call ('HSET', sk, 'state', 'idle', 'partner', '', 'match',
                        '')
        end
        return false
    end
    local b = tonumber (block)
    local remember = b and b > 0 and sid ~= ''
    local until_ms = remember and string.format ('%d', tonumber (now) + b)
    local pk = skey (partner)
    local p = redis.call ('HMGET', pk, 'gw', 'partner', 'match', 'rn')
    if rn then
        if remember then
            redis.call ('HSET', sk, 'state', 'idle', 'partner', '', 'match',
                        '', 'rn', next_rn (sk, rn, now), rfield (partner),
                        until_ms)
        else
            redis.call ('HSET', sk, 'state', 'idle', 'partner', '', 'match',
                        '')
        end
    end
    if p[1] and p[2] == sid and p[3] == mid then
        if remember then
            redis.call ('HSET', pk, 'state', 'idle', 'partner', '', 'match',
                        '', 'rn', next_rn (pk, p[4], now), rfield (sid),
                        until_ms)
        else
            redis.call ('HSET', pk, 'state', 'idle', 'partner', '', 'match',
                        '')
        end
        return p[1]
    end
    if remember and p[1] then
        --  The partner lives on, in another match or none: it notes sid
        --  too (a gone partner has no hash to note it in).
        redis.call ('HSET', pk, 'rn', next_rn (pk, p[4], now), rfield (sid),
                    until_ms)
    end
    return false
end

--  Remove session `sid` (last seen on gateway `gw`) entirely: end its
--  match, leave every queue, leave its gateway's set (unless `gw_going`:
--  the caller deletes that set), delete its hash (and so its recent
--  partners).
--  Returns partner, partner_gw, mid if a partner must be told, else nil.
local function close_session (sid, gw, now, block, gw_going)
    local s = redis.call ('HMGET', skey (sid), 'gw', 'state', 'partner',
                          'match', 'mode', 'interests', 'relaxed')
    local partner, pgw, mid
    if s[2] == 'matched' then
        pgw = unpair (sid, s[3], s[4], now, block, nil)
        if pgw then
            partner, mid = s[3], s[4]
        end
    elseif s[2] == 'waiting' then
        dequeue (sid, s[5], split (s[6]), s[7] == '1', nil, true)
    end
    if not gw_going then
        if s[1] then
            redis.call ('SREM', gkey (s[1]), sid)
        end
        if gw and gw ~= '' and gw ~= s[1] then
            redis.call ('SREM', gkey (gw), sid)
        end
    elseif s[1] and s[1] ~= gw then
        redis.call ('SREM', gkey (s[1]), sid)
    end
    redis.call ('DEL', skey (sid))
    if partner then
        return partner, pgw, mid
    end
    return nil
end

--  ------------------------------------------------------------------------
--  The operations. Each script's body is one function of OPS, called as
--  OPS.name (a, o, n): its arguments are a[o + 1] .. a[o + n] (find.lua
--  and the others pass their ARGV, 0 and #ARGV; batch.lua passes its own
--  ARGV and where the op's arguments start in it, so that no op copies
--  them), returning its reply (batch.lua's ARITY lists how many arguments
--  each takes). KEYS[1] is the same for all of them. Every EVALSHA runs
--  this whole file again (each local function is a new closure), so the
--  file keeps to one closure per helper and op, and makes OPS with one
--  table constructor (at its size at once).

--  gw_beat: a gateway said HELLO or HEARTBEAT.
--  ARGV: gw, now_ms (wall clock). Returns {"ok"}.
local function op_gw_beat (a, o)
    redis.call ('HSET', KEYS[1], a[o + 1], a[o + 2])
    return {'ok'}
end

--  open: a session connected.
--  ARGV: sid, gw, ip_hash, session_ttl.
--  Returns {"ok"}, or {"exists"} if the session is already known (a
--  replayed OPEN must not reset a matched session to idle).
local function open (sid, gw, ip, ttl)
    local sk = skey (sid)
    if redis.call ('EXISTS', sk) == 1 then
        return {'exists'}
    end
    redis.call ('HSET', sk, 'gw', gw, 'state', 'idle', 'ip', ip)
    redis.call ('EXPIRE', sk, ttl)
    redis.call ('SADD', gkey (gw), sid)
    return {'ok'}
end

local function op_open (a, o)
    return open (a[o + 1], a[o + 2], a[o + 3], a[o + 4])
end

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
local function find (sid, mid, match_ttl, session_ttl, mode, interests, now,
                     wait)
    mode = mode_of (mode)
    local sk = skey (sid)
    --  Every session hash has a state (open sets it): none = no session.
    local s = redis.call ('HMGET', sk, 'state', 'ip')
    local state = s[1]
    if not state then
        return {'gone'}
    end
    if state == 'matched' then
        return {'already_matched'}
    end
    local q --  a waiting session's queues: mode, interests, relaxed
    if state == 'waiting' then
        q = redis.call ('HMGET', sk, 'mode', 'interests', 'relaxed')
    end
    local ip = s[2]
    if ip and ip ~= '' then
        local left = redis.call ('PTTL', bankey (ip))
        if left > 0 or left == -1 then
            --  Banned: out of every queue (a find while waiting), not
            --  queued.
            if q then
                dequeue (sid, q[1], split (q[2]), q[3] == '1')
                redis.call ('HSET', sk, 'state', 'idle')
            end
            return {'banned', tostring (left > 0 and left or 0)}
        end
    end
    redis.call ('EXPIRE', sk, session_ttl)
    if q then
        --  A second find changes nothing: the first one's queues stand
        --  (the queues are sets, so nobody is queued twice).
        enqueue (sid, mode_of (q[1]), split (q[2]), q[3] == '1',
                 now + tonumber (wait))
        return {'waiting'}
    end
    --  Idle: in no queue, no `relaxed` (every way out of waiting drops
    --  it). sid's new mode and interests go into its hash with its new
    --  state (one HSET: pair's or enqueue's).
    local list = split (interests)
    local cand, cgw, ci, cr, recent, popped
    if #list == 0 then
        cand, cgw, ci, cr, recent, popped = pick ({qkey (mode)}, sid, mode,
                                                  now, true)
        if not cand then
            enqueue (sid, mode, list, true, now, interests)
            return {'waiting'}
        end
    else
        local keys = {}
        for k, interest in ipairs (list) do
            keys[k] = qikey (mode, interest)
        end
        cand, cgw, ci, cr, recent, popped = pick (keys, sid, mode, now, true)
        if recent then
            local w = tonumber (wait)
            if w <= 0 then
                --  No interest wait: open to a random stranger at once.
                local r = {pick ({qkey (mode)}, sid, mode, now, true)}
                if r[1] and not r[5] then
                    cand, cgw, ci, cr, recent, popped = unpack (r, 1, 6)
                end
            else
                --  Someone other than a recent partner of sid waits in
                --  the mode? Then sid waits too.
                local other, _, _, _, orecent = pick ({qkey (mode),
                                                      relaxkey (mode)}, sid,
                                                     mode, now, false)
                if other and not orecent then
                    enqueue (sid, mode, list, false, now + w, interests)
                    return {'waiting'}
                end
            end
        elseif not cand then
            local w = tonumber (wait)
            if w <= 0 then
                cand, cgw, ci, cr, recent, popped = pick ({qkey (mode)}, sid,
                                                          mode, now, true)
                if not cand then
                    enqueue (sid, mode, list, true, now, interests)
                    return {'waiting'}
                end
            else
                enqueue (sid, mode, list, false, now + w, interests)
                return {'waiting'}
            end
        end
    end
    local shared = pair (sid, list, false, cand, ci, cr, popped, mid, mode,
                         match_ttl, session_ttl, interests)
    return {'matched', cand, cgw, mid, mode, shared}
end

--  ARGV: sid, gw, mid (a fresh match id), match_ttl, session_ttl, mode
--  ("video" | "text"), interests (joined by "\n", "" = none), now_ms,
--  wait_ms. Returns {"matched", cand, cand_gw, mid, mode, shared} |
--  {"waiting"} | {"already_matched"} | {"gone"} (no session hash) |
--  {"banned", ms} (sid's address hash is banned for ms more; report.lua).
--  The TTLs go to EXPIRE as given; `now` is converted only where a sum or
--  a comparison needs it (tonumber is strtod).
local function op_find (a, o)
    return find (a[o + 1], a[o + 3], a[o + 4], a[o + 5], a[o + 6], a[o + 7],
                 a[o + 8], a[o + 9])
end

--  route: may `sid` send a signal (to `target`), a chat message or a
--  typing flag (target "": to whoever is its partner) within match
--  `match`? Read-only. ARGV: sid, target ("" = the current partner),
--  match ("" = the current one).
--  Returns {"ok", partner_gw, mid, partner} | {"not_matched"} |
--  {"not_partner"}.
local function op_route (a, o)
    local sid, target, match = a[o + 1], a[o + 2], a[o + 3]
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
end

--  leave: session `sid` ends its match, or leaves the queues.
--  ARGV: sid, target ("" = whoever is the partner), session_ttl, now_ms,
--  rematch_block_ms. Returns {"ended", partner, partner_gw, mid}
--  (partner_gw "" if the partner is gone: tell nobody) | {"unqueued"} |
--  {"not_partner"} | {"not_matched"}.
local function leave (sid, target, ttl, now, block)
    local sk = skey (sid)
    local s = redis.call ('HMGET', sk, 'state', 'partner', 'match', 'rn')
    local state = s[1]
    if not state then
        return {'not_matched'}
    end
    redis.call ('EXPIRE', sk, ttl)
    if state == 'matched' then
        if target ~= '' and target ~= s[2] then
            return {'not_partner'}
        end
        local pgw = unpair (sid, s[2], s[3], now, block, s[4] or '0')
        return {'ended', s[2], pgw or '', s[3]}
    end
    if state == 'waiting' then
        local q = redis.call ('HMGET', sk, 'mode', 'interests', 'relaxed')
        dequeue (sid, q[1], split (q[2]), q[3] == '1')
        redis.call ('HSET', sk, 'state', 'idle')
        return {'unqueued'}
    end
    return {'not_matched'}
end

local function op_leave (a, o)
    return leave (a[o + 1], a[o + 2], a[o + 3], a[o + 4], a[o + 5])
end

--  close: session `sid`'s socket closed; forget it.
--  ARGV: sid, gw, now_ms, rematch_block_ms. Returns {"ended", partner,
--  partner_gw, mid} when a partner must be told, else {"closed"}.
local function close (sid, gw, now, block)
    local partner, pgw, mid = close_session (sid, gw, now, block)
    if partner then
        return {'ended', partner, pgw, mid}
    end
    return {'closed'}
end

local function op_close (a, o)
    return close (a[o + 1], a[o + 2], a[o + 3], a[o + 4])
end

--  gw_dead: gateway `gw` stopped (BYE) or stopped heartbeating: close
--  every session it held.
--  ARGV: gw, dead_before_ms ("" = unconditional; else only if the last
--  heartbeat stored in KEYS[1] is older, so that a gateway another
--  matcher still hears is left alone), now_ms, rematch_block_ms.
--  Returns {"alive", last_ms} or {"dead", partner1, partner_gw1, sid1,
--  mid1, partner2, ...}: the partners (on other gateways) to tell.
local function op_gw_dead (a, o)
    local gw, before = a[o + 1], a[o + 2]
    local now, block = a[o + 3], a[o + 4]
    if before ~= '' then
        local last = redis.call ('HGET', KEYS[1], gw)
        if last and tonumber (last) and tonumber (last) >= tonumber (before)
        then
            return {'alive', last}
        end
    end
    local out = {'dead'}
    local sids = redis.call ('SMEMBERS', gkey (gw))
    for _, sid in ipairs (sids) do
        local partner, pgw, mid = close_session (sid, gw, now, block, true)
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
end

--  relax: the sessions whose interest wait is over (score <= now in
--  {megle}:relax:<mode>) are opened to a random stranger: each moves into
--  the random queue of its mode (staying in its interest queues) and is
--  at once matched with whoever waits there, if anyone. At most one due
--  session per match id given, so every call is bounded.
--  ARGV: now_ms, match_ttl, session_ttl, mid1, mid2, ... (fresh ids).
--  Returns {"relaxed", moved, more, sid1, sid_gw1, cand1, cand_gw1, mid1,
--  mode1, shared1, sid2, ...}: one 7-tuple per match made (sid is the
--  initiator); more = "1" if due sessions may remain, else "0".
local function op_relax (a, o, n)
    local now = tonumber (a[o + 1])
    local match_ttl, session_ttl = tonumber (a[o + 2]), tonumber (a[o + 3])
    local budget = n - 3
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
                local list = split (s[4])
                enqueue (sid, mode, list, true, now)
                moved = moved + 1
                local cand, cgw, ci, cr, _, popped = pick ({qkey (mode)}, sid,
                                                           mode, now, true)
                if cand then
                    used = used + 1
                    local mid = a[o + 3 + used]
                    local shared = pair (sid, list, true, cand, ci, cr,
                                         popped, mid, mode, match_ttl,
                                         session_ttl)
                    redis.call ('EXPIRE', skey (sid), session_ttl)
                    for _, v in ipairs ({sid, s[1], cand, cgw, mid, mode,
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
end

--  report: session `sid` reports its current partner in match `match`
--  (a report ends nothing: the reporter usually presses Next). The
--  partner's address hash gets sid's address hash added to its report
--  set, scored by time; reports older than the window drop out and the
--  set expires with the window. Once `threshold` distinct reporter hashes
--  are in it, the partner's address hash is banned for `ban_s` seconds
--  (find refuses it). A report from the reported hash itself (two
--  sessions behind one address) is not counted.
--  ARGV: sid, match, now_ms, window_s, threshold, ban_s.
--  Returns {"reported", partner, count, banned ("1" | "0")} |
--  {"not_matched"} (no partner, or `match` is not the current one).
local function op_report (a, o)
    local sid, match = a[o + 1], a[o + 2]
    local now, window = tonumber (a[o + 3]), tonumber (a[o + 4])
    local threshold, ban_s = tonumber (a[o + 5]), tonumber (a[o + 6])
    local s = redis.call ('HMGET', skey (sid), 'state', 'partner', 'match',
                          'ip')
    if s[1] ~= 'matched' or not s[2] or s[3] ~= match then
        return {'not_matched'}
    end
    local partner, mine = s[2], s[4]
    local theirs = redis.call ('HGET', skey (partner), 'ip')
    if not theirs or theirs == '' or not mine or mine == '' or theirs == mine
    then
        return {'reported', partner, '0', '0'}
    end
    local key = repkey (theirs)
    redis.call ('ZADD', key, now, mine)
    redis.call ('ZREMRANGEBYSCORE', key, '-inf', now - window * 1000)
    redis.call ('EXPIRE', key, window)
    local count = redis.call ('ZCARD', key)
    local banned = '0'
    if count >= threshold then
        redis.call ('SET', bankey (theirs), '1', 'EX', ban_s)
        redis.call ('DEL', key)
        banned = '1'
    end
    return {'reported', partner, tostring (count), banned}
end

local OPS = {
    gw_beat = op_gw_beat,
    open = op_open,
    find = op_find,
    route = op_route,
    leave = op_leave,
    close = op_close,
    gw_dead = op_gw_dead,
    relax = op_relax,
    report = op_report,
}
