//  keepalive - the gateway's own WebSocket ping / idle-timeout policy:
//  the decision for one connection and the size of a sweep's slice.

#include "keepalive.h"

keepalive_verdict_t
keepalive_check (uint32_t now_ms, uint32_t last_rx_ms, bool pinged,
                 uint32_t ping_ms, uint32_t idle_ms)
{
    //  Modulo 2^32: right across a wrap of the 32-bit clock. A last_rx
    //  "in the future" (read before now_ms was, on another path) is a
    //  huge difference: treat it as quiet for 0 ms.
    uint32_t quiet = now_ms - last_rx_ms;
    if (quiet > UINT32_MAX / 2)
        quiet = 0;
    if (quiet >= idle_ms)
        return KEEPALIVE_CLOSE;
    if (quiet >= ping_ms && !pinged)
        return KEEPALIVE_PING;
    return KEEPALIVE_OK;
}

size_t
keepalive_slice (size_t slots, uint32_t tick_ms, uint32_t period_ms)
{
    if (slots == 0)
        return 0;
    if (period_ms == 0 || tick_ms >= period_ms)
        return slots;
    //  Ceiling of slots * tick / period, without overflow for any table
    //  this process can hold.
    size_t ticks = (period_ms + tick_ms - 1) / (tick_ms ? tick_ms : 1);
    size_t slice = (slots + ticks - 1) / ticks;
    return slice ? slice : 1;
}
