//  bus - the gateway's ZeroMQ sockets to its matchers (see bus.h).
//
//  Draining is capped per SUB socket and call so a flood from a matcher
//  cannot starve the WebSockets; when a cap is hit a zero-delay lws timer
//  continues the drain on the next loop turn (the edge was consumed, so
//  the fd alone would not wake us again). Liveness is checked on every
//  drain (so at least every tick of the gateway) and before each routing
//  decision.

#include "bus.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "clock.h"
#include "curve.h"
#include "log.h"
#include "matchers.h"

#define BUS_DRAIN_BATCH   1000 //  messages per SUB and drain before yielding
#define BUS_PUSH_LINGER   200  //  ms a last BYE may take to leave
#define BUS_WARN_INTERVAL 1000 //  ms between two bad-frame warnings

typedef struct _link_t link_t;

//  One matcher: its two sockets and the adopted dup of its SUB's ZMQ_FD.
struct _link_t {
    bus_t *bus;
    int index;
    char in[CONFIG_STR_MAX];  //  bus_in endpoint (PUSH connects)
    char out[CONFIG_STR_MAX]; //  bus_out endpoint (SUB connects)
    void *push;
    void *sub;
    struct lws *wsi; //  the adopted dup of ZMQ_FD, or NULL
};

struct _bus_t {
    const config_t *config; //  borrowed: the gateway's copy
    void *ctx;              //  libzmq context of its own
    link_t links[CONFIG_LIST_MAX];
    int count;
    matchers_t *matchers; //  liveness and the rendezvous choice
    bus_handler_fn *handler;
    void *arg;
    lws_sorted_usec_list_t sul; //  continues a capped drain
    bool sul_armed;
    bool draining; //  guards against re-entry
    bus_stats_t stats;
    uint64_t bad_warned;  //  stats.bad at the last warning
    uint64_t bad_warn_ms; //  when the last warning was logged
};

static int
s_set_int (void *socket, int option, int value)
{
    return zmq_setsockopt (socket, option, &value, sizeof value);
}

//  CURVE (MEGLE_CURVE=1): the gateway is a client of the matcher. Returns
//  0 (also with CURVE off) or -1 (logged).
static int
s_curve (bus_t *self, void *socket)
{
    curve_client_t keys;
    char why[256] = "";
    int curve = curve_client_load (self->config, &keys, why, sizeof why);
    int rc = curve < 0 || (curve == 0 && curve_client_apply (&keys, socket))
                 ? -1
                 : 0;
    curve_client_clear (&keys);
    if (rc)
        log_error ("bus: %s", why[0] ? why : zmq_strerror (errno));
    return rc;
}

//  Make link's PUSH socket and connect it. Returns 0 or -1 (logged).
static int
s_push_open (bus_t *self, link_t *link)
{
    link->push = zmq_socket (self->ctx, ZMQ_PUSH);
    //  Several matchers: IMMEDIATE, so a send with no connected matcher
    //  fails at once (EAGAIN) instead of queueing, and the frame goes to
    //  another matcher. One matcher: there is no other, so frames queue
    //  (up to the high-water mark) until it is back, as they always did.
    if (!link->push || s_set_int (link->push, ZMQ_SNDHWM, self->config->bus_hwm)
        || s_set_int (link->push, ZMQ_LINGER, BUS_PUSH_LINGER)
        || s_set_int (link->push, ZMQ_IMMEDIATE, self->count > 1)) {
        log_error ("bus: cannot create a PUSH socket: %s",
                   zmq_strerror (errno));
        return -1;
    }
    if (s_curve (self, link->push))
        return -1;
    if (zmq_connect (link->push, link->in)) {
        log_error ("bus: cannot connect to %s: %s", link->in,
                   zmq_strerror (errno));
        return -1;
    }
    return 0;
}

static int
s_sub_open (bus_t *self, link_t *link)
{
    link->sub = zmq_socket (self->ctx, ZMQ_SUB);
    if (!link->sub || s_set_int (link->sub, ZMQ_RCVHWM, self->config->bus_hwm)
        || s_set_int (link->sub, ZMQ_LINGER, 0)) {
        log_error ("bus: cannot create a SUB socket: %s", zmq_strerror (errno));
        return -1;
    }
    if (s_curve (self, link->sub))
        return -1;
    //  Topics end with one NUL byte so "gw-1" never matches "gw-10".
    char topic[CONFIG_STR_MAX + 1];
    size_t id_len = strlen (self->config->gateway_id);
    memcpy (topic, self->config->gateway_id, id_len);
    topic[id_len] = '\0';
    if (zmq_setsockopt (link->sub, ZMQ_SUBSCRIBE, topic, id_len + 1)
        || zmq_setsockopt (link->sub, ZMQ_SUBSCRIBE, "*", 2)) {
        log_error ("bus: cannot subscribe: %s", zmq_strerror (errno));
        return -1;
    }
    if (zmq_connect (link->sub, link->out)) {
        log_error ("bus: cannot connect to %s: %s", link->out,
                   zmq_strerror (errno));
        return -1;
    }
    return 0;
}

bus_t *
bus_new (const config_t *config, bus_handler_fn *handler, void *arg)
{
    assert (config);
    assert (handler);
    bus_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = config;
    self->handler = handler;
    self->arg = arg;
    char ins[CONFIG_LIST_MAX][CONFIG_STR_MAX] = {{0}};
    char outs[CONFIG_LIST_MAX][CONFIG_STR_MAX] = {{0}};
    int count = config_list_split (config->bus_in, ins, CONFIG_LIST_MAX);
    if (count < 1
        || config_list_split (config->bus_out, outs, CONFIG_LIST_MAX)
               != count) {
        log_error ("bus: MEGLE_BUS_IN and MEGLE_BUS_OUT must be comma lists "
                   "of equal length");
        free (self);
        return NULL;
    }
    const char *names[CONFIG_LIST_MAX];
    for (int i = 0; i < count; i++)
        names[i] = ins[i];
    self->matchers =
        matchers_new (names, count, (uint64_t) config->matcher_timeout_ms);
    if (!self->matchers) {
        log_error ("bus: cannot track the matchers");
        free (self);
        return NULL;
    }
    //  Plain libzmq: sockets and raw fds for the lws loop are all the
    //  gateway needs, and czmq's own signal handling and zsys context
    //  would only get in the way of libwebsockets' loop.
    self->ctx = zmq_ctx_new ();
    if (!self->ctx) {
        log_error ("bus: cannot create a ZeroMQ context");
        bus_destroy (&self);
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        link_t *link = &self->links[i];
        link->bus = self;
        link->index = i;
        //  Both are NUL-terminated within CONFIG_STR_MAX (config_list_split)
        memcpy (link->in, ins[i], sizeof link->in);
        memcpy (link->out, outs[i], sizeof link->out);
    }
    self->count = count; //  before s_push_open, which reads it
    for (int i = 0; i < count; i++) {
        link_t *link = &self->links[i];
        if (s_push_open (self, link) || s_sub_open (self, link)) {
            bus_destroy (&self);
            return NULL;
        }
        log_ev_info ("bus_connecting", "push", link->in, "sub", link->out,
                     "curve", config->curve ? "on" : "off", NULL);
    }
    return self;
}

void
bus_destroy (bus_t **self_p)
{
    assert (self_p);
    bus_t *self = *self_p;
    if (!self)
        return;
    if (self->sul_armed)
        lws_sul_cancel (&self->sul);
    for (int i = 0; i < self->count; i++) {
        link_t *link = &self->links[i];
        if (link->wsi)
            lws_set_opaque_user_data (link->wsi, NULL);
        if (link->push)
            zmq_close (link->push);
        if (link->sub)
            zmq_close (link->sub);
    }
    //  Waits up to BUS_PUSH_LINGER ms for frames still queued (the BYE).
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    matchers_destroy (&self->matchers);
    free (self);
    *self_p = NULL;
}

//  True if the SUB socket has a message waiting. Reading ZMQ_EVENTS also
//  resets the edge of ZMQ_FD.
static bool
s_readable (link_t *link)
{
    int events = 0;
    size_t size = sizeof events;
    if (zmq_getsockopt (link->sub, ZMQ_EVENTS, &events, &size))
        return false;
    return (events & ZMQ_POLLIN) != 0;
}

int
bus_attach (bus_t *self, struct lws_vhost *vhost, const char *protocol_name)
{
    assert (self);
    assert (vhost);
    for (int i = 0; i < self->count; i++) {
        link_t *link = &self->links[i];
        lws_sock_file_fd_type fd;
        memset (&fd, 0, sizeof fd);
        int zfd = -1;
        size_t size = sizeof zfd;
        if (zmq_getsockopt (link->sub, ZMQ_FD, &zfd, &size)) {
            log_error ("bus: ZMQ_FD: %s", zmq_strerror (errno));
            return -1;
        }
        fd.filefd = dup (zfd);
        if (fd.filefd < 0) {
            log_error ("bus: dup: %s", strerror (errno));
            return -1;
        }
        link->wsi = lws_adopt_descriptor_vhost (vhost, LWS_ADOPT_RAW_FILE_DESC,
                                                fd, protocol_name, NULL);
        if (!link->wsi) {
            //  lws closes the descriptor when adoption fails
            log_error ("bus: cannot adopt the SUB descriptor");
            return -1;
        }
        lws_set_opaque_user_data (link->wsi, link);
    }
    //  Messages may have arrived before the adoption: take them now.
    bus_drain (self);
    return 0;
}

//  Matchers silent too long: dead. Drop what their PUSH socket still
//  holds (close with linger 0, make a new one), so that a hung matcher
//  that wakes up does not act on frames long after their sessions moved.
static void
s_expire (bus_t *self)
{
    uint64_t now = clock_mono_ms ();
    uint32_t dead = matchers_expire (self->matchers, now);
    for (int i = 0; dead && i < self->count; i++) {
        if (!(dead & (1u << i)))
            continue;
        link_t *link = &self->links[i];
        char timeout[16];
        snprintf (timeout, sizeof timeout, "%d",
                  self->config->matcher_timeout_ms);
        log_ev_warn ("matcher_dead", "matcher", link->in, "silent_ms", timeout,
                     NULL);
        //  The only matcher: keep what is queued for its return (there is
        //  nowhere else to send it).
        if (self->count == 1)
            continue;
        s_set_int (link->push, ZMQ_LINGER, 0);
        zmq_close (link->push);
        link->push = NULL;
        if (s_push_open (self, link) && link->push) {
            zmq_close (link->push);
            link->push = NULL;
        }
    }
}

//  Send data on link's PUSH socket without blocking. Returns 0 or -1.
static int
s_link_send (link_t *link, const uint8_t *data, size_t size)
{
    if (!link->push)
        return -1;
    if (zmq_send (link->push, data, size, ZMQ_DONTWAIT) == (int) size)
        return 0;
    log_debug ("bus: send to %s failed: %s", link->in, zmq_strerror (errno));
    return -1;
}

//  data to the session's matcher (see bus_send_session).
static int
s_send_session (bus_t *self, int *pin_p, const char *sid, const uint8_t *data,
                size_t size)
{
    int pin = *pin_p;
    uint32_t tried = 0;
    if (pin >= 0 && pin < self->count
        && matchers_candidate (self->matchers, pin)) {
        if (s_link_send (&self->links[pin], data, size) == 0)
            return 0;
        tried |= 1u << pin;
    }
    for (;;) {
        int next = matchers_pick (self->matchers, sid, tried);
        if (next < 0)
            return -1;
        if (s_link_send (&self->links[next], data, size) == 0) {
            if (pin >= 0 && pin != next) {
                self->stats.rerouted++;
                log_debug ("bus: session %s moved from %s to %s", sid,
                           self->links[pin < self->count ? pin : 0].in,
                           self->links[next].in);
            }
            *pin_p = next;
            return 0;
        }
        tried |= 1u << next;
    }
}

//  Encode *frame_p (taking it) and send it to its session's matcher, or to
//  every matcher if pin_p is NULL.
static int
s_send (bus_t *self, int *pin_p, const char *sid, frame_t **frame_p)
{
    frame_t *frame = *frame_p;
    *frame_p = NULL;
    if (!frame)
        return -1;
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = frame_encode (frame, &data, &size);
    if (rc == 0) {
        s_expire (self);
        if (pin_p)
            rc = s_send_session (self, pin_p, sid, data, size);
        else {
            int sent = 0;
            for (int i = 0; i < self->count; i++)
                if (s_link_send (&self->links[i], data, size) == 0)
                    sent++;
            rc = sent ? 0 : -1;
        }
    }
    frame_destroy (&frame);
    free (data);
    if (rc)
        self->stats.drops++;
    else
        self->stats.frames_out++;
    //  No drain of the SUB sockets here: a send on a PUSH socket processes
    //  only that socket's commands, never a SUB's, so it cannot consume
    //  the edge of a SUB's ZMQ_FD. (A drain after every send cost one
    //  poll () and one getpid () in libzmq per client message.)
    return rc;
}

int
bus_send (bus_t *self, frame_t **frame_p)
{
    assert (self);
    assert (frame_p);
    frame_t *frame = *frame_p;
    if (frame && frame->session[0]) {
        char sid[FRAME_ID_MAX + 1];
        snprintf (sid, sizeof sid, "%s", frame->session);
        int pin = -1;
        return s_send (self, &pin, sid, frame_p);
    }
    return s_send (self, NULL, NULL, frame_p);
}

int
bus_send_session (bus_t *self, int *pin_p, const char *sid, frame_t **frame_p)
{
    assert (self);
    assert (pin_p);
    assert (sid);
    assert (frame_p);
    return s_send (self, pin_p, sid, frame_p);
}

static void
s_bad (bus_t *self, const char *why)
{
    self->stats.bad++;
    uint64_t now = clock_mono_ms ();
    if (self->bad_warn_ms == 0
        || now - self->bad_warn_ms >= BUS_WARN_INTERVAL) {
        char since[24], total[24];
        snprintf (since, sizeof since, "%" PRIu64,
                  self->stats.bad - self->bad_warned);
        snprintf (total, sizeof total, "%" PRIu64, self->stats.bad);
        log_ev_warn ("bus_bad_dropped", "why", why, "since_last_warning", since,
                     "total", total, NULL);
        self->bad_warn_ms = now;
        self->bad_warned = self->stats.bad;
    }
}

//  Receive one two-part message from link and hand its frame to the
//  handler. Returns false if there was none (EAGAIN).
static bool
s_receive_one (bus_t *self, link_t *link)
{
    void *sub = link->sub;
    zmq_msg_t topic, body;
    zmq_msg_init (&topic);
    zmq_msg_init (&body);
    int parts = 0;
    if (zmq_msg_recv (&topic, sub, ZMQ_DONTWAIT) >= 0) {
        parts = 1;
        if (zmq_msg_more (&topic) && zmq_msg_recv (&body, sub, 0) >= 0) {
            parts = 2;
            //  Swallow extra parts (a message's parts arrive together, so
            //  this never blocks) so that the next message starts clean.
            bool more = zmq_msg_more (&body);
            while (more) {
                zmq_msg_t extra;
                zmq_msg_init (&extra);
                more =
                    zmq_msg_recv (&extra, sub, 0) >= 0 && zmq_msg_more (&extra);
                zmq_msg_close (&extra);
                parts++;
            }
        }
    }
    if (parts > 0
        && matchers_heard (self->matchers, link->index, clock_mono_ms ()))
        log_ev_info ("matcher_up", "matcher", link->in, NULL);
    if (parts == 0) {
        //  EAGAIN: nothing waiting (bus_drain's stop).
    } else if (parts != 2)
        s_bad (self, parts == 1 ? "one part" : "more than two parts");
    else {
        char err[128] = "";
        frame_t *frame = frame_decode (zmq_msg_data (&body),
                                       zmq_msg_size (&body), err, sizeof err);
        if (!frame)
            s_bad (self, err[0] ? err : "undecodable frame");
        else {
            self->stats.frames_in++;
            self->handler (self->arg, &frame);
            frame_destroy (&frame);
        }
    }
    zmq_msg_close (&topic);
    zmq_msg_close (&body);
    return parts > 0;
}

static void
s_drain_later (lws_sorted_usec_list_t *sul)
{
    bus_t *self = lws_container_of (sul, bus_t, sul);
    self->sul_armed = false;
    bus_drain (self);
}

void
bus_drain (bus_t *self)
{
    assert (self);
    if (self->draining)
        return;
    self->draining = true;
    s_expire (self);
    bool more = false;
    for (int i = 0; i < self->count; i++) {
        link_t *link = &self->links[i];
        //  Read until EAGAIN, not while ZMQ_EVENTS says POLLIN: a
        //  non-blocking receive that finds nothing processes the socket's
        //  commands as reading ZMQ_EVENTS does (so ZMQ_FD's edge is reset
        //  all the same), and a busy socket costs one call per message
        //  instead of two.
        int count = 0;
        while (s_receive_one (self, link))
            if (++count == BUS_DRAIN_BATCH) {
                more = s_readable (link);
                break;
            }
    }
    if (more && !self->sul_armed) {
        struct lws *wsi = NULL;
        for (int i = 0; i < self->count && !wsi; i++)
            wsi = self->links[i].wsi;
        if (wsi) {
            self->sul_armed = true;
            lws_sul_schedule (lws_get_context (wsi), 0, &self->sul,
                              s_drain_later, 1);
        }
    }
    self->draining = false;
}

const bus_stats_t *
bus_stats (bus_t *self)
{
    assert (self);
    return &self->stats;
}

int
bus_matchers (bus_t *self)
{
    assert (self);
    return self->count;
}

int
bus_matchers_live (bus_t *self)
{
    assert (self);
    s_expire (self);
    return matchers_live_count (self->matchers);
}

const char *
bus_matcher_name (bus_t *self, int i)
{
    assert (self);
    return i >= 0 && i < self->count ? self->links[i].in : "";
}

bool
bus_matcher_live (bus_t *self, int i)
{
    assert (self);
    s_expire (self);
    return matchers_live (self->matchers, i);
}

int
bus_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len)
{
    link_t *link = lws_get_opaque_user_data (wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (link)
            bus_drain (link->bus);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (link) {
            bus_t *self = link->bus;
            link->wsi = NULL;
            bool any = false;
            for (int i = 0; i < self->count; i++)
                any = any || self->links[i].wsi;
            if (!any && self->sul_armed) {
                lws_sul_cancel (&self->sul);
                self->sul_armed = false;
            }
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; //  no WebSocket may ever bind to this protocol
    default:
        return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}
