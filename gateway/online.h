//  online - the "users online" count a gateway tells its clients.
//
//  The matcher's PULSE carries the total over every gateway, counting this
//  one as of its last heartbeat; the count here swaps that share for the
//  live one, so a newcomer counts itself at once. Every client hears the
//  count when it changes, at most once per interval: a change within the
//  interval goes out when it ends. A small change (under 1 % of the count
//  last pushed) waits for the longer ONLINE_SMALL_MS instead: with tens of
//  thousands of clients on a gateway and people coming and going all the
//  time, the count changes every few milliseconds, and a push a second
//  would cost a message per client per second for a digit nobody reads.
//  Below 100 users every change counts. A newcomer is told a count in its
//  welcome: the one everyone was last pushed while the live count is
//  within 1 % of it (so arrivals do not defeat the longer wait), else the
//  live count; then, as that is not what the others were pushed, the next
//  count goes to everyone, even one equal to what the others heard (or the
//  newcomer would keep a number nobody corrects).
//
//  Pure bookkeeping on a caller-given monotonic clock: the gateway owns
//  the timer and the sockets (gateway.c). No libwebsockets, Check-tested
//  (tests/test_online.c).

#ifndef MEGLE_ONLINE_H
#define MEGLE_ONLINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct _online_t online_t;

//  The longest a changed count waits: changes under 1 % of it.
#define ONLINE_SMALL_MS 10000

typedef enum {
    ONLINE_NONE = 0, //  nothing to push
    ONLINE_PUSH = 1, //  push *count_p to every client now
    ONLINE_WAIT = 2, //  a push is due in *wait_ms_p: ask again then
} online_action_t;

//  A tracker that pushes at most once per interval_ms (>= 1; small
//  changes once per ONLINE_SMALL_MS or interval_ms if longer), with no
//  total yet. NULL if out of memory. The caller owns it.
online_t *online_new (uint32_t interval_ms);

//  Free the tracker and set *self_p to NULL. NULL-safe.
void online_destroy (online_t **self_p);

//  The matcher's total from a PULSE (>= 0).
void online_set_total (online_t *self, int64_t total);

//  The live sessions this gateway reported in its last heartbeat.
void online_set_reported (online_t *self, uint32_t reported);

//  The count with `live` sessions here (never fewer than live), or -1
//  before the first PULSE.
int64_t online_count (const online_t *self, size_t live);

//  The count to tell a newcomer on its own (its welcome), with `live`
//  sessions here counting it, or -1 before the first PULSE (see above).
int64_t online_welcome (online_t *self, size_t live);

//  What to do at now_ms with `live` sessions here. ONLINE_PUSH: the count
//  is recorded as pushed and the interval starts again.
online_action_t online_next (online_t *self, size_t live, uint64_t now_ms,
                             int64_t *count_p, uint64_t *wait_ms_p);

#endif
