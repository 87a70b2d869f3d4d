//  evloop - the epoll (libev) event loop under the gateway's lws context.

#include "evloop.h"

#include <assert.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>

struct _evloop_t {
    struct ev_loop *loop;
};

bool
evloop_wanted (const config_t *config)
{
    assert (config);
    return strcmp (config->event_loop, "poll") != 0;
}

evloop_t *
evloop_new (void)
{
    evloop_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    //  EVFLAG_NOENV: no LIBEV_FLAGS from the environment (config is read
    //  only by config_load); EVFLAG_NOSIGMASK: leave the signal mask to
    //  main.c, whose SIGINT/SIGTERM handlers interrupt the wait.
    self->loop =
        ev_loop_new (EVBACKEND_EPOLL | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
    if (!self->loop) {
        free (self);
        return NULL;
    }
    return self;
}

void *
evloop_handle (evloop_t *self)
{
    assert (self);
    return self->loop;
}

int
evloop_run (evloop_t *self)
{
    assert (self);
    ev_run (self->loop, EVRUN_ONCE);
    return 0;
}

void
evloop_destroy (evloop_t **self_p)
{
    assert (self_p);
    evloop_t *self = *self_p;
    if (!self)
        return;
    ev_loop_destroy (self->loop);
    free (self);
    *self_p = NULL;
}
