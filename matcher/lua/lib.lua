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
--  {megle}:r:<sid> (zset, member = another session, score = until when,
--  ms) holds the recent partners that sid is not re-matched with while
--  someone else is waiting; sid's hash field `rn` counts the entries
--  added since its expired ones were last pruned (note_recent).
--  Every redis.call costs about a microsecond of Redis CPU on top of the
--  command itself, and Redis runs one script at a time: the helpers below
--  read each hash once (every field the op needs, in one HMGET), write it
--  once (one HSET), and touch only the queues the hash says a session is
--  in.
--  Reports and bans key on a session's salted address hash (its hash's
--  `ip` field), never on an address:
--    {megle}:rep:<iphash>   zset: member = a reporter's address hash,
--                           score = when it reported (ms); TTL = window
--    {megle}:ban:<iphash>   string, TTL = the ban's length

local P = '{megle}:'
local MODES = {'video', 'text'}
local SAMPLE = 32 --  members looked at per queue, per pick
local PRUNE_EVERY = 16 --  recent partners added between two prunes

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
--  "waiting" (and `relaxed` = "1" for a relaxed one with interests) plus
--  the field/value pairs of `fields` (a list, may be nil), in one HSET.
--  Invariants every script keeps (so that dequeue needs no guessing): an
--  idle or matched session is in no queue; a waiting one is in exactly
--  the queues above.
local function enqueue (sid, mode, list, relaxed, due, fields)
    for _, interest in ipairs (list) do
        redis.call ('SADD', qikey (mode, interest), sid)
    end
    local h = {skey (sid), 'state', 'waiting'}
    if #list == 0 then
        redis.call ('SADD', qkey (mode), sid)
    elseif relaxed then
        redis.call ('SADD', qkey (mode), sid)
        redis.call ('ZREM', relaxkey (mode), sid)
        h[#h + 1] = 'relaxed'
        h[#h + 1] = '1'
    else
        redis.call ('ZADD', relaxkey (mode), 'NX', due, sid)
    end
    for _, v in ipairs (fields or {}) do
        h[#h + 1] = v
    end
    redis.call ('HSET', unpack (h))
end

--  True while `other` is a recent partner of `sid` (`now`: ms, a number
--  or a numeric string; converted only when there is a score to compare).
local function is_recent (sid, other, now)
    local until_ms = redis.call ('ZSCORE', rkey (sid), other)
    return until_ms and tonumber (until_ms) > tonumber (now)
end

--  `other` becomes a recent partner of `sid` until `until_ms` (= now +
--  block, as a string) for `block` ms; the key expires with its newest
--  entry. Expired entries (score <= now) are pruned once every
--  PRUNE_EVERY additions: `n` is how many were added since the last prune
--  (sid's hash field `rn`; PRUNE_EVERY forces a prune). Returns the new
--  count as a string, for the caller to store in sid's hash. (Numbers are
--  passed to redis.call as strings made here with %d: Redis would format
--  a Lua number with %.17g, which costs more than the command.)
local function note_recent (sid, other, now, block, until_ms, n)
    local key = rkey (sid)
    n = (tonumber (n) or 0) + 1
    if n >= PRUNE_EVERY then
        redis.call ('ZREMRANGEBYSCORE', key, '-inf', now)
        n = 0
    end
    redis.call ('ZADD', key, until_ms, other)
    redis.call ('PEXPIRE', key, block)
    return string.format ('%d', n)
end

--  The hash fields pick reads of a candidate (c[1] .. c[5]).
local CAND_FIELDS = {'gw', 'state', 'mode', 'interests', 'relaxed'}

--  Reads candidate `cand`'s hash; returns it (CAND_FIELDS order) if it is
--  a live session waiting in `mode`, else nil (a ghost: expired, already
--  matched, or queued in another mode).
local function candidate (cand, mode)
    local c = redis.call ('HMGET', skey (cand), unpack (CAND_FIELDS))
    if not c[1] or c[2] ~= 'waiting' or mode_of (c[3]) ~= mode then
        return nil
    end
    return c
end

--  Look in each queue of `keys` (sets, or relax zsets, oldest first) for
--  a live session other than `sid`, waiting in `mode`. Members that are
--  not one (ghosts) are removed from that queue. Returns cand, c (its
--  hash, CAND_FIELDS order), is_recent, popped: the first candidate that
--  is not a recent partner of sid, else the first recent one (is_recent =
--  true), else nil. With `take` (the caller pairs a non-recent candidate
--  at once) a set is first tried with one SPOP: a usable member comes out
--  of that set right away (popped = the set's key, which dequeue then
--  skips); an unusable one (sid itself, a recent partner) is put back and
--  up to SAMPLE members are looked at, as without `take`.
local function pick (keys, sid, mode, now, take)
    local recent, recent_c
    for _, key in ipairs (keys) do
        local zset = string.find (key, ':relax:', 1, true) ~= nil
        local members, skip
        if zset then
            members = redis.call ('ZRANGE', key, 0, SAMPLE - 1)
        elseif take then
            local first = redis.call ('SPOP', key)
            if first then
                local c = first ~= sid and candidate (first, mode)
                if c and not is_recent (sid, first, now) then
                    return first, c, false, key
                end
                if first == sid or c then
                    redis.call ('SADD', key, first)
                end
                if c and not recent then
                    recent, recent_c = first, c
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
                local c = candidate (cand, mode)
                if not c then
                    redis.call (zset and 'ZREM' or 'SREM', key, cand)
                elseif not is_recent (sid, cand, now) then
                    return cand, c, false, nil
                elseif not recent then
                    recent, recent_c = cand, c
                end
            end
        end
    end
    if recent then
        return recent, recent_c, true, nil
    end
    return nil
end

--  Make `sid` (the initiator, interests `slist`) and the waiting `cand`
--  (its hash `c` from pick, `popped` from pick) a match `mid` of `mode`:
--  both leave every queue they are in, in this same step (sid only if
--  `squeued`: the relax script's sid waits, a finder does not). sid's
--  hash also gets the field/value pairs of `sfields` (may be nil).
--  Returns the interests they share, joined by "\n" (in sid's order).
local function pair (sid, slist, squeued, cand, c, popped, mid, mode,
                     match_ttl, session_ttl, sfields)
    if squeued then
        dequeue (sid, mode, slist, true)
    end
    local clist = split (c[4])
    dequeue (cand, mode, clist, c[5] == '1', popped)
    redis.call ('HSET', mkey (mid), 'a', cand, 'b', sid, 'mode', mode)
    redis.call ('EXPIRE', mkey (mid), match_ttl)
    local h = {skey (sid), 'state', 'matched', 'partner', cand, 'match', mid}
    for _, v in ipairs (sfields or {}) do
        h[#h + 1] = v
    end
    redis.call ('HSET', unpack (h))
    redis.call ('HSET', skey (cand), 'state', 'matched', 'partner', sid,
                'match', mid)
    redis.call ('EXPIRE', skey (cand), session_ttl)
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
--  deleted; else `rn` is its hash's `rn` field), and make the partner
--  idle if its hash still points back at `sid` in the same match; the
--  two become recent partners for `block` ms. Returns the partner's
--  gateway, or false if the partner is gone or no longer in this match
--  (then nobody is to be told).
local function unpair (sid, partner, mid, now, block, rn)
    if mid and mid ~= '' then
        redis.call ('DEL', mkey (mid))
    end
    local h = {skey (sid), 'state', 'idle'}
    if not partner or partner == '' then
        if rn then
            redis.call ('HSET', unpack (h))
            redis.call ('HDEL', skey (sid), 'partner', 'match')
        end
        return false
    end
    local b = tonumber (block)
    local remember = b and b > 0 and sid ~= ''
    local until_ms = remember and string.format ('%d', tonumber (now) + b)
    local p = redis.call ('HMGET', skey (partner), 'gw', 'partner', 'match',
                          'rn')
    if rn then
        if remember then
            h[#h + 1] = 'rn'
            h[#h + 1] = note_recent (sid, partner, now, block, until_ms, rn)
        end
        redis.call ('HSET', unpack (h))
        redis.call ('HDEL', skey (sid), 'partner', 'match')
    end
    if p[1] and p[2] == sid and p[3] == mid then
        local ph = {skey (partner), 'state', 'idle'}
        if remember then
            ph[#ph + 1] = 'rn'
            ph[#ph + 1] = note_recent (partner, sid, now, block, until_ms,
                                       p[4])
        end
        redis.call ('HSET', unpack (ph))
        redis.call ('HDEL', skey (partner), 'partner', 'match')
        return p[1]
    end
    if remember then
        note_recent (partner, sid, now, block, until_ms, PRUNE_EVERY)
    end
    return false
end

--  Remove session `sid` (last seen on gateway `gw`) entirely: end its
--  match, leave every queue, leave its gateway's set (unless `gw_going`:
--  the caller deletes that set), delete its hash and its recent partners.
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
    redis.call ('DEL', skey (sid), rkey (sid))
    if partner then
        return partner, pgw, mid
    end
    return nil
end


--  ------------------------------------------------------------------------
--  The operations. Each script's body is one function of OPS, called with
--  that script's ARGV (a list of strings) and returning its reply, so that
--  find.lua and the others are one-line wrappers and batch.lua can run
--  many of them in one call. KEYS[1] is the same for all of them.

local OPS = {}

--  gw_beat: a gateway said HELLO or HEARTBEAT.
--  ARGV: gw, now_ms (wall clock). Returns {"ok"}.
OPS.gw_beat = function (argv)
    redis.call ('HSET', KEYS[1], argv[1], argv[2])
    return {'ok'}
end

--  open: a session connected.
--  ARGV: sid, gw, ip_hash, session_ttl.
--  Returns {"ok"}, or {"exists"} if the session is already known (a
--  replayed OPEN must not reset a matched session to idle).
OPS.open = function (argv)
    local sid, gw, ip, ttl = argv[1], argv[2], argv[3], tonumber (argv[4])
    local sk = skey (sid)
    if redis.call ('EXISTS', sk) == 1 then
        return {'exists'}
    end
    redis.call ('HSET', sk, 'gw', gw, 'state', 'idle', 'ip', ip)
    redis.call ('EXPIRE', sk, ttl)
    redis.call ('SADD', gkey (gw), sid)
    return {'ok'}
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
OPS.find = function (argv)
    local sid, mid = argv[1], argv[3]
    --  The TTLs go to EXPIRE as given; `now` is converted only where a
    --  sum or a comparison needs it (tonumber is strtod).
    local match_ttl, session_ttl = argv[4], argv[5]
    local mode, interests = mode_of (argv[6]), argv[7]
    local now = argv[8]
    local sk = skey (sid)
    --  Every session hash has a state (open sets it): none = no session.
    local s = redis.call ('HMGET', sk, 'state', 'ip')
    if not s[1] then
        return {'gone'}
    end
    if s[1] == 'matched' then
        return {'already_matched'}
    end
    local q --  a waiting session's queues: mode, interests, relaxed
    if s[1] == 'waiting' then
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
                 now + tonumber (argv[9]))
        return {'waiting'}
    end
    --  Idle: in no queue, no `relaxed` (every way out of waiting drops
    --  it).
    local list = split (interests)
    --  sid's new mode and interests go into its hash with its new state
    --  (one HSET: pair's or enqueue's).
    local mine = {'mode', mode, 'interests', interests}

    local function matched (cand, c, popped)
        local shared = pair (sid, list, false, cand, c, popped, mid, mode,
                             match_ttl, session_ttl, mine)
        return {'matched', cand, c[1], mid, mode, shared}
    end

    --  Someone other than a recent partner of sid waits in the mode?
    local function others_wait ()
        local cand, _, recent = pick ({qkey (mode), relaxkey (mode)}, sid,
                                      mode, now, false)
        return cand ~= nil and not recent
    end

    if #list > 0 then
        local keys = {}
        for _, interest in ipairs (list) do
            keys[#keys + 1] = qikey (mode, interest)
        end
        local cand, c, recent, popped = pick (keys, sid, mode, now, true)
        if cand and not recent then
            return matched (cand, c, popped)
        end
        local wait = tonumber (argv[9])
        if wait <= 0 then
            --  No interest wait: open to a random stranger at once.
            local rand, rc, rand_recent, rpopped = pick ({qkey (mode)}, sid,
                                                         mode, now, true)
            if rand and not rand_recent then
                return matched (rand, rc, rpopped)
            end
            if cand then
                return matched (cand, c, popped)
            end
            if rand then
                return matched (rand, rc, rpopped)
            end
            enqueue (sid, mode, list, true, now, mine)
            return {'waiting'}
        end
        if cand and not others_wait () then
            return matched (cand, c, popped)
        end
        enqueue (sid, mode, list, false, now + wait, mine)
        return {'waiting'}
    end
    local cand, c, _, popped = pick ({qkey (mode)}, sid, mode, now, true)
    if cand then
        return matched (cand, c, popped)
    end
    enqueue (sid, mode, list, true, now, mine)
    return {'waiting'}
end

--  route: may `sid` send a signal (to `target`), a chat message or a
--  typing flag (target "": to whoever is its partner) within match
--  `match`? Read-only. ARGV: sid, target ("" = the current partner),
--  match ("" = the current one).
--  Returns {"ok", partner_gw, mid, partner} | {"not_matched"} |
--  {"not_partner"}.
OPS.route = function (argv)
    local sid, target, match = argv[1], argv[2], argv[3]
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
OPS.leave = function (argv)
    local sid, target, ttl = argv[1], argv[2], argv[3]
    local now, block = argv[4], argv[5]
    local sk = skey (sid)
    local s = redis.call ('HMGET', sk, 'state', 'partner', 'match', 'rn')
    if not s[1] then
        return {'not_matched'}
    end
    redis.call ('EXPIRE', sk, ttl)
    if s[1] == 'matched' then
        if target ~= '' and target ~= s[2] then
            return {'not_partner'}
        end
        local pgw = unpair (sid, s[2], s[3], now, block, s[4] or '0')
        return {'ended', s[2], pgw or '', s[3]}
    end
    if s[1] == 'waiting' then
        local q = redis.call ('HMGET', sk, 'mode', 'interests', 'relaxed')
        dequeue (sid, q[1], split (q[2]), q[3] == '1')
        redis.call ('HSET', sk, 'state', 'idle')
        return {'unqueued'}
    end
    return {'not_matched'}
end

--  close: session `sid`'s socket closed; forget it.
--  ARGV: sid, gw, now_ms, rematch_block_ms. Returns {"ended", partner,
--  partner_gw, mid} when a partner must be told, else {"closed"}.
OPS.close = function (argv)
    local partner, pgw, mid = close_session (argv[1], argv[2], argv[3],
                                             argv[4])
    if partner then
        return {'ended', partner, pgw, mid}
    end
    return {'closed'}
end

--  gw_dead: gateway `gw` stopped (BYE) or stopped heartbeating: close
--  every session it held.
--  ARGV: gw, dead_before_ms ("" = unconditional; else only if the last
--  heartbeat stored in KEYS[1] is older, so that a gateway another
--  matcher still hears is left alone), now_ms, rematch_block_ms.
--  Returns {"alive", last_ms} or {"dead", partner1, partner_gw1, sid1,
--  mid1, partner2, ...}: the partners (on other gateways) to tell.
OPS.gw_dead = function (argv)
    local gw, before = argv[1], argv[2]
    local now, block = argv[3], argv[4]
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
OPS.relax = function (argv)
    local now = tonumber (argv[1])
    local match_ttl, session_ttl = tonumber (argv[2]), tonumber (argv[3])
    local budget = #argv - 3
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
                local cand, c, _, popped = pick ({qkey (mode)}, sid, mode,
                                                 now, true)
                if cand then
                    used = used + 1
                    local mid = argv[3 + used]
                    local shared = pair (sid, list, true, cand, c, popped,
                                         mid, mode, match_ttl, session_ttl)
                    redis.call ('EXPIRE', skey (sid), session_ttl)
                    for _, v in ipairs ({sid, s[1], cand, c[1], mid, mode,
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
OPS.report = function (argv)
    local sid, match = argv[1], argv[2]
    local now, window = tonumber (argv[3]), tonumber (argv[4])
    local threshold, ban_s = tonumber (argv[5]), tonumber (argv[6])
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
