//  reset - the gateway's answer to FRAME_RESET: the matcher found Redis
//  empty (restarted without persistence), so every match, queue place and
//  session this gateway holds is unknown there. Each browser hears what it
//  lost (partner_left for a match, error unavailable for a wait) and each
//  session is announced again with OPEN, so that it can find_match at once.
//  proto/README.md documents the frame.

#include <stdio.h>
#include <string.h>

#include "envelope.h"
#include "gateway.h"
#include "log.h"

typedef struct {
    gateway_t *gateway;
    size_t ended;    //  matches ended
    size_t unqueued; //  waits ended
    size_t opened;   //  OPEN frames sent
} s_reset_t;

static void
s_reset_one (session_t *session, void *arg)
{
    s_reset_t *reset = (s_reset_t *) arg;
    gateway_t *self = reset->gateway;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (session_state (session) == SESSION_MATCHED) {
        char partner[ID_GATEWAY_MAX + 1];
        snprintf (partner, sizeof partner, "%s", session_partner (session));
        session_clear_partner (session);
        buf = envelope_partner_left (LWS_PRE, partner, &len);
        gateway_deliver (self, session, &buf, len, GATEWAY_OUT_PARTNER_LEFT);
        reset->ended++;
    } else if (session_state (session) == SESSION_WAITING) {
        session_set_state (session, SESSION_IDLE);
        gateway_send_error (self, session, "unavailable",
                            "the matcher lost its queue; find_match again");
        reset->unqueued++;
    }
    frame_t *frame = gateway_frame (self, FRAME_OPEN, session);
    const char *hash = session_ip_hash (session);
    if (frame && *hash)
        frame_set_payload (frame, hash, strlen (hash));
    if (gateway_send (self, &frame) == 0)
        reset->opened++;
}

void
gateway_reset (gateway_t *self)
{
    s_reset_t reset = {self, 0, 0, 0};
    roster_foreach (gateway_roster (self), s_reset_one, &reset);
    log_at (reset.ended || reset.unqueued ? MEGLE_LOG_WARN : MEGLE_LOG_INFO,
            "gateway: the matcher's storage was reset: %zu matches and %zu "
            "waits ended, %zu sessions announced again",
            reset.ended, reset.unqueued, reset.opened);
}
