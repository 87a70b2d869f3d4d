//  matchers - the matchers one gateway talks to: which of them are live,
//  and which one a session's frames go to.
//
//  A matcher is live while frames keep coming from it (each broadcasts a
//  PULSE every heartbeat): heard within timeout_ms. Before any was ever
//  heard (start-up), and whenever none is live, every matcher is a
//  candidate, so that frames are at least tried. A session goes to the
//  candidate with the highest rendezvous (highest random weight) score of
//  (session id, matcher name): every gateway picks the same matcher for
//  the same session without talking to the others, and when a matcher
//  dies only its own sessions move. No sockets here (bus.c has them), so
//  the choice and the live/dead transitions are unit-tested without a
//  network (tests/test_matchers.c).

#ifndef MEGLE_MATCHERS_H
#define MEGLE_MATCHERS_H

#include <stdbool.h>
#include <stdint.h>

#define MATCHERS_MAX 16 //  = CONFIG_LIST_MAX; bitmasks are uint32_t

typedef struct _matchers_t matchers_t;

//  A set of count (1..MATCHERS_MAX) matchers named names[i] (copied;
//  names must differ, e.g. their endpoints), none live yet. Returns NULL
//  if count is out of range, a name is empty or out of memory.
matchers_t *matchers_new (const char *const *names, int count,
                          uint64_t timeout_ms);

//  NULL-safe; nulls *self_p.
void matchers_destroy (matchers_t **self_p);

int matchers_count (matchers_t *self);

//  Name of matcher i (0 <= i < count), valid while the set lives.
const char *matchers_name (matchers_t *self, int i);

//  A frame came from matcher i at now_ms (monotonic). Returns true if it
//  was not live before (it came up, or back).
bool matchers_heard (matchers_t *self, int i, uint64_t now_ms);

//  Mark every live matcher silent for more than timeout_ms at now_ms as
//  dead. Returns the bitmask (bit i = matcher i) of those that went from
//  live to dead in this call.
uint32_t matchers_expire (matchers_t *self, uint64_t now_ms);

//  Live as of the last matchers_heard / matchers_expire.
bool matchers_live (matchers_t *self, int i);
int matchers_live_count (matchers_t *self);

//  True if matcher i may be given frames: it is live, or none is.
bool matchers_candidate (matchers_t *self, int i);

//  The candidate with the highest score for session id sid, leaving out
//  the matchers whose bit is set in exclude. Returns its index, or -1 if
//  every candidate is excluded.
int matchers_pick (matchers_t *self, const char *sid, uint32_t exclude);

//  The rendezvous score of (sid, name): a 64-bit hash of both.
uint64_t matchers_score (const char *sid, const char *name);

#endif
