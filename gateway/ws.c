//  ws - the lws callback of the "megle" WebSocket protocol: a switch that
//  dispatches to the gateway and the session.
//
//  The per-connection data lws allocates is one pointer, to our session.
//  lws binds every WebSocket upgrade without a Sec-WebSocket-Protocol
//  header to this protocol (the vhost's default), whatever the path; the
//  filter below keeps WebSockets to /ws. Writes happen only here, in
//  SERVER_WRITEABLE, one lws_write per callback.

#include <string.h>

#include "gateway.h"
#include "log.h"

#define WS_PATH "/ws"

//  Allow the upgrade only on /ws (a query string is ignored).
static int
s_filter (struct lws *wsi)
{
    char uri[16];
    int n = lws_hdr_copy (wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (n != (int) strlen (WS_PATH) || strcmp (uri, WS_PATH) != 0) {
        log_debug ("ws: upgrade refused on a path other than " WS_PATH);
        return -1;
    }
    return 0;
}

static int
s_receive (gateway_t *gw, session_t *session, struct lws *wsi, const void *in,
           size_t len)
{
    bool final = lws_is_final_fragment (wsi) != 0;
    if (lws_frame_is_binary (wsi)) {
        if (session_rx_skip (session, final)) {
            gateway_count_in (gw, GATEWAY_IN_INVALID);
            gateway_send_error (gw, session, "binary_unsupported",
                                "megle speaks text frames only");
        }
        return 0;
    }
    const char *msg = NULL;
    size_t msg_len = 0;
    size_t max = (size_t) gateway_config (gw)->max_message;
    switch (session_rx (session, in, len, final,
                        lws_remaining_packet_payload (wsi), max, &msg,
                        &msg_len)) {
    case SESSION_RX_PARTIAL:
    case SESSION_RX_DROPPED:
        break;
    case SESSION_RX_TOO_LARGE:
        gateway_count_in (gw, GATEWAY_IN_INVALID);
        gateway_send_error (gw, session, "too_large",
                            "the message is larger than the limit");
        break;
    case SESSION_RX_COMPLETE:
        gateway_session_message (gw, session, msg, msg_len);
        session_rx_done (session);
        break;
    }
    return 0;
}

static int
s_flush (gateway_t *gw, session_t *session, struct lws *wsi)
{
    if (session_overflowed (session))
        return -1;
    size_t len = 0;
    uint8_t *text = session_peek (session, &len);
    if (!text) {
        if (!gateway_draining (gw))
            return 0;
        static const char reason[] = "server going away";
        lws_close_reason (wsi, LWS_CLOSE_STATUS_GOINGAWAY,
                          (unsigned char *) reason, sizeof reason - 1);
        return -1;
    }
    //  text has LWS_PRE writable bytes in front of it (session_push).
    if (lws_write (wsi, text, len, LWS_WRITE_TEXT) < (int) len) {
        log_debug ("session %s: write failed", session_id (session));
        return -1;
    }
    session_pop (session);
    if (session_queued (session))
        lws_callback_on_writable (wsi);
    return 0;
}

int
ws_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
             void *in, size_t len)
{
    gateway_t *gw = gateway_from_context (lws_get_context (wsi));
    session_t **slot = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return s_filter (wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return slot ? gateway_session_open (gw, wsi, slot) : -1;
    case LWS_CALLBACK_RECEIVE:
        return slot && *slot ? s_receive (gw, *slot, wsi, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return slot && *slot ? s_flush (gw, *slot, wsi) : -1;
    case LWS_CALLBACK_CLOSED:
        if (slot)
            gateway_session_close (gw, slot);
        return 0;
    default:
        //  HTTP connections start on this protocol (it is the default):
        //  let lws' stock handler do what they need.
        return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}
