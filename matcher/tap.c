//  tap - the matcher's tap socket (see tap.h).

#include "tap.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "ratelog.h"
#include "zap.h"

#define TAP_HWM 10000 //  frames queued per subscriber before drops

struct _tap_t {
    zsock_t *xpub;
    zloop_t *loop;
    long subs[2];    //  live subscriptions that match "in" / "out"
    uint64_t drops;  //  frames a full subscriber refused
    ratelog_t limit; //  their warnings
};

static const char *const s_dir_name[2] = {"in", "out"};

//  Does a subscription to topic (len bytes) receive messages whose first
//  part is name? ZeroMQ subscriptions are prefix matches.
static int
s_topic_matches (const uint8_t *topic, size_t len, const char *name)
{
    return len <= strlen (name) && memcmp (topic, name, len) == 0;
}

//  Read every (un)subscription waiting on the XPUB and update the counts.
static int
s_on_subscription (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    tap_t *self = (tap_t *) arg;
    void *socket = zsock_resolve (reader);
    while (1) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, socket, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&msg);
            break;
        }
        const uint8_t *data = (const uint8_t *) zmq_msg_data (&msg);
        size_t size = zmq_msg_size (&msg);
        if (size >= 1 && (data[0] == 0 || data[0] == 1)) {
            long delta = data[0] == 1 ? 1 : -1;
            for (int dir = TAP_IN; dir <= TAP_OUT; dir++) {
                if (!s_topic_matches (data + 1, size - 1, s_dir_name[dir]))
                    continue;
                self->subs[dir] += delta;
                if (self->subs[dir] < 0)
                    self->subs[dir] = 0;
            }
            log_info ("tap: %s (%ld in, %ld out)",
                      delta > 0 ? "subscriber attached" : "subscriber left",
                      self->subs[TAP_IN], self->subs[TAP_OUT]);
        }
        zmq_msg_close (&msg);
    }
    return 0;
}

tap_t *
tap_new (const char *endpoint, zloop_t *loop, zap_t *zap)
{
    assert (endpoint);
    assert (loop);
    tap_t *self = (tap_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->xpub = zsock_new (ZMQ_XPUB);
    if (!self->xpub) {
        log_error ("cannot create the tap socket");
        free (self);
        return NULL;
    }
    void *socket = zsock_resolve (self->xpub);
    int one = 1, hwm = TAP_HWM;
    if (zmq_setsockopt (socket, ZMQ_XPUB_VERBOSER, &one, sizeof one)
        || zmq_setsockopt (socket, ZMQ_XPUB_NODROP, &one, sizeof one)
        || zmq_setsockopt (socket, ZMQ_SNDHWM, &hwm, sizeof hwm)
        || zap_apply (zap, self->xpub)) {
        log_error ("cannot set up the tap socket: %s",
                   zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->xpub);
        free (self);
        return NULL;
    }
    if (zsock_bind (self->xpub, "%s", endpoint) == -1) {
        log_error ("cannot bind tap %s: %s", endpoint,
                   zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->xpub);
        free (self);
        return NULL;
    }
    if (zloop_reader (loop, self->xpub, s_on_subscription, self) != 0) {
        log_error ("cannot add the tap socket to the loop");
        zsock_destroy (&self->xpub);
        free (self);
        return NULL;
    }
    log_info ("tap listening on %s", endpoint);
    return self;
}

void
tap_destroy (tap_t **self_p)
{
    assert (self_p);
    tap_t *self = *self_p;
    if (!self)
        return;
    if (self->drops)
        log_info ("tap totals: %" PRIu64 " frames dropped", self->drops);
    zloop_reader_end (self->loop, self->xpub);
    zsock_destroy (&self->xpub);
    free (self);
    *self_p = NULL;
}

void
tap_frame (tap_t *self, tap_dir_t dir, const void *data, size_t size)
{
    if (!self || self->subs[dir] == 0)
        return;
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    uint64_t us =
        (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
    uint8_t stamp[8];
    for (int i = 7; i >= 0; i--, us >>= 8)
        stamp[i] = (uint8_t) (us & 0xff);
    const char *name = s_dir_name[dir];
    void *socket = zsock_resolve (self->xpub);
    //  With XPUB_NODROP a full subscriber refuses the first part (EAGAIN);
    //  once it is accepted, the others are too (the high-water mark counts
    //  whole messages), so a message is never left half sent.
    if (zmq_send (socket, name, strlen (name), ZMQ_SNDMORE | ZMQ_DONTWAIT)
        == -1) {
        self->drops++;
        char dropped[24];
        snprintf (dropped, sizeof dropped, "%" PRIu64, self->drops);
        ratelog_event (&self->limit, "tap_drop",
                       "tap: a subscriber is full, dropped a frame", "dropped",
                       dropped, NULL);
        return;
    }
    zmq_send (socket, stamp, sizeof stamp, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (socket, data, size, ZMQ_DONTWAIT);
}

uint64_t
tap_drops (const tap_t *self)
{
    return self ? self->drops : 0;
}
