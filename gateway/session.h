//  session - one browser connection to this gateway.
//
//  A session knows its id, what the gateway has heard about it from the
//  matcher (state, current partner and match), the message being
//  reassembled from WebSocket fragments, and the messages waiting to be
//  written to the browser. It holds no libwebsockets state besides an
//  opaque connection handle, so it can be tested without a network: ws.c
//  does the lws calls. Memory is taken lazily: the reassembly buffer only
//  while a fragmented message is in flight, queue nodes only while
//  messages wait, so an idle session is one small struct.

#ifndef MEGLE_SESSION_H
#define MEGLE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "id.h"

//  Outbound queue bounds: past either, the browser is too slow (or gone)
//  and the connection is closed rather than buffering without end.
#define SESSION_QUEUE_MAX_MESSAGES 1024
#define SESSION_QUEUE_MAX_BYTES    (4u * 1024 * 1024)

typedef enum {
    SESSION_IDLE = 0,
    SESSION_WAITING = 1,
    SESSION_MATCHED = 2,
} session_state_t;

typedef enum {
    SESSION_RX_PARTIAL = 0,   //  fragment kept; the message is not whole
    SESSION_RX_COMPLETE = 1,  //  a whole message is in *msg_p, *len_p
    SESSION_RX_TOO_LARGE = 2, //  the message exceeds max: refuse it (once)
    SESSION_RX_DROPPED = 3,   //  part of a refused message: ignore
} session_rx_t;

typedef struct _session_t session_t;

//  Create a session with a new random id for the connection handle conn
//  (not owned; may be NULL in tests). Returns NULL if out of memory or the
//  CSPRNG failed.
session_t *session_new (void *conn);

//  The same in memory the caller provides: mem is session_sizeof ()
//  bytes, aligned for a pointer or a uint64_t, and stays the caller's
//  (ws.c embeds the session in the per-connection data lws allocates,
//  saving an allocation per connection). Returns the session (== mem), or
//  NULL if the CSPRNG failed. Release it with session_destroy, which then
//  frees what the session holds but not mem.
size_t session_sizeof (void);
session_t *session_init (void *mem, void *conn);

//  Destroy the session, its reassembly buffer and queued messages (and
//  free the session itself if session_new made it). NULL-safe; nulls
//  *self_p.
void session_destroy (session_t **self_p);

//  The session id: ID_STRLEN lower-case hex digits, valid while the
//  session lives.
const char *session_id (session_t *self);

//  The connection handle given to session_new.
void *session_conn (session_t *self);

session_state_t session_state (session_t *self);
void session_set_state (session_t *self, session_state_t state);

//  Current partner and match ids, "" when none; valid until the next
//  session_set_partner or session_clear_partner (kept in a buffer that
//  exists only while matched).
const char *session_partner (session_t *self);
const char *session_match (session_t *self);

//  Record a match (state MATCHED). Strings longer than ID_GATEWAY_MAX are
//  refused, and so is the match if out of memory: returns -1 and changes
//  nothing.
int session_set_partner (session_t *self, const char *partner,
                         const char *match);

//  Forget partner and match (state IDLE).
void session_clear_partner (session_t *self);

//  When the pending find_match was received (monotonic us; 0 = none), for
//  the time-to-match histogram. The gateway sets it and clears it.
uint64_t session_find_start (session_t *self);
void session_set_find_start (session_t *self, uint64_t us);

//  The salted hash of the client's IP address that the session's OPEN
//  carried ("" until set; longer values are cut to ID_STRLEN), kept so
//  that the gateway can announce the session again (FRAME_RESET).
const char *session_ip_hash (session_t *self);
void session_set_ip_hash (session_t *self, const char *hash);

//  The matcher this session's frames are pinned to (an index into the
//  gateway's matcher list, -1 = not pinned yet): bus_send_session reads
//  and updates it. Valid while the session lives.
int *session_pin (session_t *self);

//  Feed one piece of a WebSocket text message: data/len is the piece,
//  final says whether it ends the message, remaining is how many more
//  bytes the current frame announces (0 if unknown), max the largest
//  message accepted. On SESSION_RX_COMPLETE, *msg_p/*len_p is the whole
//  message (pointing into data when it came in one piece, or into the
//  session's buffer), valid until session_rx_done or the next call.
//  A message growing past max gives SESSION_RX_TOO_LARGE once and
//  SESSION_RX_DROPPED for its remaining pieces; the session stays usable.
session_rx_t session_rx (session_t *self, const void *data, size_t len,
                         bool final, size_t remaining, size_t max,
                         const char **msg_p, size_t *len_p);

//  Release the reassembly buffer after a SESSION_RX_COMPLETE message.
void session_rx_done (session_t *self);

//  Skip one piece of a message the gateway refuses whole (a binary
//  message). Returns true for the first piece of such a message (so the
//  caller answers once), false for the following ones.
bool session_rx_skip (session_t *self, bool final);

//  Queue a message for the browser. *buf_p is a malloc'd buffer of pre
//  spare bytes followed by len bytes of text. Takes ownership: *buf_p is
//  NULL after, whatever the result. Returns 0, or -1 if the queue would
//  pass its bounds (or is already overflowed): the message is dropped and
//  session_overflowed becomes true; the caller should close the
//  connection.
int session_push (session_t *self, uint8_t **buf_p, size_t pre, size_t len);

//  The oldest queued message (its text, with the pre spare bytes in front
//  of it still writable) and its length, or NULL if the queue is empty.
uint8_t *session_peek (session_t *self, size_t *len_p);

//  Drop the oldest queued message. No-op if the queue is empty.
void session_pop (session_t *self);

//  Queued messages and their total text bytes.
size_t session_queued (session_t *self);
size_t session_queued_bytes (session_t *self);

//  True once a push was refused: the connection must be closed.
bool session_overflowed (session_t *self);

#endif
