//  relax - the matcher's interest-wait timer. Every RELAX_MS it runs the
//  relax script (lua/relax.lua) once: the sessions whose interest wait is
//  over are opened to a random stranger and matched at once if someone
//  waits there, and the new matches are published. Each call handles at
//  most SCRIPT_RELAX_BATCH due sessions; when more are due, the next call
//  goes out as soon as the reply is in. One call is in flight at a time.

#ifndef MEGLE_RELAX_H
#define MEGLE_RELAX_H

#include <czmq.h>

#include "common/config.h"
#include "publisher.h"
#include "routes.h"
#include "store.h"

typedef struct _relax_t relax_t;

//  Start the timer on loop. loop, store, pub, routes and config are
//  borrowed and must outlive the relax_t (destroy it after the store: the
//  store's destruction answers a call in flight). The matches it makes are
//  learned by routes (the route cache). Returns NULL on failure.
relax_t *relax_new (zloop_t *loop, store_t *store, publisher_t *pub,
                    routes_t *routes, const config_t *config);

//  Make no more calls (the matcher is stopping).
void relax_stop (relax_t *self);

//  Stop the timer and free. NULL-safe; nulls *self_p.
void relax_destroy (relax_t **self_p);

#endif
