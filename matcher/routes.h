//  routes - the matcher's route cache: session id -> { partner, partner's
//  gateway, match id }, so that a signal, chat line or typing flag can be
//  relayed without a Redis call (gateway -> matcher -> gateway).
//
//  An entry is learned only from what this matcher's own scripts said
//  (routes_learn): both sides of a match its find made, and the two ends
//  of a route its route script confirmed. It is forgotten when this
//  matcher sees the match end (leave, close, gw_dead, a failed route),
//  when Redis (re)connects (it may have lost its data: RESET), after
//  ttl_ms (MEGLE_MATCH_TTL), or when the cache is full (oldest first).
//
//  A cached route can only be stale when its match has ended elsewhere
//  (another matcher, a Redis TTL): the relayed frame then still carries
//  the old match id, and the partner's gateway drops every relayed frame
//  whose match id is not the session's current one. Match ids are never
//  reused, so a stale entry never reaches anyone else.
//
//  Order: a session's frames are handled in order. The cache also counts,
//  per session, the Redis ops in flight (routes_pending_add / _done): a
//  session, or a partner, with an op in flight is never routed from the
//  cache, so a cached relay can never overtake the session's own earlier
//  LEAVE or FIND, or the partner's LEAVE, sent through this matcher. A
//  gateway-death op (BYE) in flight holds back every cached route.
//
//  One per engine, single-threaded (the zloop's). Strings returned are
//  valid until the next call that changes the cache.

#ifndef MEGLE_ROUTES_H
#define MEGLE_ROUTES_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "proto/frame.h"

typedef struct _routes_t routes_t;

//  Create a cache of at most cap routes (0 = off: every lookup misses,
//  nothing is stored) that live ttl_ms each. Returns NULL if out of
//  memory.
routes_t *routes_new (size_t cap, uint64_t ttl_ms);

//  Destroy the cache. NULL-safe; nulls *self_p.
void routes_destroy (routes_t **self_p);

//  Remember that sid is in match mid with partner, whose gateway is
//  partner_gw, as of now_ms (monotonic). Replaces sid's earlier route.
//  Ids that do not fit (sid, partner, mid: 32 hex; gw: 64) are refused.
//  Returns 0, or -1 (refused, cache off, or out of memory).
int routes_put (routes_t *self, const char *sid, const char *partner,
                const char *partner_gw, const char *mid, uint64_t now_ms);

//  Forget sid's route (its pending count stays).
void routes_forget (routes_t *self, const char *sid);

//  Forget every route to a partner on gateway gw (it died).
void routes_forget_gateway (routes_t *self, const char *gw);

//  Forget every route (pending counts stay).
void routes_clear (routes_t *self);

//  A Redis op of session sid is issued (sid NULL or "": an op about no
//  session that may end matches, i.e. a gateway's death). Call
//  routes_pending_done once when its reply has been handled. Out of
//  memory turns the cache off for good (logged), so order stays safe.
void routes_pending_add (routes_t *self, const char *sid);
void routes_pending_done (routes_t *self, const char *sid);

//  The route for a frame of sid stamped with match mid, to target (a
//  signal's target_id; "" for chat and typing): the partner's gateway,
//  and *partner_p (may be NULL) the partner's session id, if sid's route
//  is cached, not expired at now_ms, in match mid, to target (unless ""),
//  and neither sid nor its partner nor a gateway death has an op in
//  flight. Else NULL (route through Redis). Counts hits and misses.
const char *routes_lookup (routes_t *self, const char *sid, const char *mid,
                           const char *target, uint64_t now_ms,
                           const char **partner_p);

//  Learn from a script's reply to frame f (borrowed; status is the
//  reply's first element, reply its array): find "matched" -> both sides;
//  route "ok" -> both ends; route refused, leave, close -> forget sid
//  (and the partner of an ended match); gw_dead "dead" -> forget every
//  session listed and every route to the dead gateway. now_ms monotonic.
void routes_learn (routes_t *self, const frame_t *f, const char *status,
                   const redisReply *reply, uint64_t now_ms);

//  Routes cached now; lookups answered from the cache; lookups that went
//  to Redis.
size_t routes_size (routes_t *self);
uint64_t routes_hits (routes_t *self);
uint64_t routes_misses (routes_t *self);

#endif
