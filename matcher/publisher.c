//  publisher - bus_out PUB socket and frame building (see publisher.h).

#include "publisher.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>

#include "common/log.h"
#include "proto/frame.h"
#include "gateways.h"
#include "ratelog.h"
#include "tap.h"

struct _publisher_t {
    zsock_t *pub;
    tap_t *tap;      //  borrowed; NULL = no tap
    uint64_t drops;  //  frames the socket refused
    ratelog_t limit; //  their warnings
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

//  Publish one frame to topic `gw` + 0x00. Never blocks.
static void
s_publish (publisher_t *self, const frame_t *frame)
{
    uint8_t *data = NULL;
    size_t size = 0;
    if (frame_encode (frame, &data, &size) != 0) {
        log_error ("cannot encode a %s frame", frame_kind_name (frame->kind));
        return;
    }
    s_log_frame ("out", frame);
    char topic[FRAME_ID_MAX + 2];
    size_t len = strlen (frame->gateway);
    memcpy (topic, frame->gateway, len);
    topic[len] = 0;
    void *socket = zsock_resolve (self->pub);
    if (zmq_send (socket, topic, len + 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1
        || zmq_send (socket, data, size, ZMQ_DONTWAIT) == -1) {
        self->drops++;
        ratelog_warn (&self->limit,
                      "bus_out refused a %s frame for %s: %s (%" PRIu64
                      " dropped so far)",
                      frame_kind_name (frame->kind), frame->gateway,
                      zmq_strerror (zmq_errno ()), self->drops);
    } else
        tap_frame (self->tap, TAP_OUT, data, size);
    free (data);
}

//  Build and publish one outbound frame.
void
publisher_emit (publisher_t *self, int kind, const char *gw,
                const char *session, const char *peer, const char *match,
                uint32_t flags, const char *type, const void *payload,
                size_t payload_len)
{
    if (strcmp (gw, "*") && !gateways_id_valid (gw)) {
        log_error ("not sending a %s frame to bad gateway id '%.64s'",
                   frame_kind_name (kind), gw);
        return;
    }
    frame_t *frame = frame_new ((frame_kind_t) kind);
    if (!frame) {
        log_error ("out of memory building a %s frame", frame_kind_name (kind));
        return;
    }
    frame->flags = flags;
    if (frame_set_str (frame->gateway, sizeof frame->gateway, gw, strlen (gw))
        || frame_set_str (frame->session, sizeof frame->session, session,
                          strlen (session))
        || frame_set_str (frame->peer, sizeof frame->peer, peer, strlen (peer))
        || frame_set_str (frame->match, sizeof frame->match, match,
                          strlen (match))
        || frame_set_str (frame->type, sizeof frame->type, type, strlen (type))
        || (payload_len && frame_set_payload (frame, payload, payload_len)))
        log_error ("cannot build a %s frame for %s: field too long",
                   frame_kind_name (kind), gw);
    else
        s_publish (self, frame);
    frame_destroy (&frame);
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
publisher_new (const char *endpoint, int hwm)
{
    assert (endpoint);
    publisher_t *self = (publisher_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->pub = zsock_new (ZMQ_PUB);
    if (!self->pub) {
        log_error ("cannot create the bus_out socket");
        free (self);
        return NULL;
    }
    zsock_set_sndhwm (self->pub, hwm);
    if (zsock_bind (self->pub, "%s", endpoint) == -1) {
        log_error ("cannot bind bus_out %s: %s", endpoint,
                   zmq_strerror (zmq_errno ()));
        publisher_destroy (&self);
        return NULL;
    }
    return self;
}

void
publisher_destroy (publisher_t **self_p)
{
    assert (self_p);
    publisher_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->pub);
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
