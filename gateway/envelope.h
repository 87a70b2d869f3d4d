//  envelope - the browser's JSON messages: {"event": NAME, "data": {...}}.
//
//  envelope_parse validates one client text message (with cJSON) and pulls
//  out the fields megle needs. A signal's payload is never re-serialized:
//  its exact bytes are located in the original text, so partners receive
//  it byte-for-byte. The envelope_* builders write the server's events.
//  docs/protocol.md is the contract; its error codes are the ENVELOPE_E_*
//  strings returned here.

#ifndef MEGLE_ENVELOPE_H
#define MEGLE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENVELOPE_ID_MAX   64
#define ENVELOPE_TYPE_MAX 16

typedef enum {
    ENVELOPE_FIND_MATCH = 1,
    ENVELOPE_SIGNAL = 2,
    ENVELOPE_LEAVE = 3,
} envelope_event_t;

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
} envelope_t;

//  Parse one client message of len bytes (need not be NUL-terminated).
//  Returns 0 and fills *out, or -1 and sets *code_p to a stable error code
//  ("bad_json", "bad_envelope", "unknown_event", "bad_field") and writes a
//  human-readable reason into msg. Never trusts the input: any bytes are
//  safe to pass. A target_id longer than ENVELOPE_ID_MAX is "bad_field".
int envelope_parse (const char *text, size_t len, envelope_t *out,
                    const char **code_p, char *msg, size_t msg_size);

//  Builders. Each returns a new buffer of `pre` spare bytes followed by the
//  JSON text (so that libwebsockets' LWS_PRE headroom is free), sets *len_p
//  to the length of the JSON text alone, and returns NULL if out of memory.
//  The caller owns the buffer (free()). Strings are escaped as JSON.
uint8_t *envelope_welcome (size_t pre, const char *id, size_t *len_p);
uint8_t *envelope_waiting (size_t pre, size_t *len_p);
uint8_t *envelope_match_found (size_t pre, const char *partner_id,
                               bool initiator, const char *match_id,
                               size_t *len_p);
//  payload is raw JSON text, copied as-is.
uint8_t *envelope_signal (size_t pre, const char *sender_id, const char *type,
                          const uint8_t *payload, size_t payload_len,
                          size_t *len_p);
uint8_t *envelope_partner_left (size_t pre, const char *from, size_t *len_p);
uint8_t *envelope_error (size_t pre, const char *code, const char *message,
                         size_t *len_p);

#endif
