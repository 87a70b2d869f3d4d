//  ratelimit - one connection's rate limits: token buckets for client
//  messages, client bytes and find_match per second, and the flood
//  detector that says when a client is so far past them that the
//  connection should be closed (1008, policy violation).
//
//  A bucket holds up to `burst` tokens and refills at `rate` tokens per
//  second; a message takes one message token and one byte token per byte
//  (a message larger than the byte burst takes the whole burst, so that
//  every message the size limit lets through can pass eventually). A
//  refused message is dropped; its sender is told once (RATELIMIT_REFUSE,
//  with the time until it may send again), and messages sent before that
//  time are dropped silently (RATELIMIT_DROP), so that a flood does not make
//  the gateway write a flood of errors back. More than flood_max refusals
//  within flood_window_ms is a flood (RATELIMIT_FLOOD).
//
//  Pure bookkeeping on a caller-given monotonic clock: no network, no
//  libwebsockets, Check-tested (tests/test_ratelimit.c).

#ifndef MEGLE_RATELIMIT_H
#define MEGLE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t rate;  //  tokens per second; 0 = this bucket is off
    uint32_t burst; //  capacity (>= 1)
} ratelimit_rate_t;

typedef struct {
    ratelimit_rate_t msgs;    //  client messages
    ratelimit_rate_t bytes;   //  client message bytes
    ratelimit_rate_t finds;   //  find_match
    uint32_t flood_max;       //  refusals tolerated per window (>= 1)
    uint32_t flood_window_ms; //  the window (>= 1)
} ratelimit_config_t;

typedef enum {
    RATELIMIT_PASS = 0,   //  within the limits: handle the message
    RATELIMIT_REFUSE = 1, //  over a limit: drop it, answer rate_limited
    RATELIMIT_DROP = 2,   //  over a limit, sender already told: drop it
    RATELIMIT_FLOOD = 3,  //  far over the limits: close the connection
} ratelimit_verdict_t;

typedef struct _ratelimit_t ratelimit_t;

//  Fill *config from the gateway's knobs: rates and bursts as given, a
//  flood = RATELIMIT_FLOOD_FACTOR times the message burst refused within
//  RATELIMIT_FLOOD_WINDOW_MS.
#define RATELIMIT_FLOOD_FACTOR    10
#define RATELIMIT_FLOOD_WINDOW_MS 10000
void ratelimit_config (ratelimit_config_t *config, int msgs, int msgs_burst,
                       int bytes, int bytes_burst, int finds, int finds_burst);

//  New limits for one connection, buckets full at now_ms. The config is
//  copied. Returns NULL if out of memory.
ratelimit_t *ratelimit_new (const ratelimit_config_t *config, uint64_t now_ms);

//  The same in memory the caller provides and keeps owning: mem is
//  ratelimit_sizeof () bytes, aligned for a pointer or a uint64_t (ws.c
//  embeds the limits in the per-connection data lws allocates). The
//  config is NOT copied: it must outlive the limits (the gateway's, shared
//  by all its connections). Returns mem as a ratelimit_t. Limits made so
//  hold nothing else: there is nothing to destroy, the caller just stops
//  using them.
size_t ratelimit_sizeof (void);
ratelimit_t *ratelimit_init (void *mem, const ratelimit_config_t *config,
                             uint64_t now_ms);

//  Destroy limits made by ratelimit_new. NULL-safe; nulls *self_p.
void ratelimit_destroy (ratelimit_t **self_p);

//  A whole client message of `bytes` bytes arrived at now_ms (monotonic).
//  On RATELIMIT_REFUSE, *retry_after_ms_p (if not NULL) is how long until a
//  message of that size would pass (>= 1).
ratelimit_verdict_t ratelimit_message (ratelimit_t *self, size_t bytes,
                                       uint64_t now_ms,
                                       uint32_t *retry_after_ms_p);

//  A find_match (already admitted by ratelimit_message) at now_ms.
ratelimit_verdict_t ratelimit_find (ratelimit_t *self, uint64_t now_ms,
                                    uint32_t *retry_after_ms_p);

//  Refusals counted in the current flood window (for tests and logs).
uint32_t ratelimit_refusals (ratelimit_t *self);

#endif
