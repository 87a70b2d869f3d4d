//  gateway - one megle-gateway process: the lws context and its vhost, the
//  configuration, the roster of live sessions, the bus and the counters.
//
//  The gateway holds only live connections. It forwards each client event
//  to the matcher as a bus frame (inbox.c) and turns the matcher's frames
//  into client events (outbox.c); the matcher decides everything. The
//  online count comes with the matcher's PULSE; the gateway pushes it to
//  its clients when it changes (online.h says when). Its one lws vhost is
//  described in vhost.h.

#include "gateway.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "envelope.h"
#include "evloop.h"
#include "frame.h"
#include "id.h"
#include "listener.h"
#include "log.h"
#include "online.h"
#include "turn.h"
#include "vhost.h"
#include "ws.h"

#define GATEWAY_TICK_US     (200 * LWS_US_PER_MS) //  safety-net bus drain
#define GATEWAY_SERV_BUF    16384 //  per-thread lws scratch buffer
#define GATEWAY_ROSTER_HINT 1024
#define GATEWAY_ONLINE_MS   1000 //  online pushes: at most one a second

struct _gateway_t {
    config_t config;
    struct lws_context *context;
    evloop_t *loop; //  the epoll loop lws runs on (NULL: lws' own poll())
    void *foreign_loops[1];
    struct lws_vhost *vhost;
    roster_t *roster;
    bus_t *bus;
    listener_t *listener;      //  our own listening socket
    turn_t *turn;              //  ICE servers for welcome
    admission_t *admission;    //  Origin, client address, connection caps
    ratelimit_config_t limits; //  per-connection rate limits
    lws_retry_bo_t idle;       //  all zero: no lws ping / idle timers (lws
                               //  keeps a pointer for the vhost's life)
    size_t sweep_cursor;       //  keep-alive sweep position (ws.h)
    gateway_stats_t stats;
    uint64_t pulse_ms;     //  monotonic time of the last PULSE, 0 = never
    bool stopping;         //  draining: not ready, no new WebSockets
    bool closing;          //  drain phase 2: BYE sent, connections closing
    uint64_t close_at;     //  monotonic ms when phase 2 starts
    bool announced;        //  HELLO was sent: BYE is due at the end
    online_t *online;      //  the online count (online.h)
    uint64_t online_push;  //  the count s_push_online sends
    bool online_scheduled; //  sul_online is pending,
    uint64_t online_due;   //  for then (monotonic ms)
    lws_sorted_usec_list_t sul_tick;
    lws_sorted_usec_list_t sul_heartbeat;
    lws_sorted_usec_list_t sul_online;
    vhost_t desc; //  lws keeps pointers into it for the vhost's life
};

static const char *s_in_names[GATEWAY_IN_COUNT] = {
    "find_match", "signal", "leave", "chat", "typing", "report", "invalid"};
static const char *s_out_names[GATEWAY_OUT_COUNT] = {
    "welcome", "waiting", "match_found", "signal", "partner_left",
    "error",   "chat",    "typing",      "online"};
static const char *s_error_names[GATEWAY_ERROR_CODES] = {
    "bad_json",           "bad_envelope", "unknown_event",
    "bad_field",          "too_large",    "too_long",
    "binary_unsupported", "not_partner",  "not_matched",
    "already_matched",    "unavailable",  "internal",
    "rate_limited",       "banned",       "other"};

const char *
gateway_in_name (gateway_in_t event)
{
    return event < GATEWAY_IN_COUNT ? s_in_names[event] : "?";
}

const char *
gateway_out_name (gateway_out_t event)
{
    return event < GATEWAY_OUT_COUNT ? s_out_names[event] : "?";
}

const char *
gateway_error_name (int i)
{
    return i >= 0 && i < GATEWAY_ERROR_CODES ? s_error_names[i] : "?";
}

frame_t *
gateway_frame (gateway_t *self, frame_kind_t kind, session_t *session)
{
    frame_t *frame = frame_new (kind);
    if (!frame)
        return NULL;
    frame_set_str (frame->gateway, sizeof frame->gateway,
                   self->config.gateway_id, strlen (self->config.gateway_id));
    if (session)
        frame_set_str (frame->session, sizeof frame->session,
                       session_id (session), ID_STRLEN);
    return frame;
}

int
gateway_send (gateway_t *self, frame_t **frame_p)
{
    if (!*frame_p)
        return -1;
    //  A session's frames go to the matcher it is pinned to (bus.h).
    session_t *session = (*frame_p)->session[0]
                             ? roster_find (self->roster, (*frame_p)->session)
                             : NULL;
    if (session)
        return bus_send_session (self->bus, session_pin (session),
                                 session_id (session), frame_p);
    return bus_send (self->bus, frame_p);
}

// ---------------------------------------------------------------------
//  Timers

static void s_drain_tick (gateway_t *self);

static void
s_tick (lws_sorted_usec_list_t *sul)
{
    gateway_t *self = lws_container_of (sul, gateway_t, sul_tick);
    bus_drain (self->bus);
    ws_sweep (self, &self->sweep_cursor, GATEWAY_TICK_US / LWS_US_PER_MS);
    if (self->stopping)
        s_drain_tick (self);
    lws_sul_schedule (self->context, 0, &self->sul_tick, s_tick,
                      GATEWAY_TICK_US);
}

static void
s_heartbeat (lws_sorted_usec_list_t *sul)
{
    gateway_t *self = lws_container_of (sul, gateway_t, sul_heartbeat);
    frame_t *frame = gateway_frame (self, FRAME_HEARTBEAT, NULL);
    if (frame) {
        size_t live = roster_size (self->roster);
        frame->flags = live > UINT32_MAX ? UINT32_MAX : (uint32_t) live;
        online_set_reported (self->online, frame->flags);
    }
    if (gateway_send (self, &frame))
        log_warn ("gateway: heartbeat not sent");
    lws_sul_schedule (self->context, 0, &self->sul_heartbeat, s_heartbeat,
                      (lws_usec_t) self->config.heartbeat_ms * LWS_US_PER_MS);
}

// ---------------------------------------------------------------------
//  Online count

static void
s_push_online (session_t *session, void *arg)
{
    gateway_t *self = arg;
    size_t len = 0;
    uint8_t *buf = envelope_online (LWS_PRE, self->online_push, &len);
    gateway_deliver (self, session, &buf, len, GATEWAY_OUT_ONLINE);
}

static void s_online_timer (lws_sorted_usec_list_t *sul);

//  Push the count to every client when online.h says so; when it says
//  wait, ask again then (sooner than a check already due, if need be: a
//  big change does not wait for a small one's longer delay).
static void
s_online_update (gateway_t *self)
{
    if (self->stopping)
        return;
    int64_t count = 0;
    uint64_t wait_ms = 0, now = clock_mono_ms ();
    switch (online_next (self->online, roster_size (self->roster), now, &count,
                         &wait_ms)) {
    case ONLINE_PUSH:
        self->online_push = (uint64_t) count;
        roster_foreach (self->roster, s_push_online, self);
        break;
    case ONLINE_WAIT:
        if (!self->online_scheduled || now + wait_ms < self->online_due) {
            if (self->online_scheduled)
                lws_sul_cancel (&self->sul_online);
            self->online_scheduled = true;
            self->online_due = now + wait_ms;
            lws_sul_schedule (self->context, 0, &self->sul_online,
                              s_online_timer,
                              (lws_usec_t) wait_ms * LWS_US_PER_MS);
        }
        break;
    case ONLINE_NONE:
        break;
    }
}

static void
s_online_timer (lws_sorted_usec_list_t *sul)
{
    gateway_t *self = lws_container_of (sul, gateway_t, sul_online);
    self->online_scheduled = false;
    s_online_update (self);
}

void
gateway_pulse (gateway_t *self, uint32_t total)
{
    assert (self);
    self->pulse_ms = clock_mono_ms ();
    online_set_total (self->online, total);
    s_online_update (self);
}

// ---------------------------------------------------------------------
//  Sessions

void
gateway_count_in (gateway_t *self, gateway_in_t event)
{
    assert (self);
    if (event < GATEWAY_IN_COUNT)
        self->stats.in[event]++;
}

int
gateway_session_open (gateway_t *self, struct lws *wsi, session_t **slot_p,
                      const char *ip_hash)
{
    assert (self);
    assert (slot_p);
    //  ws.c hands in a session made in its per-connection memory.
    session_t *session = *slot_p ? *slot_p : session_new (wsi);
    *slot_p = NULL;
    if (!session || roster_add (self->roster, session)) {
        log_error ("gateway: cannot create a session");
        session_destroy (&session);
        return -1;
    }
    *slot_p = session;

    size_t len = 0;
    int64_t online = online_welcome (self->online, roster_size (self->roster));
    size_t ice_len = 0;
    char *ice = turn_ice_servers (self->turn, session_id (session),
                                  clock_wall_ms () / 1000, &ice_len);
    uint8_t *buf = envelope_welcome_ice (LWS_PRE, session_id (session), online,
                                         ice, ice_len, &len);
    free (ice);
    gateway_deliver (self, session, &buf, len, GATEWAY_OUT_WELCOME);
    if (online >= 0) {
        buf = envelope_online (LWS_PRE, (uint64_t) online, &len);
        gateway_deliver (self, session, &buf, len, GATEWAY_OUT_ONLINE);
    }
    s_online_update (self); //  the others hear of the newcomer

    //  Only a salted hash of the client's address leaves this process
    //  (ws.c computed it from the socket peer or, behind a trusted proxy,
    //  X-Forwarded-For: see admission.h).
    if (ip_hash && strlen (ip_hash) == ID_STRLEN)
        session_set_ip_hash (session, ip_hash); //  a re-OPEN needs it again
    frame_t *frame = gateway_frame (self, FRAME_OPEN, session);
    if (frame && ip_hash && strlen (ip_hash) == ID_STRLEN)
        frame_set_payload (frame, ip_hash, ID_STRLEN);
    log_ev_debug ("session_opened", "session", session_id (session), NULL);
    if (gateway_send (self, &frame))
        gateway_send_error (self, session, "unavailable",
                            "the matcher cannot be reached; try again");
    return 0;
}

void
gateway_session_close (gateway_t *self, session_t **slot_p)
{
    assert (self);
    assert (slot_p);
    session_t *session = *slot_p;
    if (!session)
        return;
    if (!self->stopping) {
        //  The matcher ends the match and tells the partner.
        frame_t *frame = gateway_frame (self, FRAME_CLOSE, session);
        if (gateway_send (self, &frame))
            log_warn ("session %s: CLOSE not sent", session_id (session));
    }
    log_ev_debug ("session_closed", "session", session_id (session), NULL);
    roster_remove (self->roster, session_id (session));
    session_destroy (slot_p);
    s_online_update (self);
}

// ---------------------------------------------------------------------
//  Accessors

gateway_t *
gateway_from_context (struct lws_context *context)
{
    return context ? lws_context_user (context) : NULL;
}

const config_t *
gateway_config (gateway_t *self)
{
    assert (self);
    return &self->config;
}

const gateway_stats_t *
gateway_stats (gateway_t *self)
{
    assert (self);
    return &self->stats;
}

gateway_stats_t *
gateway_counters (gateway_t *self)
{
    assert (self);
    return &self->stats;
}

admission_t *
gateway_admission (gateway_t *self)
{
    assert (self);
    return self->admission;
}

const ratelimit_config_t *
gateway_limits (gateway_t *self)
{
    assert (self);
    return &self->limits;
}

const bus_stats_t *
gateway_bus_stats (gateway_t *self)
{
    assert (self);
    return bus_stats (self->bus);
}

bus_t *
gateway_bus (gateway_t *self)
{
    assert (self);
    return self->bus;
}

size_t
gateway_connections (gateway_t *self)
{
    assert (self);
    return roster_size (self->roster);
}

roster_t *
gateway_roster (gateway_t *self)
{
    assert (self);
    return self->roster;
}

bool
gateway_matcher_up (gateway_t *self)
{
    assert (self);
    //  Any of the matchers heard within matcher_timeout_ms (bus.h).
    return bus_matchers_live (self->bus) > 0;
}

bool
gateway_ready (gateway_t *self)
{
    assert (self);
    return !self->stopping && gateway_matcher_up (self);
}

// ---------------------------------------------------------------------
//  Life cycle

gateway_t *
gateway_new (const config_t *config)
{
    assert (config);
    gateway_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->online = online_new (GATEWAY_ONLINE_MS);
    if (!self->online)
        goto fail;
    metrics_hist_init (&self->stats.time_to_match, metrics_buckets_match,
                       metrics_buckets_match_n);
    metrics_hist_init (&self->stats.signal_relay, metrics_buckets_latency,
                       metrics_buckets_latency_n);
    self->turn = turn_new (config->stun_urls, config->turn_urls,
                           config->turn_secret, config->turn_ttl);
    if (!self->turn) {
        log_error ("gateway: bad MEGLE_STUN_URLS or MEGLE_TURN_URLS");
        goto fail;
    }
    if (config->turn_urls[0] && !turn_enabled (self->turn))
        log_warn ("gateway: MEGLE_TURN_URLS set without MEGLE_TURN_SECRET: "
                  "no TURN servers are handed out");
    char why[160] = "";
    self->admission =
        admission_new (config->trusted_proxies, config->allowed_origins,
                       (size_t) config->max_conns,
                       (size_t) config->max_conns_per_ip, why, sizeof why);
    if (!self->admission) {
        log_error ("gateway: %s", why);
        goto fail;
    }
    ratelimit_config (&self->limits, config->rate_msgs, config->rate_msgs_burst,
                      config->rate_bytes, config->rate_bytes_burst,
                      config->rate_finds, config->rate_finds_burst);
    //  OpenSSL loads its providers and ~2 MB of code on the first HMAC:
    //  pay that now rather than in the first connection's handshake (and
    //  in the per-connection memory the bench reports).
    char warm[ID_STRLEN + 1];
    if (id_salted_hash (config->ip_salt, "", warm))
        log_warn ("gateway: HMAC-SHA256 unavailable");
    if (config->idle_timeout_s <= config->ping_interval_s) {
        log_error ("gateway: MEGLE_IDLE_TIMEOUT_S (%d) must be longer than "
                   "MEGLE_PING_INTERVAL_S (%d)",
                   config->idle_timeout_s, config->ping_interval_s);
        goto fail;
    }
    //  A WebSocket that has sent nothing (no message, no pong) for the ping
    //  interval is pinged; nothing for the idle timeout: closed. So a quiet
    //  call carries a ping/pong every interval (a balancer's idle timeout
    //  never cuts it), and a dead peer goes within the idle timeout. The
    //  gateway does it itself (ws_sweep from the tick, keepalive.h): lws
    //  4.1 would keep a timer per connection in one sorted list, O(n) per
    //  pong. self->idle stays all zero, which turns lws' own off (without
    //  a policy lws would apply its default, ping at 300 s).
    self->roster = roster_new (GATEWAY_ROSTER_HINT);
    self->bus = bus_new (&self->config, gateway_on_frame, self);
    if (!self->roster || !self->bus)
        goto fail;
    vhost_describe (&self->desc, self->config.web_root);

    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.user = self;
    if (evloop_wanted (config)) {
        //  lws runs on our libev loop (evloop.h says why)
        self->loop = evloop_new ();
        if (!self->loop) {
            log_error ("gateway: cannot create the epoll event loop");
            goto fail;
        }
        self->foreign_loops[0] = evloop_handle (self->loop);
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = self->foreign_loops;
    }
    info.pt_serv_buf_size = GATEWAY_SERV_BUF;
    self->context = lws_create_context (&info);
    if (!self->context) {
        log_error ("gateway: cannot create the lws context");
        goto fail;
    }

    memset (&info, 0, sizeof info);
    info.vhost_name = "megle";
    info.port = self->config.http_port;
    char iface[64]; //  room for any numeric IPv6 address
    info.iface = vhost_iface (self->config.http_host, iface, sizeof iface);
    info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    //  The gateway listens itself and lws does not (listener.h says why);
    //  with MEGLE_REUSEPORT several gateway processes share the port and
    //  the kernel spreads connections over them.
    self->listener =
        listener_new (info.iface ? info.iface : "", self->config.http_port,
                      self->config.reuseport != 0);
    if (!self->listener)
        goto fail;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    //  Slow or silent clients: a connection has handshake_timeout_ms
    //  (in whole seconds) to send its request headers (ws.c arms it on
    //  accept, lws again whenever it gives a connection a header table).
    info.timeout_secs_ah_idle =
        (unsigned int) (config->handshake_timeout_ms + 999) / 1000;
    info.retry_and_idle_policy = &self->idle;
    info.protocols = self->desc.protocols;
    info.mounts = self->desc.mounts;
    self->vhost = lws_create_vhost (self->context, &info);
    if (!self->vhost) {
        log_error ("gateway: cannot listen on %s", self->config.http);
        goto fail;
    }
    int port = listener_port (self->listener);
    if (listener_attach (self->listener, self->vhost, VHOST_PROTOCOL_LISTEN))
        goto fail;
    char port_text[16];
    snprintf (port_text, sizeof port_text, "%d", port);
    log_ev_info ("listening", "gateway", self->config.gateway_id, "port",
                 port_text, NULL);

    if (bus_attach (self->bus, self->vhost, VHOST_PROTOCOL_BUS))
        goto fail;
    frame_t *hello = gateway_frame (self, FRAME_HELLO, NULL);
    if (gateway_send (self, &hello))
        log_warn ("gateway: HELLO not sent");
    self->announced = true;
    lws_sul_schedule (self->context, 0, &self->sul_tick, s_tick,
                      GATEWAY_TICK_US);
    lws_sul_schedule (self->context, 0, &self->sul_heartbeat, s_heartbeat,
                      (lws_usec_t) self->config.heartbeat_ms * LWS_US_PER_MS);
    return self;
fail:
    gateway_destroy (&self);
    return NULL;
}

int
gateway_service (gateway_t *self)
{
    assert (self);
    if (self->loop)
        return evloop_run (self->loop);
    return lws_service (self->context, 0) < 0 ? -1 : 0;
}

//  When this session's connection closes in drain phase 2: its id is
//  uniformly random, so its first 16 bits spread the closes evenly over
//  the jitter window without any per-session state.
static uint64_t
s_close_time (gateway_t *self, session_t *session)
{
    unsigned long bits =
        strtoul ((char[5]){session_id (session)[0], session_id (session)[1],
                           session_id (session)[2], session_id (session)[3], 0},
                 NULL, 16);
    return self->close_at
           + bits * (uint64_t) self->config.drain_jitter_ms / 65536;
}

static void
s_wake_due (session_t *session, void *arg)
{
    gateway_t *self = (gateway_t *) arg;
    if (s_close_time (self, session) <= clock_mono_ms ())
        lws_callback_on_writable ((struct lws *) session_conn (session));
}

//  Drain, run from the tick: phase 1 (not ready, connections served as
//  usual) until close_at; then phase 2: one BYE makes the matcher end
//  every session here and tell the partners at once, and each connection
//  flushes its queue and closes with 1001 at its point of the jitter
//  window (ws.c asks gateway_session_closing), so that clients reconnect
//  through the balancer elsewhere without arriving all at once.
static void
s_drain_tick (gateway_t *self)
{
    if (!self->closing) {
        if (clock_mono_ms () < self->close_at)
            return;
        self->closing = true;
        if (self->bus && self->announced) {
            frame_t *bye = gateway_frame (self, FRAME_BYE, NULL);
            if (gateway_send (self, &bye))
                log_ev_warn ("bye_not_sent", "gateway", self->config.gateway_id,
                             NULL);
            self->announced = false;
        }
        char count[24];
        snprintf (count, sizeof count, "%zu", roster_size (self->roster));
        log_ev_info ("drain_closing", "gateway", self->config.gateway_id,
                     "connections", count, NULL);
    }
    roster_foreach (self->roster, s_wake_due, self);
}

void
gateway_drain (gateway_t *self)
{
    assert (self);
    if (self->stopping)
        return;
    //  Not ready from now on, so a balancer stops sending clients here
    //  before any connection closes.
    self->stopping = true;
    self->close_at = clock_mono_ms () + (uint64_t) self->config.drain_delay_ms;
    char count[24], delay[16];
    snprintf (count, sizeof count, "%zu", roster_size (self->roster));
    snprintf (delay, sizeof delay, "%d", self->config.drain_delay_ms);
    log_ev_info ("drain_started", "gateway", self->config.gateway_id,
                 "connections", count, "closing_in_ms", delay, NULL);
    //  Sharing the port (MEGLE_REUSEPORT): leave it to the other processes
    //  now. A lone gateway keeps listening, so that its balancer can read
    //  /readyz turn 503 and new clients get a 503, not a refusal.
    if (self->config.reuseport && self->listener)
        listener_stop (self->listener);
    s_drain_tick (self);
}

bool
gateway_drained (gateway_t *self)
{
    assert (self);
    return self->closing && roster_size (self->roster) == 0;
}

bool
gateway_session_closing (gateway_t *self, session_t *session)
{
    assert (self);
    return self->closing && s_close_time (self, session) <= clock_mono_ms ();
}

bool
gateway_draining (gateway_t *self)
{
    assert (self);
    return self->stopping;
}

static void
s_destroy_session (session_t *session, void *arg)
{
    (void) arg;
    session_destroy (&session);
}

void
gateway_destroy (gateway_t **self_p)
{
    assert (self_p);
    gateway_t *self = *self_p;
    if (!self)
        return;
    self->stopping = true;
    if (self->context) {
        lws_sul_cancel (&self->sul_tick);
        lws_sul_cancel (&self->sul_heartbeat);
        lws_sul_cancel (&self->sul_online);
    }
    if (self->bus && self->announced) {
        //  One BYE makes the matcher end every session of this gateway
        //  and tell their partners at once.
        frame_t *bye = gateway_frame (self, FRAME_BYE, NULL);
        if (gateway_send (self, &bye))
            log_ev_warn ("bye_not_sent", "gateway", self->config.gateway_id,
                         NULL);
        char count[24];
        snprintf (count, sizeof count, "%zu", roster_size (self->roster));
        log_ev_info ("stopping", "gateway", self->config.gateway_id,
                     "connections", count, NULL);
    }
    //  The bus goes first: closing the connections below must not touch
    //  it (stopping skips CLOSE frames; BYE covered them).
    bus_destroy (&self->bus);
    listener_destroy (&self->listener);
    if (self->context)
        lws_context_destroy (self->context);
    evloop_destroy (&self->loop);
    if (self->roster) {
        roster_foreach (self->roster, s_destroy_session, NULL);
        roster_destroy (&self->roster);
    }
    turn_destroy (&self->turn);
    admission_destroy (&self->admission);
    online_destroy (&self->online);
    free (self);
    *self_p = NULL;
}
