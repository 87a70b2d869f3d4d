//  keepalive - the gateway's own WebSocket ping / idle-timeout policy.
//
//  lws 4.1 would keep one "validity" timer per connection in its single
//  sorted timer list and re-sort it on every pong: O(connections) per
//  event (tools/bench/analysis.md). The gateway does it itself instead,
//  O(1) per event: each connection records when it last received anything
//  (a message or a pong: one store), and the gateway's tick sweeps the
//  roster in slices (roster_sweep) so that every connection is looked at
//  about once per KEEPALIVE_PERIOD_MS, asking keepalive_check what it
//  needs. The work is O(1) amortised per connection and per second,
//  whatever the count.
//
//  Times are milliseconds of the monotonic clock cut to 32 bits: they
//  wrap every ~49 days, and the policy compares them modulo 2^32, which
//  is exact as long as a connection is looked at within 2^31 ms of its
//  last input (the idle timeout closes it long before).
//
//  Pure functions, no libwebsockets: unit tested on their own
//  (tests/test_keepalive.c).

#ifndef MEGLE_KEEPALIVE_H
#define MEGLE_KEEPALIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The whole roster is swept about once in this time.
#define KEEPALIVE_PERIOD_MS 1000

typedef enum {
    KEEPALIVE_OK = 0,    //  nothing to do
    KEEPALIVE_PING = 1,  //  quiet for the ping interval: send one ping
    KEEPALIVE_CLOSE = 2, //  nothing received for the idle timeout: close
} keepalive_verdict_t;

//  What a connection needs at now_ms, having last received something at
//  last_rx_ms; pinged says a ping already went out since then (one ping
//  per quiet stretch: the pong, being input, starts a new one). ping_ms <
//  idle_ms, both > 0.
keepalive_verdict_t keepalive_check (uint32_t now_ms, uint32_t last_rx_ms,
                                     bool pinged, uint32_t ping_ms,
                                     uint32_t idle_ms);

//  How many of a table's slots one tick of tick_ms visits so that all of
//  them are visited once per period_ms: at least 1 (0 for no slots), at
//  most slots.
size_t keepalive_slice (size_t slots, uint32_t tick_ms, uint32_t period_ms);

#endif
