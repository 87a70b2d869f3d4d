//  envelope - the browser's JSON messages: {"event": NAME, "data": {...}}.
//
//  envelope_parse validates one client text message (with cJSON) and pulls
//  out the fields megle needs. A signal's payload is never re-serialized:
//  its exact bytes are located in the original text, so partners receive
//  it byte-for-byte. The envelope_* builders write the server's events.
//  docs/protocol.md is the contract; its error codes are the strings
//  returned here.

#ifndef MEGLE_ENVELOPE_H
#define MEGLE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENVELOPE_ID_MAX        64
#define ENVELOPE_TYPE_MAX      16
#define ENVELOPE_INTERESTS_MAX 10  //  interests per find_match
#define ENVELOPE_INTEREST_MAX  32  //  bytes per interest, normalised
#define ENVELOPE_REASON_MAX    200 //  bytes of a report's reason
//  Room for every interest joined by "\n", and the NUL.
#define ENVELOPE_INTERESTS_TEXT                                                \
    (ENVELOPE_INTERESTS_MAX * (ENVELOPE_INTEREST_MAX + 1))

typedef enum {
    ENVELOPE_FIND_MATCH = 1,
    ENVELOPE_SIGNAL = 2,
    ENVELOPE_LEAVE = 3,
    ENVELOPE_CHAT = 4,
    ENVELOPE_TYPING = 5,
    ENVELOPE_REPORT = 6,
} envelope_event_t;

typedef enum {
    ENVELOPE_MODE_VIDEO = 0, //  the default
    ENVELOPE_MODE_TEXT = 1,
} envelope_mode_t;

typedef struct {
    envelope_event_t event;
    //  signal, leave: data.target_id, decoded ("" when absent in leave)
    char target_id[ENVELOPE_ID_MAX + 1];
    //  signal: data.type, one of "offer", "answer", "candidate"
    char type[ENVELOPE_TYPE_MAX + 1];
    //  signal: the exact bytes of data.payload's JSON value, pointing into
    //  the text given to envelope_parse (valid while that text is)
    const char *payload;
    size_t payload_len;
    //  every event: the exact bytes of the data object, likewise
    const char *data;
    size_t data_len;
    //  find_match: data.mode (video when absent), and data.interests plus
    //  Go-megle's data.tag, normalised (lower case, trimmed, inner
    //  whitespace collapsed), without empty ones or repeats, in order
    envelope_mode_t mode;
    bool tag_only; //  the interests are Go-megle's tag alone
    size_t interest_count;
    char interests[ENVELOPE_INTERESTS_MAX][ENVELOPE_INTEREST_MAX + 1];
    //  chat: data.text decoded, NUL-terminated, text_len bytes of UTF-8
    //  (1..chat_max); owned by the envelope: envelope_clear frees it
    char *text;
    size_t text_len;
    //  typing: data.typing
    bool typing;
    //  report: data.reason decoded (UTF-8, 0..ENVELOPE_REASON_MAX bytes;
    //  "" when absent or null), NUL-terminated
    char reason[ENVELOPE_REASON_MAX + 1];
    size_t reason_len;
} envelope_t;

//  Parse one client message of len bytes (need not be NUL-terminated).
//  Returns 0 and fills *out, or -1 and sets *code_p to a stable error code
//  ("bad_json", "bad_envelope", "unknown_event", "bad_field", "too_long")
//  and writes a human-readable reason into msg. Never trusts the input:
//  any bytes are safe to pass. A target_id longer than ENVELOPE_ID_MAX,
//  a bad mode, a bad or 33-byte interest or an 11th one, an empty chat
//  text, a non-bool typing, a non-string report reason are "bad_field"; a
//  chat text longer than chat_max bytes or a reason longer than
//  ENVELOPE_REASON_MAX bytes is "too_long". After a 0, call envelope_clear
//  (*out).
int envelope_parse (const char *text, size_t len, size_t chat_max,
                    envelope_t *out, const char **code_p, char *msg,
                    size_t msg_size);

//  Free what a parse allocated (a chat text) and zero the envelope.
//  NULL-safe; safe on a zeroed or failed envelope.
void envelope_clear (envelope_t *self);

//  "video" or "text".
const char *envelope_mode_name (envelope_mode_t mode);

//  Write the interests joined by "\n" into buf (NUL-terminated; room for
//  ENVELOPE_INTERESTS_TEXT is always enough). Returns the length.
size_t envelope_interests_join (const envelope_t *self, char *buf, size_t size);

//  Builders. Each returns a new buffer of `pre` spare bytes followed by the
//  JSON text (so that libwebsockets' LWS_PRE headroom is free), sets *len_p
//  to the length of the JSON text alone, and returns NULL if out of memory.
//  The caller owns the buffer (free()). Strings are escaped as JSON.

//  online < 0: unknown, left out.
uint8_t *envelope_welcome (size_t pre, const char *id, int64_t online,
                           size_t *len_p);
//  The same with "ice_servers": the ice_len bytes of JSON at ice (an array
//  of RTCIceServer, from turn_ice_servers), passed as is; NULL = left out.
uint8_t *envelope_welcome_ice (size_t pre, const char *id, int64_t online,
                               const char *ice, size_t ice_len, size_t *len_p);
uint8_t *envelope_waiting (size_t pre, size_t *len_p);
//  mode: "video" or "text"; interests: the shared ones joined by "\n"
//  (interests_len bytes; empty = none, an empty array).
uint8_t *envelope_match_found (size_t pre, const char *partner_id,
                               bool initiator, const char *match_id,
                               const char *mode, const uint8_t *interests,
                               size_t interests_len, size_t *len_p);
//  payload is raw JSON text, copied as-is.
uint8_t *envelope_signal (size_t pre, const char *sender_id, const char *type,
                          const uint8_t *payload, size_t payload_len,
                          size_t *len_p);
uint8_t *envelope_partner_left (size_t pre, const char *from, size_t *len_p);
uint8_t *envelope_error (size_t pre, const char *code, const char *message,
                         size_t *len_p);
//  The same with "retry_after": retry_after_ms (milliseconds until the
//  refused request may succeed); 0 = left out.
uint8_t *envelope_error_retry (size_t pre, const char *code,
                               const char *message, uint32_t retry_after_ms,
                               size_t *len_p);
//  text: text_len bytes of UTF-8, escaped as a JSON string.
uint8_t *envelope_chat (size_t pre, const char *from, const uint8_t *text,
                        size_t text_len, size_t *len_p);
uint8_t *envelope_typing (size_t pre, const char *from, bool typing,
                          size_t *len_p);
uint8_t *envelope_online (size_t pre, uint64_t count, size_t *len_p);

#endif
