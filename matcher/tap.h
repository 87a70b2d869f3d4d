//  tap - the matcher's tap socket: a copy of every bus frame, in both
//  directions, for megle-tap (tools/tap) to show.
//
//  An XPUB socket bound on config->tap (loopback by default). Each tapped
//  frame is a three-part message:
//
//    1  direction: "in" (gateway -> matcher) or "out" (matcher -> gateway)
//    2  8 bytes, big-endian: wall-clock microseconds when the matcher read
//       (in) or published (out) the frame
//    3  the frame's bytes: exactly as received (corrupt ones included) or
//       exactly as sent (frame_encode output; the destination gateway is
//       inside the frame)
//
//  A subscriber may subscribe to "in", "out" or "" (both). The tap reads
//  the XPUB's (un)subscription messages from the matcher's zloop
//  (ZMQ_XPUB_VERBOSER, so that every unsubscribe arrives too) and keeps one
//  count per direction; while a direction's count is 0, tap_frame returns
//  at once without copying anything. Sending never blocks: ZMQ_XPUB_NODROP
//  with ZMQ_DONTWAIT makes a full subscriber refuse the frame, which is
//  counted as a drop.

#ifndef MEGLE_TAP_H
#define MEGLE_TAP_H

#include <stddef.h>
#include <stdint.h>
#include <czmq.h>

typedef struct _tap_t tap_t;

typedef enum {
    TAP_IN = 0,  //  gateway -> matcher
    TAP_OUT = 1, //  matcher -> gateway
} tap_dir_t;

//  Bind the tap socket on endpoint and register it on loop. zap (borrowed,
//  may be NULL): make the socket a CURVE server (zap.h). Returns NULL
//  (reason logged) on failure. loop must outlive the tap.
typedef struct _zap_t zap_t;
tap_t *tap_new (const char *endpoint, zloop_t *loop, zap_t *zap);

//  Unregister from the loop and close the socket. NULL-safe; nulls *self_p.
void tap_destroy (tap_t **self_p);

//  Offer one frame's bytes (not kept) to the tap. NULL-safe: a NULL tap
//  (none configured) or nobody subscribed to dir costs one test.
void tap_frame (tap_t *self, tap_dir_t dir, const void *data, size_t size);

//  How many frames were refused because a subscriber was full (0 if NULL).
uint64_t tap_drops (const tap_t *self);

#endif
