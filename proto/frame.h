//  frame - the one codec for megle's bus frames (gateway <-> matcher).
//
//  Every frame is a msgpack array whose first ten elements are, in order:
//
//    0 version  uint     FRAME_VERSION (1); other versions are refused
//    1 kind     uint     frame_kind_t
//    2 gateway  str      gateway id (source of inbound, destination of
//                        outbound frames; "*" = every gateway)
//    3 session  str      session id the frame is about ("" if none)
//    4 peer     str      the other session: target_id, partner, sender, from
//    5 match    str      match id ("" if none)
//    6 flags    uint     kind-specific bits (FRAME_F_*)
//    7 type     str      signal type, error code, ... (kind-specific)
//    8 payload  bin      kind-specific bytes (raw JSON for signals)
//    9 time     uint     sender's wall clock, ms since the Unix epoch
//
//  Elements past the tenth are ignored (a newer minor revision may append
//  fields). Strings are at most FRAME_ID_MAX bytes (type: FRAME_TYPE_MAX),
//  the payload at most FRAME_PAYLOAD_MAX. proto/README.md documents each kind
//  field by field. This module is the only code in megle that touches
//  msgpack; its decoder is a bounds-checked cursor (never msgpack_unpack),
//  and it is fuzzed (tests/fuzz_frame.c).

#ifndef MEGLE_FRAME_H
#define MEGLE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_VERSION     1
#define FRAME_FIELDS      10
#define FRAME_ID_MAX      64
#define FRAME_TYPE_MAX    32
#define FRAME_PAYLOAD_MAX (1024 * 1024)

typedef enum {
    //  gateway -> matcher (PUSH)
    FRAME_HELLO = 1,     //  gateway started
    FRAME_HEARTBEAT = 2, //  gateway alive; flags = live sessions
    FRAME_OPEN = 3,      //  session connected; payload = salted IP hash
    FRAME_FIND = 4,      //  find_match; type = mode, payload = interests
    FRAME_SIGNAL = 5,    //  signal: peer = target_id, type, payload
    FRAME_LEAVE = 6,     //  leave: peer = target_id ("" = current)
    FRAME_CLOSE = 7,     //  session's socket closed
    FRAME_BYE = 8,       //  gateway stopping: all its sessions leave
    FRAME_CHAT = 9,      //  chat: match, payload = UTF-8 text
    FRAME_TYPING = 10,   //  typing: match, flags & FRAME_F_TYPING
    FRAME_REPORT = 11,   //  report: match, peer = partner, payload = reason
    //  matcher -> gateway (PUB, topic = gateway)
    FRAME_WAITING = 20,      //  session is queued
    FRAME_MATCHED = 21,      //  peer = partner, match, flags & INITIATOR,
                             //  type = mode, payload = shared interests
    FRAME_DELIVER = 22,      //  relayed signal: peer = sender, type, payload
    FRAME_PARTNER_LEFT = 23, //  peer = the partner who left, match
    FRAME_ERROR = 24,        //  type = error code, payload = message,
                             //  flags = retry_after in ms (0 = none)
    FRAME_PULSE = 25,        //  matcher alive (gateway "*"), peer = matcher,
                             //  flags = users online on all gateways
    FRAME_ENDED = 26,        //  the session's own leave ended match
    FRAME_CHAT_OUT = 27,     //  relayed chat: peer = sender, match, payload
    FRAME_TYPING_OUT = 28,   //  relayed typing: peer = sender, match, flags
    FRAME_RESET = 29,        //  Redis lost its data (gateway "*"), peer =
                             //  matcher: end every match, re-OPEN sessions
} frame_kind_t;

#define FRAME_F_INITIATOR 1u //  MATCHED: this side sends the offer
#define FRAME_F_TYPING    1u //  TYPING, TYPING_OUT: the sender is typing
#define FRAME_F_NO_WAIT   1u //  FIND: no interest wait (Go-megle's tag)

//  FIND and MATCHED: the mode is the type field, the interests are the
//  payload, joined by FRAME_INTEREST_SEP (no interest contains it).
#define FRAME_MODE_VIDEO   "video"
#define FRAME_MODE_TEXT    "text"
#define FRAME_INTEREST_SEP '\n'

typedef struct {
    uint8_t version;
    uint8_t kind;                   //  frame_kind_t
    char gateway[FRAME_ID_MAX + 1]; //  NUL-terminated
    char session[FRAME_ID_MAX + 1]; //  NUL-terminated
    char peer[FRAME_ID_MAX + 1];    //  NUL-terminated
    char match[FRAME_ID_MAX + 1];   //  NUL-terminated
    uint32_t flags;
    char type[FRAME_TYPE_MAX + 1]; //  NUL-terminated
    uint8_t *payload;              //  owned by the frame; may be NULL
    size_t payload_len;
    uint64_t time_ms;
} frame_t;

//  Create an empty frame of the given kind, version FRAME_VERSION, all
//  strings empty, time_ms = now. Caller owns the frame and must destroy it.
//  Returns NULL only if out of memory.
frame_t *frame_new (frame_kind_t kind);

//  Destroy a frame and its payload. NULL-safe; nulls *self_p.
void frame_destroy (frame_t **self_p);

//  Copy a string field (one of the char arrays above) with truncation
//  checks: returns -1, leaving dst unchanged, if src (of length len) does
//  not fit in dst_size - 1 bytes.
int frame_set_str (char *dst, size_t dst_size, const char *src, size_t len);

//  Copy len bytes into the frame's payload (replacing any). Returns -1 if
//  len > FRAME_PAYLOAD_MAX or out of memory.
int frame_set_payload (frame_t *self, const void *data, size_t len);

//  Encode the frame into a new buffer. On success returns 0 and sets *data_p
//  (caller owns it, free() it) and *size_p. Returns -1 on failure.
int frame_encode (const frame_t *self, uint8_t **data_p, size_t *size_p);

//  The most bytes frame_encode_to can write for this frame (its payload
//  plus a fixed maximum for the other fields); 0 if self is NULL.
size_t frame_encode_bound (const frame_t *self);

//  Encode the frame into buf (cap bytes, caller-owned): no allocation.
//  Returns 0 and sets *size_p, or -1 if the frame is invalid or does not
//  fit (a cap of frame_encode_bound always fits).
int frame_encode_to (const frame_t *self, uint8_t *buf, size_t cap,
                     size_t *size_p);

//  Decode untrusted bytes. Returns a new frame (caller owns it) or NULL if
//  the bytes are not a valid frame of a known version and kind. If err is
//  not NULL, a short reason is written there on failure. Never reads past
//  data + size; never allocates more than the payload it actually holds.
frame_t *frame_decode (const uint8_t *data, size_t size, char *err,
                       size_t err_size);

//  The kind's name ("signal", "matched", ...) or NULL if unknown.
const char *frame_kind_name (int kind);

//  Write one JSON object describing the frame into buf (NUL-terminated,
//  never overflowing buf_size; truncated output still ends with "}").
//  payload_max limits how many payload bytes are shown (0 = none, SIZE_MAX
//  = all); payloads are shown as JSON strings. Used by logs and megle-tap.
//  Returns the length written (excluding NUL).
size_t frame_to_json (const frame_t *self, char *buf, size_t buf_size,
                      size_t payload_max);

#endif
