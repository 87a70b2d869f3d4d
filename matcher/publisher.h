//  publisher - the matcher's bus_out: one ZeroMQ XPUB socket on which every
//  frame goes out as two parts, the destination gateway id + one 0x00
//  byte (the topic; "*" for all gateways), then the frame_encode bytes.
//  Sending never blocks: a frame the socket refuses is counted and
//  reported (rate-limited), never waited for. A frame for a gateway that
//  is not subscribed (yet) is held until it subscribes, for at most the
//  hold time, so a restarted matcher loses nothing to ZeroMQ's slow-joiner
//  window.

#ifndef MEGLE_PUBLISHER_H
#define MEGLE_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>
#include <czmq.h>

typedef struct _publisher_t publisher_t;

//  Bind an XPUB socket on endpoint with the given send high-water mark and
//  watch its subscriptions from loop (borrowed; must outlive the
//  publisher). Frames wait at most hold_ms for their gateway to subscribe.
//  zap (borrowed, may be NULL): make the socket a CURVE server (zap.h).
//  Returns NULL (reason logged) on failure.
typedef struct _zap_t zap_t;
publisher_t *publisher_new (const char *endpoint, int hwm, int hold_ms,
                            zloop_t *loop, zap_t *zap);

//  Drop held frames older than the hold time (call it periodically).
void publisher_expire (publisher_t *self);

//  Held frames dropped because their gateway never subscribed.
uint64_t publisher_expired (publisher_t *self);

//  Destroy the publisher and close its socket. NULL-safe; nulls *self_p.
void publisher_destroy (publisher_t **self_p);

//  Build a frame of `kind` (frame_kind_t) from these fields and publish it
//  to gateway gw ("*" = all). Strings are copied; payload may be NULL when
//  payload_len is 0. A frame that cannot be built is logged and dropped.
void publisher_emit (publisher_t *self, int kind, const char *gw,
                     const char *session, const char *peer, const char *match,
                     uint32_t flags, const char *type, const void *payload,
                     size_t payload_len);

//  The same, with the frame's time set to time_ms (0 = now): a relayed
//  signal, chat or typing frame keeps the time of the frame it relays, so
//  that the receiving gateway can measure the relay's latency.
void publisher_emit_at (publisher_t *self, int kind, const char *gw,
                        const char *session, const char *peer,
                        const char *match, uint32_t flags, const char *type,
                        const void *payload, size_t payload_len,
                        uint64_t time_ms);

//  Publish ERROR to session on gw: type = code (one of docs/protocol.md's
//  error codes), payload = a short human-readable message.
void publisher_error (publisher_t *self, const char *gw, const char *session,
                      const char *code);

//  Copy every frame sent from now on to tap (borrowed: it must outlive
//  the publisher or be unset with NULL first). See tap.h.
typedef struct _tap_t tap_t;
void publisher_set_tap (publisher_t *self, tap_t *tap);

//  How many frames the socket refused so far.
uint64_t publisher_drops (publisher_t *self);

//  Frame kinds counted by publisher_frames_out: 1 .. PUBLISHER_KINDS - 1.
#define PUBLISHER_KINDS 32

//  Frames of `kind` (frame_kind_t) published so far (sent, or held for a
//  gateway not yet subscribed).
uint64_t publisher_frames_out (publisher_t *self, int kind);

//  Matches announced so far (MATCHED frames with the initiator flag).
uint64_t publisher_matches (publisher_t *self);

#endif
