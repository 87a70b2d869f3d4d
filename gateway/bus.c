//  bus - the gateway's two ZeroMQ sockets, joined to the lws event loop.
//
//  Draining is capped per call so a flood from the matcher cannot starve
//  the WebSockets; when the cap is hit a zero-delay lws timer continues
//  the drain on the next loop turn (the edge was consumed, so the fd alone
//  would not wake us again).

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

#define BUS_DRAIN_BATCH   1000 //  messages per drain before yielding
#define BUS_PUSH_LINGER   200  //  ms a last BYE may take to leave
#define BUS_WARN_INTERVAL 1000 //  ms between two bad-frame warnings

struct _bus_t {
    void *ctx; //  libzmq context of its own
    void *push;
    void *sub;
    bus_handler_fn *handler;
    void *arg;
    struct lws *wsi;            //  the adopted dup of ZMQ_FD, or NULL
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

bus_t *
bus_new (const config_t *config, bus_handler_fn *handler, void *arg)
{
    assert (config);
    assert (handler);
    bus_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->handler = handler;
    self->arg = arg;
    //  Plain libzmq: two sockets and a raw fd for the lws loop are all the
    //  gateway needs, and czmq's own signal handling and zsys context
    //  would only get in the way of libwebsockets' loop.
    self->ctx = zmq_ctx_new ();
    if (self->ctx) {
        self->push = zmq_socket (self->ctx, ZMQ_PUSH);
        self->sub = zmq_socket (self->ctx, ZMQ_SUB);
    }
    if (!self->push || !self->sub
        || s_set_int (self->push, ZMQ_SNDHWM, config->bus_hwm)
        || s_set_int (self->push, ZMQ_LINGER, BUS_PUSH_LINGER)
        || s_set_int (self->sub, ZMQ_RCVHWM, config->bus_hwm)
        || s_set_int (self->sub, ZMQ_LINGER, 0)) {
        log_error ("bus: cannot create ZeroMQ sockets: %s",
                   zmq_strerror (errno));
        bus_destroy (&self);
        return NULL;
    }
    //  CURVE (MEGLE_CURVE=1): both sockets are clients of the matcher.
    curve_client_t keys;
    char why[256] = "";
    int curve = curve_client_load (config, &keys, why, sizeof why);
    if (curve < 0
        || (curve == 0
            && (curve_client_apply (&keys, self->push)
                || curve_client_apply (&keys, self->sub)))) {
        log_error ("bus: %s", why[0] ? why : zmq_strerror (errno));
        curve_client_clear (&keys);
        bus_destroy (&self);
        return NULL;
    }
    curve_client_clear (&keys);
    //  Topics end with one NUL byte so "gw-1" never matches "gw-10".
    char topic[CONFIG_STR_MAX + 1];
    size_t id_len = strlen (config->gateway_id);
    memcpy (topic, config->gateway_id, id_len);
    topic[id_len] = '\0';
    if (zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, topic, id_len + 1)
        || zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, "*", 2)) {
        log_error ("bus: cannot subscribe: %s", zmq_strerror (errno));
        bus_destroy (&self);
        return NULL;
    }
    if (zmq_connect (self->push, config->bus_in)) {
        log_error ("bus: cannot connect to %s: %s", config->bus_in,
                   zmq_strerror (errno));
        bus_destroy (&self);
        return NULL;
    }
    if (zmq_connect (self->sub, config->bus_out)) {
        log_error ("bus: cannot connect to %s: %s", config->bus_out,
                   zmq_strerror (errno));
        bus_destroy (&self);
        return NULL;
    }
    log_ev_info ("bus_connecting", "push", config->bus_in, "sub",
                 config->bus_out, "curve", config->curve ? "on" : "off", NULL);
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
    if (self->wsi)
        lws_set_opaque_user_data (self->wsi, NULL);
    if (self->push)
        zmq_close (self->push);
    if (self->sub)
        zmq_close (self->sub);
    //  Waits up to BUS_PUSH_LINGER ms for frames still queued (the BYE).
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    free (self);
    *self_p = NULL;
}

//  True if the SUB socket has a message waiting. Reading ZMQ_EVENTS also
//  resets the edge of ZMQ_FD.
static bool
s_readable (bus_t *self)
{
    int events = 0;
    size_t size = sizeof events;
    if (zmq_getsockopt (self->sub, ZMQ_EVENTS, &events, &size))
        return false;
    return (events & ZMQ_POLLIN) != 0;
}

int
bus_attach (bus_t *self, struct lws_vhost *vhost, const char *protocol_name)
{
    assert (self);
    assert (vhost);
    lws_sock_file_fd_type fd;
    memset (&fd, 0, sizeof fd);
    int zfd = -1;
    size_t size = sizeof zfd;
    if (zmq_getsockopt (self->sub, ZMQ_FD, &zfd, &size)) {
        log_error ("bus: ZMQ_FD: %s", zmq_strerror (errno));
        return -1;
    }
    fd.filefd = dup (zfd);
    if (fd.filefd < 0) {
        log_error ("bus: dup: %s", strerror (errno));
        return -1;
    }
    self->wsi = lws_adopt_descriptor_vhost (vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                            protocol_name, NULL);
    if (!self->wsi) {
        //  lws closes the descriptor when adoption fails
        log_error ("bus: cannot adopt the SUB descriptor");
        return -1;
    }
    lws_set_opaque_user_data (self->wsi, self);
    //  Messages may have arrived before the adoption: take them now.
    bus_drain (self);
    return 0;
}

int
bus_send (bus_t *self, frame_t **frame_p)
{
    assert (self);
    assert (frame_p);
    frame_t *frame = *frame_p;
    *frame_p = NULL;
    if (!frame)
        return -1;
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = frame_encode (frame, &data, &size);
    frame_destroy (&frame);
    if (rc == 0) {
        rc = zmq_send (self->push, data, size, ZMQ_DONTWAIT) == (int) size ? 0
                                                                           : -1;
        if (rc)
            log_debug ("bus: send failed: %s", zmq_strerror (errno));
    }
    free (data);
    if (rc)
        self->stats.drops++;
    else
        self->stats.frames_out++;
    //  Reading ZMQ_EVENTS during the send may have consumed the SUB
    //  socket's edge: look for waiting messages now.
    bus_drain (self);
    return rc;
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

//  Receive one two-part message and hand its frame to the handler.
static void
s_receive_one (bus_t *self)
{
    void *sub = self->sub;
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
    if (parts == 0) {
        //  EAGAIN: ZMQ_EVENTS said POLLIN but nothing came; harmless.
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
    int count = 0;
    while (s_readable (self)) {
        if (count++ == BUS_DRAIN_BATCH) {
            if (self->wsi && !self->sul_armed) {
                self->sul_armed = true;
                lws_sul_schedule (lws_get_context (self->wsi), 0, &self->sul,
                                  s_drain_later, 1);
            }
            break;
        }
        s_receive_one (self);
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
bus_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len)
{
    bus_t *self = lws_get_opaque_user_data (wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (self)
            bus_drain (self);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (self) {
            if (self->sul_armed) {
                lws_sul_cancel (&self->sul);
                self->sul_armed = false;
            }
            self->wsi = NULL;
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; //  no WebSocket may ever bind to this protocol
    default:
        return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}
