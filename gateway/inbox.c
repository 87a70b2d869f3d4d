//  inbox - a client's messages: parsed and checked by the envelope, then
//  refused with an error event or turned into a bus frame for the matcher.
//  The gateway stamps what the client cannot be trusted to say: its own
//  id, the session id, and the match the session is in (signal, chat and
//  typing), which the matcher checks against Redis.

#include <assert.h>
#include <string.h>

#include "envelope.h"
#include "gateway.h"

void
gateway_session_message (gateway_t *self, session_t *session, const char *text,
                         size_t len)
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
        return;
    }
    frame_t *frame = NULL;
    int rc = 0;
    const char *match = session_match (session);
    switch (env.event) {
    case ENVELOPE_FIND_MATCH: {
        gateway_count_in (self, GATEWAY_IN_FIND_MATCH);
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
            return;
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
        return;
    }
    if (rc) {
        //  Only the payload can fail to fit (ids and types are bounded by
        //  the envelope): the message is larger than a frame can carry.
        frame_destroy (&frame);
        gateway_send_error (self, session, "too_large",
                            "the message is too large");
        return;
    }
    if (gateway_send (self, &frame))
        gateway_send_error (self, session, "unavailable",
                            "the matcher cannot be reached; try again");
}
