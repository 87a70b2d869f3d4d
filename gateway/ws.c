//  ws - the lws callback of the "megle" WebSocket protocol: a switch that
//  dispatches to the gateway and the session.
//
//  The per-connection data lws allocates is a ws_pss_t followed by our
//  session and its rate limits, embedded: one allocation per connection. lws
//  binds every WebSocket upgrade without a Sec-WebSocket-Protocol header to
//  this protocol (the vhost's default), whatever the path; the filter below
//  keeps WebSockets to /ws and applies the admission rules (Origin,
//  connection caps: admission.h). Writes happen only here: a message for
//  an idle socket at once (ws_send), else from the queue in
//  SERVER_WRITEABLE, as many as the socket takes (up to WS_FLUSH_MAX).
//
//  Abuse limits on this path: every accepted TCP connection has
//  handshake_timeout_ms to complete its request; every whole client
//  message passes the connection's token buckets before it is parsed
//  (ratelimit.h), and a flood closes the connection with 1008.
//
//  Keep-alive is ours, not lws' (keepalive.h says why): each connection
//  notes when it last received a message or a pong, and ws_sweep, run from
//  the gateway's tick, pings the quiet ones from SERVER_WRITEABLE and
//  drops the silent ones.

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#include "clock.h"
#include "id.h"
#include "keepalive.h"
#include "log.h"

#define WS_PATH       "/ws"
#define WS_HEADER_MAX 4096 //  lws' own header space is no larger
#define WS_FLOOD_TEXT "rate limits exceeded"
#define WS_QUIET_US   (100 * LWS_US_PER_MS) //  flood over: no input this long
#define WS_LINGER_MS  1000                  //  close by then regardless
#define WS_PING_DATA  "k" //  a pong with no payload never reaches us (lws)
#define WS_FLUSH_MAX  16  //  queued messages written per SERVER_WRITEABLE

//  One allocation per connection, made by lws: the ws_pss_t, then the
//  session's memory, then the rate limits' (session_init, ratelimit_init:
//  both opaque, sized at run time, each at an offset aligned to 8 bytes,
//  which is all they need). 24 + 128 + 96 = 248 bytes on LP64: glibc
//  makes that a 256-byte chunk.
typedef struct {
    session_t *session;        //  the embedded session once open, else NULL
    uint64_t flood_deadline;   //  monotonic ms: close by then
    uint32_t last_rx_ms;       //  monotonic ms (32 bits) of the last input
    unsigned counted : 1;      //  counted in the per-address table
    unsigned flooding : 1;     //  closing with 1008: ignore its input
    unsigned flood_close : 1;  //  ... now: send the close frame
    unsigned pinged : 1;       //  a ping went out since the last input
    unsigned ping_due : 1;     //  ... is to go out at the next WRITEABLE
    unsigned idle_close : 1;   //  closing: silent for the idle timeout
    unsigned open : 1;         //  ESTABLISHED is over: ws_send may write
    unsigned write_failed : 1; //  a ws_send failed: closing, send nothing
} ws_pss_t;
_Static_assert(sizeof (ws_pss_t) <= 2 * sizeof (void *) + 8,
               "ws_pss_t grew: the per-connection chunk would grow");

#define S_ALIGN(n) (((n) + 7) & ~(size_t) 7)

static size_t
s_session_offset (void)
{
    return S_ALIGN (sizeof (ws_pss_t));
}

static size_t
s_limits_offset (void)
{
    return s_session_offset () + S_ALIGN (session_sizeof ());
}

//  The embedded session's memory; from FILTER it holds an initialised
//  session (its id and the client's address hash) that pss->session
//  points at only once the WebSocket is open.
static session_t *
s_session_mem (ws_pss_t *pss)
{
    return (session_t *) ((char *) pss + s_session_offset ());
}

//  The embedded limits, once the WebSocket is open (else NULL).
static ratelimit_t *
s_limits (ws_pss_t *pss)
{
    return pss->session ? (ratelimit_t *) ((char *) pss + s_limits_offset ())
                        : NULL;
}

size_t
ws_session_size (void)
{
    return s_limits_offset () + ratelimit_sizeof ();
}

//  Copy header token into buf; NULL if absent, "" if too long for buf
//  (callers treat that as a refusal or as absent, as fits).
static const char *
s_header (struct lws *wsi, enum lws_token_indexes token, char *buf, size_t size)
{
    if (lws_hdr_total_length (wsi, token) <= 0)
        return NULL;
    if (lws_hdr_copy (wsi, buf, (int) size, token) < 0)
        buf[0] = '\0';
    return buf;
}

//  Refuse an upgrade with an HTTP status (the client sees it as the
//  answer to its upgrade request), then close.
static int
s_refuse (struct lws *wsi, unsigned int status, uint64_t *counter,
          const char *why)
{
    if (counter)
        (*counter)++;
    log_debug ("ws: upgrade refused (%u): %s", status, why);
    lws_return_http_status (wsi, status, NULL);
    return -1;
}

//  Allow the upgrade only on /ws (a query string is ignored), while not
//  draining, from an allowed Origin, within the connection caps; find the
//  client's address and keep its salted hash for OPEN and the per-address
//  count.
static int
s_filter (gateway_t *gw, struct lws *wsi, ws_pss_t *pss)
{
    char uri[16];
    int n = lws_hdr_copy (wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (n != (int) strlen (WS_PATH) || strcmp (uri, WS_PATH) != 0) {
        log_debug ("ws: upgrade refused on a path other than " WS_PATH);
        return -1;
    }
    admission_t *admission = gateway_admission (gw);
    gateway_stats_t *stats = gateway_counters (gw);
    if (gateway_draining (gw))
        //  Stopping: the balancer is to send this client elsewhere.
        return s_refuse (wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, NULL,
                         "draining");
    //  On the stack: a heap buffer freed after each handshake leaves holes
    //  between the connections' long-lived allocations.
    char buf[3 * WS_HEADER_MAX];
    const char *origin = s_header (wsi, WSI_TOKEN_ORIGIN, buf, WS_HEADER_MAX);
    const char *host =
        s_header (wsi, WSI_TOKEN_HOST, buf + WS_HEADER_MAX, WS_HEADER_MAX);
    if (origin && !*origin)
        origin = "?"; //  too long to read: never allowed
    if (!admission_origin_ok (admission, origin, host))
        return s_refuse (wsi, HTTP_STATUS_FORBIDDEN, &stats->refused_origin,
                         "origin not allowed");
    char peer[ADMISSION_IP_MAX] = "";
    if (!lws_get_peer_simple (wsi, peer, sizeof peer))
        peer[0] = '\0';
    const char *xff = s_header (wsi, WSI_TOKEN_X_FORWARDED_FOR,
                                buf + 2 * WS_HEADER_MAX, WS_HEADER_MAX);
    char client[ADMISSION_IP_MAX];
    admission_client_ip (admission, peer, xff, client, sizeof client);
    //  The session (not open yet) keeps the hash until ESTABLISHED and
    //  CLOSED. Only the salted hash is kept, here and in Redis; the address
    //  itself is never logged.
    session_t *session = session_init (s_session_mem (pss), wsi);
    if (!session)
        return -1;
    char ip_hash[ID_STRLEN + 1];
    if (id_salted_hash (gateway_config (gw)->ip_salt, client, ip_hash))
        ip_hash[0] = '\0';
    session_set_ip_hash (session, ip_hash);
    switch (admission_check (admission, ip_hash, gateway_connections (gw))) {
    case ADMISSION_FULL:
        return s_refuse (wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                         &stats->refused_full, "MEGLE_MAX_CONNS reached");
    case ADMISSION_PER_IP:
        return s_refuse (wsi, 429, &stats->refused_per_ip,
                         "MEGLE_MAX_CONNS_PER_IP reached");
    case ADMISSION_OK:
        break;
    }
    return 0;
}

//  A WebSocket is up: its session, its buckets, its per-address count.
static int
s_established (gateway_t *gw, struct lws *wsi, ws_pss_t *pss)
{
    //  The handshake deadline (s_accepted) is met.
    lws_set_timeout (wsi, NO_PENDING_TIMEOUT, 0);
    ratelimit_init ((char *) pss + s_limits_offset (), gateway_limits (gw),
                    clock_mono_ms ());
    //  The session s_filter made; gateway_session_open indexes it, says
    //  welcome and OPEN, or leaves pss->session NULL.
    pss->session = s_session_mem (pss);
    pss->last_rx_ms = (uint32_t) clock_mono_ms ();
    const char *ip_hash = session_ip_hash (pss->session);
    if (gateway_session_open (gw, wsi, &pss->session, ip_hash))
        return -1;
    pss->counted = admission_acquire (gateway_admission (gw), ip_hash) == 0;
    pss->open = true;
    return 0;
}

//  A new TCP connection (any: page, health check, WebSocket): it has
//  handshake_timeout_ms to get through its request, in whole seconds
//  (rounded up): lws 4.1 exports no finer per-connection timeout.
static void
s_accepted (gateway_t *gw, struct lws *wsi)
{
    int ms = gateway_config (gw)->handshake_timeout_ms;
    lws_set_timeout (wsi, PENDING_TIMEOUT_HOLDING_AH, (ms + 999) / 1000);
}

//  Pass one client message of len bytes through the buckets: 0 = handle
//  it, 1 = dropped, -1 = flooding, close.
static int
s_admit (gateway_t *gw, ws_pss_t *pss, size_t len)
{
    ratelimit_t *limits = s_limits (pss);
    if (!limits)
        return 0;
    uint32_t retry = 0;
    ratelimit_verdict_t verdict =
        ratelimit_message (limits, len, clock_mono_ms (), &retry);
    if (verdict == RATELIMIT_PASS)
        return 0;
    return gateway_session_limited (gw, pss->session, verdict, retry) ? -1 : 1;
}

//  Close with 1008 (policy violation). lws sends the close frame only
//  when the close starts from SERVER_WRITEABLE (returning -1 from RECEIVE
//  cuts the socket), and it closes the socket as soon as data other than
//  the client's close comes in after it. A socket closed with unread
//  input is reset, and the reset destroys the close frame in flight. So:
//  ignore the client's input until it has been quiet for WS_QUIET_US (a
//  flood sent in one go has arrived) or WS_LINGER_MS have passed, then
//  close from SERVER_WRITEABLE.
static int
s_close_flood (ws_pss_t *pss, struct lws *wsi)
{
    pss->flooding = true;
    pss->flood_deadline = clock_mono_ms () + WS_LINGER_MS;
    lws_set_timer_usecs (wsi, WS_QUIET_US);
    return 0;
}

//  More input from a flooding client: wait for quiet, up to the deadline.
static void
s_flood_input (ws_pss_t *pss, struct lws *wsi)
{
    if (!pss->flood_close && clock_mono_ms () < pss->flood_deadline)
        lws_set_timer_usecs (wsi, WS_QUIET_US);
}

static int
s_receive (gateway_t *gw, ws_pss_t *pss, struct lws *wsi, const void *in,
           size_t len)
{
    session_t *session = pss->session;
    //  A chunk with more of its frame still to come is not the end of the
    //  message; only the last one asks lws, whose lws_is_final_fragment
    //  calls the logger on every chunk (Debian's lws keeps its debug
    //  logging compiled in: ~20 calls for a 3 KB SDP at our rx buffer).
    size_t remaining = lws_remaining_packet_payload (wsi);
    bool final = remaining == 0 && lws_is_final_fragment (wsi) != 0;
    int admit;
    if (pss->flooding) {
        s_flood_input (pss, wsi);
        return 0;
    }
    if (lws_frame_is_binary (wsi)) {
        if (session_rx_skip (session, final)) {
            if ((admit = s_admit (gw, pss, len)) != 0)
                return admit < 0 ? s_close_flood (pss, wsi) : 0;
            gateway_count_in (gw, GATEWAY_IN_INVALID);
            gateway_send_error (gw, session, "binary_unsupported",
                                "megle speaks text frames only");
        }
        return 0;
    }
    const char *msg = NULL;
    size_t msg_len = 0;
    size_t max = (size_t) gateway_config (gw)->max_message;
    switch (
        session_rx (session, in, len, final, remaining, max, &msg, &msg_len)) {
    case SESSION_RX_PARTIAL:
    case SESSION_RX_DROPPED:
        break;
    case SESSION_RX_TOO_LARGE:
        if ((admit = s_admit (gw, pss, max)) != 0)
            return admit < 0 ? s_close_flood (pss, wsi) : 0;
        gateway_count_in (gw, GATEWAY_IN_INVALID);
        gateway_send_error (gw, session, "too_large",
                            "the message is larger than the limit");
        break;
    case SESSION_RX_COMPLETE:
        admit = s_admit (gw, pss, msg_len);
        if (admit == 0
            && gateway_session_message (gw, session, s_limits (pss), msg,
                                        msg_len))
            admit = -1;
        session_rx_done (session);
        if (admit < 0)
            return s_close_flood (pss, wsi);
        break;
    }
    return 0;
}

//  Input from the client (a message or a pong): it is alive.
static void
s_touch (ws_pss_t *pss)
{
    pss->last_rx_ms = (uint32_t) clock_mono_ms ();
    pss->pinged = false;
}

//  A ping is due: it goes out before the queued messages (each of them
//  went out whole, so it never splits one).
static int
s_ping (gateway_t *gw, session_t *session, struct lws *wsi, ws_pss_t *pss)
{
    pss->ping_due = false;
    uint8_t buf[LWS_PRE + sizeof WS_PING_DATA];
    size_t len = sizeof WS_PING_DATA - 1;
    memcpy (buf + LWS_PRE, WS_PING_DATA, len);
    if (lws_write (wsi, buf + LWS_PRE, len, LWS_WRITE_PING) < (int) len) {
        log_debug ("session %s: ping failed", session_id (session));
        return -1;
    }
    if (session_queued (session) || gateway_session_closing (gw, session))
        lws_callback_on_writable (wsi);
    return 0;
}

typedef struct {
    uint32_t now_ms;
    uint32_t ping_ms;
    uint32_t idle_ms;
} ws_sweep_t;

//  One session of the sweep: ping it or drop it if it is time.
static void
s_keepalive (session_t *session, void *arg)
{
    ws_sweep_t *sweep = arg;
    struct lws *wsi = session_conn (session);
    ws_pss_t *pss = wsi ? lws_wsi_user (wsi) : NULL;
    if (!pss || pss->session != session || pss->flooding || pss->idle_close)
        return;
    switch (keepalive_check (sweep->now_ms, pss->last_rx_ms, pss->pinged,
                             sweep->ping_ms, sweep->idle_ms)) {
    case KEEPALIVE_OK:
        break;
    case KEEPALIVE_PING:
        pss->pinged = true;
        pss->ping_due = true;
        lws_callback_on_writable (wsi);
        break;
    case KEEPALIVE_CLOSE:
        //  A dead peer may never make the socket writable again: drop the
        //  connection without a close frame, as lws' own idle policy did
        //  (the client sees 1006). Closing from here would change the
        //  roster under the sweep: lws does it at its next turn.
        pss->idle_close = true;
        log_debug ("session %s: idle timeout, closing", session_id (session));
        lws_set_timeout (wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        break;
    }
}

void
ws_sweep (gateway_t *gw, size_t *cursor, uint32_t tick_ms)
{
    const config_t *config = gateway_config (gw);
    roster_t *roster = gateway_roster (gw);
    ws_sweep_t sweep = {
        .now_ms = (uint32_t) clock_mono_ms (),
        .ping_ms = (uint32_t) config->ping_interval_s * 1000u,
        .idle_ms = (uint32_t) config->idle_timeout_s * 1000u,
    };
    size_t count =
        keepalive_slice (roster_slots (roster), tick_ms, KEEPALIVE_PERIOD_MS);
    roster_sweep (roster, cursor, count, s_keepalive, &sweep);
}

int
ws_send (gateway_t *gw, session_t *session, uint8_t **buf_p, size_t len)
{
    (void) gw;
    struct lws *wsi = session_conn (session);
    ws_pss_t *pss = wsi ? lws_wsi_user (wsi) : NULL;
    //  Only an open connection whose earlier output has all gone to the
    //  kernel: nothing queued here, nothing left over in lws (a send the
    //  socket took only in part), so the message keeps its place. lws
    //  4.1 allows a write outside SERVER_WRITEABLE on a plain (h1)
    //  connection; what the socket does not take now it buffers and sends
    //  from its own POLLOUT, before our next SERVER_WRITEABLE.
    if (!pss || pss->session != session || !pss->open)
        return 0;
    if (pss->write_failed) {
        free (*buf_p);
        *buf_p = NULL;
        return -1;
    }
    if (pss->flooding || pss->idle_close || session_queued (session)
        || lws_partial_buffered (wsi))
        return 0;
    //  *buf_p has LWS_PRE writable bytes in front of the text.
    int n = lws_write (wsi, *buf_p + LWS_PRE, len, LWS_WRITE_TEXT);
    free (*buf_p);
    *buf_p = NULL;
    if (n < (int) len) {
        //  The socket is broken (the peer is gone): close it from its next
        //  WRITEABLE (or lws' own hang-up handling, whichever comes
        //  first). Not with lws_set_timeout: lws 4.1 keeps timeouts in one
        //  sorted list, and each new "now" goes behind every earlier one,
        //  so when thousands of peers vanish at once (an online-count push
        //  to all of them) that is O(n^2) and the gateway spins.
        log_debug ("session %s: write failed", session_id (session));
        pss->write_failed = true;
        lws_callback_on_writable (wsi);
        return -1;
    }
    return 1;
}

static int
s_flush (gateway_t *gw, session_t *session, struct lws *wsi)
{
    if (session_overflowed (session))
        return -1;
    //  Every queued message that the socket takes whole, up to a bound so
    //  that one busy connection cannot hold the loop: one wake-up (and one
    //  pair of epoll_ctl calls to turn POLLOUT on and off) for the lot.
    for (int i = 0; i < WS_FLUSH_MAX; i++) {
        size_t len = 0;
        uint8_t *text = session_peek (session, &len);
        if (!text)
            break;
        //  text has LWS_PRE writable bytes in front of it (session_push).
        if (lws_write (wsi, text, len, LWS_WRITE_TEXT) < (int) len) {
            log_debug ("session %s: write failed", session_id (session));
            return -1;
        }
        session_pop (session);
        //  A part of it is still in lws: the rest waits for POLLOUT.
        if (lws_partial_buffered (wsi))
            break;
    }
    if (session_queued (session)) {
        lws_callback_on_writable (wsi);
        return 0;
    }
    if (!gateway_session_closing (gw, session))
        return 0;
    if (lws_partial_buffered (wsi)) {
        //  The close frame goes after the rest of the last message.
        lws_callback_on_writable (wsi);
        return 0;
    }
    static const char reason[] = "server going away";
    lws_close_reason (wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *) reason,
                      sizeof reason - 1);
    return -1;
}

int
ws_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
             void *in, size_t len)
{
    gateway_t *gw = gateway_from_context (lws_get_context (wsi));
    ws_pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        if (gw)
            s_accepted (gw, wsi);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return pss ? s_filter (gw, wsi, pss) : -1;
    case LWS_CALLBACK_ESTABLISHED:
        return pss ? s_established (gw, wsi, pss) : -1;
    case LWS_CALLBACK_RECEIVE:
        if (!pss || !pss->session)
            return -1;
        s_touch (pss);
        return s_receive (gw, pss, wsi, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        if (pss && pss->session)
            s_touch (pss);
        return 0;
    case LWS_CALLBACK_TIMER:
        if (pss && pss->flooding) {
            pss->flood_close = true;
            lws_callback_on_writable (wsi);
        }
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (pss && pss->flooding) {
            if (!pss->flood_close)
                return 0; //  nothing more goes out to a flooder
            static const char text[] = WS_FLOOD_TEXT;
            lws_close_reason (wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                              (unsigned char *) text, sizeof text - 1);
            return -1;
        }
        if (!pss || !pss->session || pss->write_failed)
            return -1;
        if (pss->ping_due)
            return s_ping (gw, pss->session, wsi, pss);
        return s_flush (gw, pss->session, wsi);
    case LWS_CALLBACK_CLOSED:
        if (pss) {
            //  The embedded session keeps its address hash until the
            //  memory goes (session_destroy frees only what it holds).
            if (pss->counted)
                admission_release (gateway_admission (gw),
                                   session_ip_hash (s_session_mem (pss)));
            pss->counted = false;
            gateway_session_close (gw, &pss->session);
            //  The embedded limits hold nothing to free.
        }
        return 0;
    default:
        //  HTTP connections start on this protocol (it is the default):
        //  let lws' stock handler do what they need.
        return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}
