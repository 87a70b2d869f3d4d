//  inbox - a client's messages: parsed and checked by the envelope, then
//  refused with an error event or turned into a bus frame for the matcher.
//  The gateway stamps what the client cannot be trusted to say: its own
//  id, the session id, and the match the session is in (signal, chat and
//  typing), which the matcher checks against Redis.
//
//  Rate limits: ws.c admits each whole message (ratelimit_message) before it
//  is parsed, so a flood costs no JSON parsing; find_match has a bucket of
//  its own, checked here once the event is known.

#include <assert.h>
#include <string.h>

#include "clock.h"
#include "envelope.h"
#include "gateway.h"
#include "log.h"

int
gateway_session_limited (gateway_t *self, session_t *session,
                         ratelimit_verdict_t verdict, uint32_t retry_after_ms)
{
    assert (self);
    assert (session);
    gateway_stats_t *stats = gateway_counters (self);
    stats->limited++;
    if (verdict == RATELIMIT_FLOOD) {
        stats->flood_closes++;
        log_warn ("session %s: flooding far past the rate limits; closing "
                  "(1008)",
                  session_id (session));
        return -1;
    }
    if (verdict == RATELIMIT_REFUSE)
        gateway_send_error_retry (self, session, "rate_limited",
                                  "too many messages; slow down",
                                  retry_after_ms);
    return 0;
}

int
gateway_session_message (gateway_t *self, session_t *session,
                         ratelimit_t *limits, const char *text, size_t len)
{
    assert (self);
    assert (session);
    envelope_t env;
    const char *code = "internal";
    char why[160] = "";
    if (envelope_parse (text, len, (size_t) gateway_config (self)->chat_max,
                        &env, &code, why, sizeof why)) {
        gateway_count_in (self, GATEWAY_IN_INVALID);
        gateway_send_error (self, session, code, why);
        return 0;
    }
    frame_t *frame = NULL;
    int rc = 0;
    const char *match = session_match (session);
    switch (env.event) {
    case ENVELOPE_FIND_MATCH: {
        gateway_count_in (self, GATEWAY_IN_FIND_MATCH);
        uint32_t retry = 0;
        ratelimit_verdict_t verdict =
            limits ? ratelimit_find (limits, clock_mono_ms (), &retry)
                   : RATELIMIT_PASS;
        if (verdict != RATELIMIT_PASS) {
            envelope_clear (&env);
            return gateway_session_limited (self, session, verdict, retry);
        }
        frame = gateway_frame (self, FRAME_FIND, session);
        if (!frame)
            break;
        char interests[ENVELOPE_INTERESTS_TEXT];
        size_t n = envelope_interests_join (&env, interests, sizeof interests);
        const char *mode = envelope_mode_name (env.mode);
        rc =
            frame_set_str (frame->type, sizeof frame->type, mode, strlen (mode))
            || frame_set_payload (frame, interests, n);
        frame->flags = env.tag_only ? FRAME_F_NO_WAIT : 0;
        break;
    }
    case ENVELOPE_SIGNAL:
        gateway_count_in (self, GATEWAY_IN_SIGNAL);
        frame = gateway_frame (self, FRAME_SIGNAL, session);
        if (!frame)
            break;
        rc = frame_set_str (frame->peer, sizeof frame->peer, env.target_id,
                            strlen (env.target_id))
             || frame_set_str (frame->match, sizeof frame->match, match,
                               strlen (match))
             || frame_set_str (frame->type, sizeof frame->type, env.type,
                               strlen (env.type))
             || frame_set_payload (frame, env.payload, env.payload_len);
        break;
    case ENVELOPE_LEAVE:
        gateway_count_in (self, GATEWAY_IN_LEAVE);
        frame = gateway_frame (self, FRAME_LEAVE, session);
        if (frame)
            rc = frame_set_str (frame->peer, sizeof frame->peer, env.target_id,
                                strlen (env.target_id));
        break;
    case ENVELOPE_REPORT:
        //  Against the current partner: the matcher finds who that is (and
        //  their address hash) from the match the gateway stamps here.
        gateway_count_in (self, GATEWAY_IN_REPORT);
        if (match[0] == '\0') {
            envelope_clear (&env);
            gateway_send_error (self, session, "not_matched",
                                "you have no partner to report");
            return 0;
        }
        frame = gateway_frame (self, FRAME_REPORT, session);
        if (!frame)
            break;
        rc = frame_set_str (frame->match, sizeof frame->match, match,
                            strlen (match))
             || frame_set_payload (frame, env.reason, env.reason_len);
        break;
    case ENVELOPE_CHAT:
    case ENVELOPE_TYPING: {
        bool chat = env.event == ENVELOPE_CHAT;
        gateway_count_in (self, chat ? GATEWAY_IN_CHAT : GATEWAY_IN_TYPING);
        if (match[0] == '\0') {
            //  No match here means none the matcher could route to either
            //  (match_found always reaches this gateway first).
            envelope_clear (&env);
            gateway_send_error (self, session, "not_matched",
                                "you have no partner");
            return 0;
        }
        frame = gateway_frame (self, chat ? FRAME_CHAT : FRAME_TYPING, session);
        if (!frame)
            break;
        rc = frame_set_str (frame->match, sizeof frame->match, match,
                            strlen (match));
        if (chat)
            rc = rc || frame_set_payload (frame, env.text, env.text_len);
        else
            frame->flags = env.typing ? FRAME_F_TYPING : 0;
        break;
    }
    }
    envelope_clear (&env);
    if (!frame) {
        gateway_send_error (self, session, "internal", "out of memory");
        return 0;
    }
    if (rc) {
        //  Only the payload can fail to fit (ids and types are bounded by
        //  the envelope): the message is larger than a frame can carry.
        frame_destroy (&frame);
        gateway_send_error (self, session, "too_large",
                            "the message is too large");
        return 0;
    }
    //  Time to match runs from here (kept if already waiting). Set before
    //  the send: the send may read the bus, and so the answer.
    bool finding = frame->kind == FRAME_FIND && match[0] == '\0'
                   && session_find_start (session) == 0;
    if (finding)
        session_set_find_start (session, clock_mono_us ());
    //  Straight to the session's matcher: gateway_send would look the
    //  session up again by the id it stamped in the frame.
    if (bus_send_session (gateway_bus (self), session_pin (session),
                          session_id (session), &frame)) {
        if (finding)
            session_set_find_start (session, 0);
        gateway_send_error (self, session, "unavailable",
                            "the matcher cannot be reached; try again");
    }
    return 0;
}
