//  evloop - the epoll event loop the gateway's lws context runs on.
//
//  lws 4.1's own loop is poll(): every wake-up scans every descriptor, so
//  a gateway with thousands of connections pays for all of them on each
//  message. Debian's lws 4.1.6 ships event-library plugins; this module
//  makes a libev loop on the epoll backend and hands it to lws as a
//  "foreign" loop (LWS_SERVER_OPTION_LIBEV + foreign_loops). Foreign,
//  because lws 4.1.6 runs an evlib's loop in lws_service with ev_run (loop,
//  0), which returns only when the loop has nothing left to do; with our
//  own loop, evloop_run runs one iteration (EVRUN_ONCE), so the caller sees
//  its signal flag after every wake-up as it did with lws_service, and lws
//  installs no signal handlers of its own. One thread, one loop: lws' timers
//  (lws_sul), its idle work and the adopted bus descriptor all run on it.

#ifndef MEGLE_EVLOOP_H
#define MEGLE_EVLOOP_H

#include <stdbool.h>

#include "config.h"

typedef struct _evloop_t evloop_t;

//  True if the configuration asks for the epoll loop (MEGLE_EVENT_LOOP=
//  epoll, the default); false for lws' own poll() loop.
bool evloop_wanted (const config_t *config);

//  Create an epoll-backed libev loop. Returns NULL if it cannot be made.
evloop_t *evloop_new (void);

//  The loop as lws' foreign_loops wants it (a struct ev_loop *). Not owned.
void *evloop_handle (evloop_t *self);

//  Wait for events once and dispatch them (a signal interrupts the wait).
//  Returns 0.
int evloop_run (evloop_t *self);

//  Destroy the loop. Call after lws_context_destroy. NULL-safe; nulls
//  *self_p.
void evloop_destroy (evloop_t **self_p);

#endif
