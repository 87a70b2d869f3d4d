//  clock - wall and monotonic clocks in milliseconds and microseconds.

#include "clock.h"

#include <time.h>

static uint64_t
s_read_us (clockid_t id)
{
    struct timespec ts;
    //  Cannot fail for these two clock ids on Linux; a zero time is the
    //  least harmful answer if it ever did.
    if (clock_gettime (id, &ts))
        return 0;
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

uint64_t
clock_wall_ms (void)
{
    return s_read_us (CLOCK_REALTIME) / 1000u;
}

uint64_t
clock_mono_ms (void)
{
    return s_read_us (CLOCK_MONOTONIC) / 1000u;
}

uint64_t
clock_mono_us (void)
{
    return s_read_us (CLOCK_MONOTONIC);
}
