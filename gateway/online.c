//  online - the "users online" count a gateway tells its clients (see
//  online.h).

#include "online.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>

struct _online_t {
    uint32_t interval_ms; //  at most one push per this
    int64_t total;        //  the last PULSE's total, -1 = none yet
    uint32_t reported;    //  live sessions in our last heartbeat
    int64_t pushed;       //  the count every client was last told; -1 =
                          //  none yet, or clients were told different ones
    uint64_t pushed_ms;   //  monotonic ms of the last push, 0 = none
};

online_t *
online_new (uint32_t interval_ms)
{
    assert (interval_ms > 0);
    online_t *self = (online_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->interval_ms = interval_ms;
    self->total = -1;
    self->pushed = -1;
    return self;
}

void
online_destroy (online_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

void
online_set_total (online_t *self, int64_t total)
{
    assert (self);
    self->total = total < 0 ? 0 : total;
}

void
online_set_reported (online_t *self, uint32_t reported)
{
    assert (self);
    self->reported = reported;
}

int64_t
online_count (const online_t *self, size_t live)
{
    assert (self);
    if (self->total < 0)
        return -1;
    int64_t here = (int64_t) live;
    int64_t count = self->total - (int64_t) self->reported + here;
    return count < here ? here : count;
}

//  Whether count is within 1 % of the count everyone was last pushed.
static bool
s_small (const online_t *self, int64_t count)
{
    if (self->pushed < 0)
        return false;
    int64_t change =
        count > self->pushed ? count - self->pushed : self->pushed - count;
    return change * 100 < self->pushed;
}

int64_t
online_welcome (online_t *self, size_t live)
{
    assert (self);
    int64_t count = online_count (self, live);
    if (count < 0)
        return -1;
    if (s_small (self, count))
        return self->pushed; //  what everyone heard
    self->pushed = -1;       //  the next count goes to everyone
    return count;
}

online_action_t
online_next (online_t *self, size_t live, uint64_t now_ms, int64_t *count_p,
             uint64_t *wait_ms_p)
{
    assert (self);
    assert (count_p);
    assert (wait_ms_p);
    int64_t count = online_count (self, live);
    if (count < 0 || count == self->pushed)
        return ONLINE_NONE;
    uint64_t gap = self->interval_ms;
    if (s_small (self, count) && gap < ONLINE_SMALL_MS)
        gap = ONLINE_SMALL_MS;
    uint64_t due = self->pushed_ms ? self->pushed_ms + gap : 0;
    if (now_ms < due) {
        *wait_ms_p = due - now_ms;
        return ONLINE_WAIT;
    }
    self->pushed = count;
    self->pushed_ms = now_ms ? now_ms : 1;
    *count_p = count;
    return ONLINE_PUSH;
}
