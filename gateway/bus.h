//  bus - the gateway's ZeroMQ sockets to its matchers, joined to the lws
//  event loop.
//
//  The gateway is given one or more matchers (MEGLE_BUS_IN and
//  MEGLE_BUS_OUT, comma lists paired by position). For each, one PUSH
//  (connect bus_in) carries this gateway's frames, one part each, and one
//  SUB (connect bus_out) receives its PUB messages, two parts each: topic
//  ("<gateway id>\0" or "*\0") and frame. A SUB per matcher tells which
//  matcher each frame came from, so the bus knows which are live
//  (matchers.h). Each SUB socket's ZMQ_FD joins the lws loop as an adopted
//  raw file (a dup(), as lws closes what it adopts and libzmq forbids
//  closing ZMQ_FD). ZMQ_FD is edge-triggered, so the bus drains on every
//  wake-up, after every send (a send can consume the edge) and from the
//  caller's periodic timer.
//
//  Routing (docs/scaling.md): frames about a session go to the matcher the
//  session is pinned to, chosen on its first frame by rendezvous hashing
//  over the live matchers, so that its frames stay in order; if that
//  matcher is dead or refuses the frame, the session is re-pinned to the
//  best live one. Frames about no session (HELLO, HEARTBEAT, BYE) go to
//  every matcher. With several matchers, PUSH sockets have ZMQ_IMMEDIATE
//  (nothing queues for a matcher that is not connected), and when a
//  matcher goes from live to dead its PUSH socket is closed (linger 0) and
//  made again, so that frames queued for a hung matcher are dropped rather
//  than delivered late. With one matcher there is no other to turn to:
//  frames queue up to MEGLE_BUS_HWM until it is back.

#ifndef MEGLE_BUS_H
#define MEGLE_BUS_H

#include <stdbool.h>
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
    uint64_t frames_out; //  frames handed to a PUSH socket (a frame for
                         //  every matcher counts once)
    uint64_t drops;      //  frames that could not be sent
    uint64_t bad;        //  received messages that were not valid frames
    uint64_t rerouted;   //  sessions moved to another matcher
} bus_stats_t;

//  Create the sockets and connect them to every matcher of
//  config->bus_in/bus_out (comma lists of equal length, as config_load
//  checked), subscribed to config->gateway_id and "*". handler (arg,
//  frame) gets each inbound frame. config is borrowed and must outlive the
//  bus (a PUSH socket is made again from it when its matcher dies).
//  Returns NULL on failure (reason logged).
bus_t *bus_new (const config_t *config, bus_handler_fn *handler, void *arg);

//  Close the sockets (the PUSH sockets linger briefly so that a last BYE
//  gets out). NULL-safe; nulls *self_p. The adopted descriptors belong to
//  lws and are closed with its context.
void bus_destroy (bus_t **self_p);

//  Adopt every SUB socket's descriptor into vhost's loop on the protocol
//  named protocol_name, whose callback must be bus_callback. Returns 0 or
//  -1.
int bus_attach (bus_t *self, struct lws_vhost *vhost,
                const char *protocol_name);

//  Encode and send a frame without blocking: a frame with a session id
//  goes to that session's best matcher (as bus_send_session with a pin of
//  its own), one without to every matcher. Takes ownership: *frame_p is
//  NULL after. Returns 0 if at least one matcher took it, or -1 (no
//  matcher connected, high-water mark reached, encoding failed): counted
//  as a drop.
int bus_send (bus_t *self, frame_t **frame_p);

//  Send a frame about session sid to the matcher *pin_p (an index, -1 =
//  not pinned yet: the session's pin, session_pin ()). If it is not
//  pinned, or its matcher is dead or refuses the frame, the frame goes to
//  the next best candidate and *pin_p is updated. Takes ownership of
//  *frame_p. Returns 0, or -1 if no matcher took it (a drop).
int bus_send_session (bus_t *self, int *pin_p, const char *sid,
                      frame_t **frame_p);

//  Receive and dispatch every message waiting on the SUB sockets, and
//  notice matchers that went silent.
void bus_drain (bus_t *self);

//  The counters.
const bus_stats_t *bus_stats (bus_t *self);

//  Matchers configured, and how many are live now (heard within
//  MEGLE_MATCHER_TIMEOUT_MS).
int bus_matchers (bus_t *self);
int bus_matchers_live (bus_t *self);

//  Matcher i's name (its bus_in endpoint) and whether it is live.
const char *bus_matcher_name (bus_t *self, int i);
bool bus_matcher_live (bus_t *self, int i);

//  The lws protocol callback of the adopted SUB descriptors.
int bus_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len);

#endif
