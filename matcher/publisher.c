//  publisher - bus_out socket and frame building (see publisher.h).
//
//  The socket is an XPUB so that the matcher sees each gateway's
//  subscription ("<gw>\0") come and go (ZMQ_XPUB_VERBOSER passes every
//  subscribe and unsubscribe, including those of a disconnecting peer).
//  A frame for a gateway that is not subscribed right now - typically
//  because this matcher just (re)started and the gateway's SUB has not
//  reconnected yet - would be discarded by ZeroMQ without a trace. It is
//  held instead, in order, and sent the moment the subscription arrives;
//  held frames older than the hold time are dropped and counted.

#include "publisher.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "proto/frame.h"
#include "gateways.h"
#include "ratelog.h"
#include "tap.h"
#include "zap.h"

#define HOLD_MAX 65536 //  frames held per gateway at most

//  One encoded frame waiting for its gateway to subscribe.
typedef struct {
    uint64_t since_ms; //  monotonic time it was held
    size_t size;
    uint8_t data[];
} held_t;

//  What the publisher knows of one gateway topic.
typedef struct {
    int subscribers; //  SUB sockets subscribed to "<gw>\0" now
    zlistx_t *held;  //  held_t, oldest first (frees its items)
} route_t;

struct _publisher_t {
    zsock_t *pub;
    zloop_t *loop;    //  borrowed
    zhashx_t *routes; //  gateway id -> route_t
    int hold_ms;      //  longest a frame waits for its gateway
    tap_t *tap;       //  borrowed; NULL = no tap
    uint64_t drops;   //  frames the socket refused
    uint64_t expired; //  held frames dropped unsent
    //  for /metrics
    uint64_t out[PUBLISHER_KINDS]; //  frames published, by kind
    uint64_t matches;              //  MATCHED frames to initiators
    ratelog_t limit;               //  their warnings
    uint8_t *buf;                  //  encoding buffer, reused (no malloc)
    size_t buf_cap;                //  its size
    //  pub's ZMQ_FD, polled as a plain descriptor; polled: it is in the loop
    zmq_pollitem_t pub_fd;
    int polled;
};

//  What each error code tells the client (payload of ERROR frames).
static const char *
s_error_text (const char *code)
{
    if (!strcmp (code, "unavailable"))
        return "the matcher cannot reach its storage right now; try again";
    if (!strcmp (code, "already_matched"))
        return "already matched: leave first";
    if (!strcmp (code, "not_matched"))
        return "you have no partner";
    if (!strcmp (code, "not_partner"))
        return "target_id is not your current partner";
    if (!strcmp (code, "bad_field"))
        return "a field of the request is malformed";
    return "server-side failure; try again";
}

static void
s_log_frame (const char *dir, const frame_t *frame)
{
    if (!log_enabled (MEGLE_LOG_DEBUG))
        return;
    char json[512];
    frame_to_json (frame, json, sizeof json, 64);
    log_debug ("%s %s", dir, json);
}

static void
s_route_destroy (void **item_p)
{
    route_t *route = (route_t *) *item_p;
    if (route) {
        zlistx_destroy (&route->held);
        free (route);
        *item_p = NULL;
    }
}

static void
s_held_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  The route of gateway gw, created on first use; NULL if out of memory.
static route_t *
s_route (publisher_t *self, const char *gw)
{
    route_t *route = (route_t *) zhashx_lookup (self->routes, gw);
    if (route)
        return route;
    route = (route_t *) calloc (1, sizeof *route);
    if (!route || !(route->held = zlistx_new ())) {
        free (route);
        return NULL;
    }
    zlistx_set_destructor (route->held, s_held_destroy);
    zhashx_insert (self->routes, gw, route);
    return route;
}

//  Send one encoded frame to topic gw + 0x00. Never blocks.
static void
s_send (publisher_t *self, const char *gw, const uint8_t *data, size_t size)
{
    char topic[FRAME_ID_MAX + 2];
    size_t len = strlen (gw);
    memcpy (topic, gw, len);
    topic[len] = 0;
    void *socket = zsock_resolve (self->pub);
    if (zmq_send (socket, topic, len + 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1
        || zmq_send (socket, data, size, ZMQ_DONTWAIT) == -1) {
        self->drops++;
        char dropped[24];
        snprintf (dropped, sizeof dropped, "%" PRIu64, self->drops);
        ratelog_event (&self->limit, "bus_drop", "bus_out refused a frame",
                       "gateway", gw, "error", zmq_strerror (zmq_errno ()),
                       "dropped", dropped, NULL);
    } else
        tap_frame (self->tap, TAP_OUT, data, size);
}

static void s_read_subscriptions (publisher_t *self);

//  Hold a frame for gw until it subscribes (or the hold time passes).
static void
s_hold (publisher_t *self, const char *gw, const uint8_t *data, size_t size)
{
    route_t *route = s_route (self, gw);
    held_t *held = (held_t *) malloc (sizeof *held + size);
    if (!route || !held) {
        free (held);
        self->expired++;
        log_error ("out of memory holding a frame for %s", gw);
        return;
    }
    if (zlistx_size (route->held) >= HOLD_MAX) {
        zlistx_first (route->held);
        zlistx_delete (route->held, zlistx_cursor (route->held));
        self->expired++;
    }
    held->since_ms = clock_mono_ms ();
    held->size = size;
    memcpy (held->data, data, size);
    zlistx_add_end (route->held, held);
}

//  Publish one frame: now if its gateway listens (or it is for all
//  gateways), else held until the gateway subscribes.
static void
s_publish (publisher_t *self, const frame_t *frame)
{
    size_t size = 0;
    size_t need = frame_encode_bound (frame);
    if (need > self->buf_cap) {
        size_t cap = self->buf_cap ? self->buf_cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *buf = (uint8_t *) realloc (self->buf, cap);
        if (!buf) {
            log_error ("out of memory encoding a %s frame",
                       frame_kind_name (frame->kind));
            return;
        }
        self->buf = buf;
        self->buf_cap = cap;
    }
    if (frame_encode_to (frame, self->buf, self->buf_cap, &size) != 0) {
        log_error ("cannot encode a %s frame", frame_kind_name (frame->kind));
        return;
    }
    const uint8_t *data = self->buf;
    s_log_frame ("out", frame);
    self->out[frame->kind < PUBLISHER_KINDS ? frame->kind : 0]++;
    if (frame->kind == FRAME_MATCHED && (frame->flags & FRAME_F_INITIATOR))
        self->matches++; //  one per match: its initiator's side
    int all = frame->gateway[0] == '*' && frame->gateway[1] == 0;
    route_t *route = (route_t *) zhashx_lookup (self->routes, frame->gateway);
    if (!all && !(route && route->subscribers > 0)) {
        //  A send may have taken the socket's wake-up for a subscription
        //  (s_on_subscription): read what is there before holding.
        s_read_subscriptions (self);
        route = (route_t *) zhashx_lookup (self->routes, frame->gateway);
    }
    if (all || (route && route->subscribers > 0))
        s_send (self, frame->gateway, data, size);
    else
        s_hold (self, frame->gateway, data, size);
}

//  Read every subscription message waiting on the XPUB: 0x01 (subscribe)
//  or 0x00 (unsubscribe), then the topic. Gateway topics are "<gw>\0";
//  anything else (a tap's empty subscription, "*\0") routes nothing.
static void
s_read_subscriptions (publisher_t *self)
{
    void *socket = zsock_resolve (self->pub);
    while (1) {
        uint8_t buf[FRAME_ID_MAX + 3];
        int n = zmq_recv (socket, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n < 0)
            break;
        if (n < 3 || n > (int) sizeof buf || buf[n - 1] != 0
            || (buf[0] != 0 && buf[0] != 1))
            continue;
        const char *gw = (const char *) buf + 1;
        if (strlen (gw) != (size_t) n - 2 || !gateways_id_valid (gw))
            continue;
        route_t *route = s_route (self, gw);
        if (!route)
            continue;
        route->subscribers += buf[0] ? 1 : -1;
        if (route->subscribers < 0)
            route->subscribers = 0;
        log_debug ("gateway %s %s (%d subscribers)", gw,
                   buf[0] ? "subscribed" : "unsubscribed", route->subscribers);
        if (route->subscribers > 0 && zlistx_size (route->held) > 0) {
            log_info ("gateway %s subscribed: sending %zu held frames", gw,
                      zlistx_size (route->held));
            for (held_t *held = (held_t *) zlistx_first (route->held); held;
                 held = (held_t *) zlistx_next (route->held))
                s_send (self, gw, held->data, held->size);
            zlistx_purge (route->held);
        }
    }
}

//  The loop polls the XPUB's ZMQ_FD as a plain descriptor, not the socket
//  (zmq_poll would ask ZMQ_EVENTS, two system calls, before and after
//  every wait). It fires when the socket has commands to process; reading
//  until EAGAIN processes them. A send can process them too (ZeroMQ does
//  every ~1 ms while sending) and so take a wake-up that announced a
//  subscription: s_publish reads subscriptions before holding a frame, and
//  publisher_expire reads them on every heartbeat.
static int
s_on_subscription (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    s_read_subscriptions ((publisher_t *) arg);
    return 0;
}

void
publisher_expire (publisher_t *self)
{
    assert (self);
    s_read_subscriptions (self);
    uint64_t now = clock_mono_ms ();
    zlistx_t *idle = zlistx_new ();
    for (route_t *route = (route_t *) zhashx_first (self->routes); route;
         route = (route_t *) zhashx_next (self->routes)) {
        size_t dropped = 0;
        held_t *held = (held_t *) zlistx_first (route->held);
        while (held && now - held->since_ms > (uint64_t) self->hold_ms) {
            zlistx_delete (route->held, zlistx_cursor (route->held));
            dropped++;
            held = (held_t *) zlistx_first (route->held);
        }
        const char *gw = (const char *) zhashx_cursor (self->routes);
        if (dropped) {
            self->expired += dropped;
            log_warn ("gateway %s never subscribed: dropped %zu held frames "
                      "(%" PRIu64 " so far)",
                      gw, dropped, self->expired);
        }
        if (idle && route->subscribers == 0 && zlistx_size (route->held) == 0)
            zlistx_add_end (idle, (void *) gw);
    }
    //  Forget routes that hold nothing for nobody (dead gateways).
    if (idle) {
        for (const char *gw = (const char *) zlistx_first (idle); gw;
             gw = (const char *) zlistx_next (idle))
            zhashx_delete (self->routes, gw);
        zlistx_destroy (&idle);
    }
}

void
publisher_emit (publisher_t *self, int kind, const char *gw,
                const char *session, const char *peer, const char *match,
                uint32_t flags, const char *type, const void *payload,
                size_t payload_len)
{
    publisher_emit_at (self, kind, gw, session, peer, match, flags, type,
                       payload, payload_len, 0);
}

//  Copy the C string src into a frame's field of dst_size bytes; -1 if it
//  does not fit. (frame_set_str also looks for a NUL inside: none can be
//  in a C string's strlen.)
static int
s_field_set (char *dst, size_t dst_size, const char *src)
{
    size_t len = strlen (src);
    if (len >= dst_size)
        return -1;
    memcpy (dst, src, len + 1);
    return 0;
}

//  Build and publish one outbound frame.
void
publisher_emit_at (publisher_t *self, int kind, const char *gw,
                   const char *session, const char *peer, const char *match,
                   uint32_t flags, const char *type, const void *payload,
                   size_t payload_len, uint64_t time_ms)
{
    if (strcmp (gw, "*") && !gateways_id_valid (gw)) {
        log_error ("not sending a %s frame to bad gateway id '%.64s'",
                   frame_kind_name (kind), gw);
        return;
    }
    //  On the stack, the payload borrowed: encoding copies it, so building
    //  a frame allocates nothing (never frame_destroy this one).
    frame_t frame;
    memset (&frame, 0, sizeof frame);
    frame.version = FRAME_VERSION;
    frame.kind = (uint8_t) kind;
    frame.flags = flags;
    frame.time_ms = time_ms ? time_ms : clock_wall_ms ();
    frame.payload = (uint8_t *) payload;
    frame.payload_len = payload_len;
    if (s_field_set (frame.gateway, sizeof frame.gateway, gw)
        || s_field_set (frame.session, sizeof frame.session, session)
        || s_field_set (frame.peer, sizeof frame.peer, peer)
        || s_field_set (frame.match, sizeof frame.match, match)
        || s_field_set (frame.type, sizeof frame.type, type)
        || payload_len > FRAME_PAYLOAD_MAX || (payload_len && !payload))
        log_error ("cannot build a %s frame for %s: field too long",
                   frame_kind_name (kind), gw);
    else
        s_publish (self, &frame);
}

void
publisher_error (publisher_t *self, const char *gw, const char *session,
                 const char *code)
{
    const char *text = s_error_text (code);
    publisher_emit (self, FRAME_ERROR, gw, session, "", "", 0, code, text,
                    strlen (text));
}

publisher_t *
publisher_new (const char *endpoint, int hwm, int hold_ms, zloop_t *loop,
               zap_t *zap)
{
    assert (endpoint);
    assert (loop);
    publisher_t *self = (publisher_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->hold_ms = hold_ms;
    self->routes = zhashx_new ();
    self->pub = zsock_new (ZMQ_XPUB);
    if (!self->routes || !self->pub) {
        log_error ("cannot create the bus_out socket");
        publisher_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->routes, s_route_destroy);
    zsock_set_sndhwm (self->pub, hwm);
    zsock_set_xpub_verboser (self->pub, 1);
    if (zap_apply (zap, self->pub)) {
        log_error ("cannot make bus_out a CURVE server");
        publisher_destroy (&self);
        return NULL;
    }
    if (zsock_bind (self->pub, "%s", endpoint) == -1) {
        log_error ("cannot bind bus_out %s: %s", endpoint,
                   zmq_strerror (zmq_errno ()));
        publisher_destroy (&self);
        return NULL;
    }
    self->pub_fd.fd = zsock_fd (self->pub);
    self->pub_fd.events = ZMQ_POLLIN;
    if (zloop_poller (loop, &self->pub_fd, s_on_subscription, self) != 0) {
        log_error ("cannot watch bus_out subscriptions");
        publisher_destroy (&self);
        return NULL;
    }
    self->polled = 1;
    return self;
}

void
publisher_destroy (publisher_t **self_p)
{
    assert (self_p);
    publisher_t *self = *self_p;
    if (!self)
        return;
    if (self->polled)
        zloop_poller_end (self->loop, &self->pub_fd);
    zsock_destroy (&self->pub);
    zhashx_destroy (&self->routes);
    free (self->buf);
    free (self);
    *self_p = NULL;
}

void
publisher_set_tap (publisher_t *self, tap_t *tap)
{
    assert (self);
    self->tap = tap;
}

uint64_t
publisher_drops (publisher_t *self)
{
    assert (self);
    return self->drops;
}

uint64_t
publisher_expired (publisher_t *self)
{
    assert (self);
    return self->expired;
}

uint64_t
publisher_frames_out (publisher_t *self, int kind)
{
    assert (self);
    return kind > 0 && kind < PUBLISHER_KINDS ? self->out[kind] : 0;
}

uint64_t
publisher_matches (publisher_t *self)
{
    assert (self);
    return self->matches;
}
