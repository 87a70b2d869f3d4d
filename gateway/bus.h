//  bus - the gateway's two ZeroMQ sockets, joined to the lws event loop.
//
//  PUSH (connect bus_in) carries this gateway's frames to the matcher, one
//  part each. SUB (connect bus_out) receives the matcher's PUB messages,
//  two parts each: topic ("<gateway id>\0" or "*\0") and frame. The SUB
//  socket's ZMQ_FD joins the lws loop as an adopted raw file (a dup(), as
//  lws closes what it adopts and libzmq forbids closing ZMQ_FD). ZMQ_FD is
//  edge-triggered, so the bus drains on every wake-up, after every send
//  (a send can consume the edge) and from the caller's periodic timer.

#ifndef MEGLE_BUS_H
#define MEGLE_BUS_H

#include <stdint.h>

#include <libwebsockets.h>

#include "config.h"
#include "frame.h"

typedef struct _bus_t bus_t;

//  Called for every well-formed inbound frame. Takes ownership of
//  *frame_p (destroy it or keep it; nulling is up to the handler).
typedef void (bus_handler_fn) (void *arg, frame_t **frame_p);

typedef struct {
    uint64_t frames_in;  //  well-formed frames received
    uint64_t frames_out; //  frames handed to the PUSH socket
    uint64_t drops;      //  frames that could not be sent
    uint64_t bad;        //  received messages that were not valid frames
} bus_stats_t;

//  Create the sockets and connect them to config->bus_in/bus_out,
//  subscribed to config->gateway_id and "*". handler (arg, frame) gets
//  each inbound frame. Returns NULL on failure (reason logged).
bus_t *bus_new (const config_t *config, bus_handler_fn *handler, void *arg);

//  Close the sockets (the PUSH socket lingers briefly so that a last BYE
//  gets out). NULL-safe; nulls *self_p. The adopted descriptor belongs to
//  lws and is closed with its context.
void bus_destroy (bus_t **self_p);

//  Adopt the SUB socket's descriptor into vhost's loop on the protocol
//  named protocol_name, whose callback must be bus_callback. Returns 0 or
//  -1.
int bus_attach (bus_t *self, struct lws_vhost *vhost,
                const char *protocol_name);

//  Encode and send a frame on the PUSH socket without blocking. Takes
//  ownership: *frame_p is NULL after. Returns 0, or -1 if it could not be
//  sent (high-water mark reached, encoding failed): counted as a drop.
int bus_send (bus_t *self, frame_t **frame_p);

//  Receive and dispatch every message waiting on the SUB socket.
void bus_drain (bus_t *self);

//  The counters.
const bus_stats_t *bus_stats (bus_t *self);

//  The lws protocol callback of the adopted SUB descriptor.
int bus_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len);

#endif
