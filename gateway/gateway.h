//  gateway - one megle-gateway process: the lws context and its vhost, the
//  configuration, the roster of live sessions, the bus and the counters.
//
//  main builds one gateway_t and turns the loop; ws.c (WebSocket
//  callbacks), inbox.c (client messages), outbox.c (the matcher's frames,
//  server events), http.c (files, health, metrics) and bus.c reach it
//  through lws_context_user(). The functions below the line are for those
//  files.

#ifndef MEGLE_GATEWAY_H
#define MEGLE_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "bus.h"
#include "config.h"
#include "admission.h"
#include "frame.h"
#include "ratelimit.h"
#include "metrics.h"
#include "roster.h"
#include "session.h"

typedef struct _gateway_t gateway_t;

//  Build the gateway: connect the bus, listen on config->http, announce
//  the gateway (HELLO) and start the heartbeat. The config is copied.
//  Returns NULL on failure (reason logged).
gateway_t *gateway_new (const config_t *config);

//  Serve one turn of the event loop. Returns 0, or -1 if lws failed.
//  The gateway wakes at least every few hundred ms, so a caller looping
//  on a signal flag sees it promptly.
int gateway_service (gateway_t *self);

//  Start a graceful stop: /readyz fails and new WebSockets are refused
//  from now on; MEGLE_DRAIN_DELAY_MS later the matcher is told (BYE) so
//  partners hear at once, and the connections close with 1001 "going
//  away", spread over MEGLE_DRAIN_JITTER_MS. Keep calling gateway_service
//  until gateway_drained () or a deadline.
void gateway_drain (gateway_t *self);

//  True once every connection closed in drain phase 2.
bool gateway_drained (gateway_t *self);

//  True if this session's connection is due to close (drain phase 2).
bool gateway_session_closing (gateway_t *self, session_t *session);

//  True once gateway_drain was called.
bool gateway_draining (gateway_t *self);

//  Tell the matcher this gateway stops (BYE), close every connection and
//  free everything. NULL-safe; nulls *self_p.
void gateway_destroy (gateway_t **self_p);

// ---------------------------------------------------------------------
//  For ws.c, http.c and bus.c.

//  Client events counted in (messages_in_total{event}).
typedef enum {
    GATEWAY_IN_FIND_MATCH,
    GATEWAY_IN_SIGNAL,
    GATEWAY_IN_LEAVE,
    GATEWAY_IN_CHAT,
    GATEWAY_IN_TYPING,
    GATEWAY_IN_REPORT,
    GATEWAY_IN_INVALID, //  refused before it was an event
    GATEWAY_IN_COUNT
} gateway_in_t;

//  Server events counted out (messages_out_total{event}).
typedef enum {
    GATEWAY_OUT_WELCOME,
    GATEWAY_OUT_WAITING,
    GATEWAY_OUT_MATCH_FOUND,
    GATEWAY_OUT_SIGNAL,
    GATEWAY_OUT_PARTNER_LEFT,
    GATEWAY_OUT_ERROR,
    GATEWAY_OUT_CHAT,
    GATEWAY_OUT_TYPING,
    GATEWAY_OUT_ONLINE,
    GATEWAY_OUT_COUNT
} gateway_out_t;

//  The error codes of docs/protocol.md, in that order, plus "other" for a
//  code the matcher sent that this gateway does not know.
#define GATEWAY_ERROR_CODES 15

typedef struct {
    uint64_t in[GATEWAY_IN_COUNT];
    uint64_t out[GATEWAY_OUT_COUNT];
    uint64_t errors[GATEWAY_ERROR_CODES];
    uint64_t stale; //  bus frames for a match the session is no longer in
    //  abuse limits (ws.c, inbox.c)
    uint64_t limited;        //  client messages dropped over a rate limit
    uint64_t flood_closes;   //  connections closed 1008 for flooding
    uint64_t refused_origin; //  upgrades refused: Origin not allowed
    uint64_t refused_full;   //  upgrades refused: MEGLE_MAX_CONNS
    uint64_t refused_per_ip; //  upgrades refused: MEGLE_MAX_CONNS_PER_IP
    //  latencies (outbox.c), seconds
    metrics_hist_t time_to_match; //  find_match received -> match_found
    metrics_hist_t signal_relay;  //  sender gateway's SIGNAL -> DELIVER
} gateway_stats_t;

const char *gateway_in_name (gateway_in_t event);
const char *gateway_out_name (gateway_out_t event);
//  Name of error code index i (0 .. GATEWAY_ERROR_CODES - 1).
const char *gateway_error_name (int i);

//  The gateway of an lws context.
gateway_t *gateway_from_context (struct lws_context *context);

const config_t *gateway_config (gateway_t *self);
const gateway_stats_t *gateway_stats (gateway_t *self);
const bus_stats_t *gateway_bus_stats (gateway_t *self);
//  The bus to the matchers (borrowed), for http.c's per-matcher metrics.
bus_t *gateway_bus (gateway_t *self);
size_t gateway_connections (gateway_t *self);
//  The live sessions (borrowed).
roster_t *gateway_roster (gateway_t *self);

//  True if a matcher's PULSE was heard within matcher_timeout_ms and the
//  gateway is not draining.
bool gateway_ready (gateway_t *self);

//  True if any matcher's PULSE was heard within matcher_timeout_ms.
bool gateway_matcher_up (gateway_t *self);

//  A WebSocket was established: index its session, store it in *slot_p
//  (the lws per-session pointer), send welcome and OPEN with ip_hash (the
//  salted hash of the client's address, ID_STRLEN hex digits, or "").
//  The session is *slot_p if set (one session_init made in the caller's
//  memory), else a new one. Returns 0, or -1 to refuse the connection
//  (*slot_p is then NULL and the session destroyed).
int gateway_session_open (gateway_t *self, struct lws *wsi, session_t **slot_p,
                          const char *ip_hash);

//  The admission rules (Origin, client address, connection caps) and the
//  per-connection rate limits of this gateway's configuration.
admission_t *gateway_admission (gateway_t *self);
const ratelimit_config_t *gateway_limits (gateway_t *self);

//  Mutable counters, for ws.c and inbox.c.
gateway_stats_t *gateway_counters (gateway_t *self);

//  A WebSocket closed: CLOSE on the bus, forget and destroy the session.
//  NULL-safe on *slot_p; nulls it.
void gateway_session_close (gateway_t *self, session_t **slot_p);

//  A new frame from this gateway (and about session, if not NULL), or
//  NULL if out of memory. Caller owns it.
frame_t *gateway_frame (gateway_t *self, frame_kind_t kind, session_t *session);

//  Send a frame to the matcher. Takes ownership (*frame_p is NULL after);
//  *frame_p may be NULL (returns -1). Returns 0, or -1 if not sent.
int gateway_send (gateway_t *self, frame_t **frame_p);

//  Handle one whole client text message of the session (inbox.c), which
//  ratelimit_message already admitted; limits (may be NULL) is the
//  connection's, for the find_match rate. Returns 0, or -1 if the client
//  floods: close the connection with 1008.
int gateway_session_message (gateway_t *self, session_t *session,
                             ratelimit_t *limits, const char *text, size_t len);

//  A client message over a rate limit (verdict is not RATELIMIT_PASS): count
//  it, answer rate_limited with retry_after (RATELIMIT_REFUSE only). Returns
//  -1 for RATELIMIT_FLOOD (close the connection with 1008), else 0.
int gateway_session_limited (gateway_t *self, session_t *session,
                             ratelimit_verdict_t verdict,
                             uint32_t retry_after_ms);

//  Send a server event to the session (outbox.c): straight to the socket
//  if nothing waits before it, else queued for a writable callback. Takes
//  ownership of *buf_p (from an envelope_* builder with pre = LWS_PRE,
//  text of len bytes; NULL = out of memory). If the queue overflows, the
//  connection is closed. Returns 0 if sent or queued, else -1.
int gateway_deliver (gateway_t *self, session_t *session, uint8_t **buf_p,
                     size_t len, gateway_out_t event);

//  One frame from the matcher (the bus's callback, outbox.c): the client
//  event of the session it names, unless it belongs to a match the session
//  has left; RESET and PULSE go to gateway_reset and gateway_pulse. arg is
//  the gateway; the frame is left to the bus, which destroys it after.
void gateway_on_frame (void *arg, frame_t **frame_p);

//  A matcher's PULSE: it is alive, and total sessions are online over all
//  gateways (the count pushed to clients, online.h).
void gateway_pulse (gateway_t *self, uint32_t total);

//  The matcher's Redis lost its data (FRAME_RESET): end every session's
//  match or wait, telling its browser, and announce every session again
//  (OPEN). reset.c.
void gateway_reset (gateway_t *self);

//  Send an error event {code, message} to the session and count it.
void gateway_send_error (gateway_t *self, session_t *session, const char *code,
                         const char *message);

//  The same with data.retry_after = retry_after_ms (0 = none).
void gateway_send_error_retry (gateway_t *self, session_t *session,
                               const char *code, const char *message,
                               uint32_t retry_after_ms);

//  Count a refused client message (GATEWAY_IN_INVALID).
void gateway_count_in (gateway_t *self, gateway_in_t event);

//  The lws protocol callbacks (ws.c, http.c).
int ws_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                 void *in, size_t len);
int http_callback (struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len);

//  Per-connection data sizes of the protocols above.
size_t http_session_size (void);
size_t ws_session_size (void);

#endif
