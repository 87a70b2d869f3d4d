//  outbox - the matcher's frames for this gateway's sessions, turned into
//  client events, and the way every server event takes to the browser.
//
//  What the gateway keeps of a session's partner and match only filters
//  late frames here: a signal, chat, typing flag or partner_left that
//  belongs to a match the session has already left is dropped (counted as
//  stale), never shown to the browser. A message goes straight to the
//  socket when nothing waits before it (ws_send), else into the session's
//  queue for the next writable callback; a queue that overflows closes the
//  connection. inbox.c is the other direction.

#include <assert.h>
#include <string.h>

#include "clock.h"
#include "envelope.h"
#include "gateway.h"
#include "log.h"
#include "ws.h"

//  The index of an error code in the counters ("other" if unknown).
static int
s_error_index (const char *code)
{
    for (int i = 0; i < GATEWAY_ERROR_CODES - 1; i++)
        if (strcmp (code, gateway_error_name (i)) == 0)
            return i;
    return GATEWAY_ERROR_CODES - 1;
}

// ---------------------------------------------------------------------
//  Frames from the matcher

//  match_found for the session: time since its find_match, if pending.
static void
s_observe_match (gateway_t *self, session_t *session)
{
    uint64_t start = session_find_start (session);
    if (start == 0)
        return;
    session_set_find_start (session, 0);
    metrics_hist_observe (&gateway_counters (self)->time_to_match,
                          (double) (clock_mono_us () - start) / 1e6);
}

//  A relayed signal reached the browser's queue: the matcher copies the
//  sender gateway's SIGNAL time into DELIVER (wall clocks, same host or
//  NTP-synchronised hosts; a clock behind counts as 0).
static void
s_observe_relay (gateway_t *self, const frame_t *frame)
{
    uint64_t now = clock_wall_ms ();
    if (frame->time_ms == 0)
        return;
    double seconds =
        now > frame->time_ms ? (double) (now - frame->time_ms) / 1e3 : 0;
    metrics_hist_observe (&gateway_counters (self)->signal_relay, seconds);
}

void
gateway_on_frame (void *arg, frame_t **frame_p)
{
    gateway_t *self = arg;
    frame_t *frame = *frame_p;
    if (frame->kind == FRAME_RESET) {
        gateway_reset (self); //  reset.c
        return;
    }
    if (frame->kind == FRAME_PULSE) {
        gateway_pulse (self, frame->flags);
        return;
    }
    session_t *session = roster_find (gateway_roster (self), frame->session);
    if (!session) {
        log_debug ("gateway: %s frame for unknown session '%s' ignored",
                   frame_kind_name (frame->kind), frame->session);
        return;
    }
    const char *current = session_match (session);
    uint8_t *buf = NULL;
    size_t len = 0;
    switch (frame->kind) {
    case FRAME_WAITING:
        session_set_state (session, SESSION_WAITING);
        buf = envelope_waiting (LWS_PRE, &len);
        gateway_deliver (self, session, &buf, len, GATEWAY_OUT_WAITING);
        break;
    case FRAME_MATCHED:
        if (session_set_partner (session, frame->peer, frame->match)) {
            log_warn ("session %s: matched frame with overlong ids dropped",
                      session_id (session));
            break;
        }
        s_observe_match (self, session);
        buf = envelope_match_found (LWS_PRE, frame->peer,
                                    (frame->flags & FRAME_F_INITIATOR) != 0,
                                    frame->match, frame->type, frame->payload,
                                    frame->payload_len, &len);
        gateway_deliver (self, session, &buf, len, GATEWAY_OUT_MATCH_FOUND);
        break;
    case FRAME_DELIVER:
        if (current[0] == '\0' || strcmp (frame->match, current) != 0) {
            gateway_counters (self)->stale++;
            break;
        }
        if (frame->payload_len)
            buf = envelope_signal (LWS_PRE, frame->peer, frame->type,
                                   frame->payload, frame->payload_len, &len);
        else //  never emit invalid JSON, whatever came in
            buf = envelope_signal (LWS_PRE, frame->peer, frame->type,
                                   (const uint8_t *) "null", 4, &len);
        if (gateway_deliver (self, session, &buf, len, GATEWAY_OUT_SIGNAL) == 0)
            s_observe_relay (self, frame);
        break;
    case FRAME_CHAT_OUT:
    case FRAME_TYPING_OUT:
        //  Like a signal: only inside the match it was sent in.
        if (current[0] == '\0' || strcmp (frame->match, current) != 0) {
            gateway_counters (self)->stale++;
            break;
        }
        if (frame->kind == FRAME_CHAT_OUT) {
            buf = envelope_chat (LWS_PRE, frame->peer, frame->payload,
                                 frame->payload_len, &len);
            gateway_deliver (self, session, &buf, len, GATEWAY_OUT_CHAT);
        } else {
            buf = envelope_typing (LWS_PRE, frame->peer,
                                   (frame->flags & FRAME_F_TYPING) != 0, &len);
            gateway_deliver (self, session, &buf, len, GATEWAY_OUT_TYPING);
        }
        break;
    case FRAME_PARTNER_LEFT:
        if (frame->match[0] && strcmp (frame->match, current) != 0) {
            gateway_counters (self)->stale++;
            break;
        }
        session_clear_partner (session);
        buf = envelope_partner_left (LWS_PRE, frame->peer, &len);
        gateway_deliver (self, session, &buf, len, GATEWAY_OUT_PARTNER_LEFT);
        break;
    case FRAME_ENDED:
        session_set_find_start (session, 0); //  a leave while waiting
        if (frame->match[0] == '\0' || strcmp (frame->match, current) == 0)
            session_clear_partner (session);
        break;
    case FRAME_ERROR: {
        //  Not waiting: the error may answer the find (no time to match).
        if (session_state (session) != SESSION_WAITING)
            session_set_find_start (session, 0);
        char message[256];
        size_t n = frame->payload_len < sizeof message - 1 ? frame->payload_len
                                                           : sizeof message - 1;
        if (n)
            memcpy (message, frame->payload, n);
        message[n] = '\0';
        gateway_send_error_retry (self, session, frame->type, message,
                                  frame->flags);
        break;
    }
    default:
        log_debug ("gateway: unexpected %s frame ignored",
                   frame_kind_name (frame->kind));
        break;
    }
}

// ---------------------------------------------------------------------
//  Server events to the browser

int
gateway_deliver (gateway_t *self, session_t *session, uint8_t **buf_p,
                 size_t len, gateway_out_t event)
{
    assert (self);
    assert (session);
    struct lws *wsi = session_conn (session);
    if (!*buf_p) {
        log_error ("session %s: out of memory building %s",
                   session_id (session), gateway_out_name (event));
        return -1;
    }
    //  Straight to the socket when nothing waits before it (ws.h).
    int sent = ws_send (self, session, buf_p, len);
    if (sent != 0) {
        if (sent > 0 && event < GATEWAY_OUT_COUNT)
            gateway_counters (self)->out[event]++;
        return sent > 0 ? 0 : -1;
    }
    bool was_overflowed = session_overflowed (session);
    if (session_push (session, buf_p, LWS_PRE, len)) {
        if (!was_overflowed) {
            log_warn ("session %s: %zu messages (%zu bytes) unsent, closing",
                      session_id (session), session_queued (session),
                      session_queued_bytes (session));
            lws_set_timeout (wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
        return -1;
    }
    if (event < GATEWAY_OUT_COUNT)
        gateway_counters (self)->out[event]++;
    lws_callback_on_writable (wsi);
    return 0;
}

void
gateway_send_error (gateway_t *self, session_t *session, const char *code,
                    const char *message)
{
    gateway_send_error_retry (self, session, code, message, 0);
}

void
gateway_send_error_retry (gateway_t *self, session_t *session, const char *code,
                          const char *message, uint32_t retry_after_ms)
{
    assert (self);
    size_t len = 0;
    uint8_t *buf =
        envelope_error_retry (LWS_PRE, code, message, retry_after_ms, &len);
    if (gateway_deliver (self, session, &buf, len, GATEWAY_OUT_ERROR) == 0)
        gateway_counters (self)->errors[s_error_index (code)]++;
}
