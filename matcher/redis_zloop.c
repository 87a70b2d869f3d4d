//  redis_zloop - hiredis async <-> czmq zloop adapter (see redis_zloop.h).

#include "redis_zloop.h"

#include <assert.h>
#include <stdlib.h>

struct _redis_zloop_t {
    zloop_t *loop;
    redisAsyncContext *ac; //  attached context, or NULL
    int fd;                //  its socket
    short events;          //  ZMQ_POLLIN | ZMQ_POLLOUT wanted by hiredis
    short registered;      //  events of the poller now in the loop (0 = none)
};

//  The socket is ready: let hiredis read and/or write. Reading may free
//  the context (disconnect), which detaches us through cleanup, hence the
//  second check. POLLERR (e.g. a hang-up) goes to the read side, where
//  hiredis finds the error and disconnects.
static int
s_on_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    redis_zloop_t *self = (redis_zloop_t *) arg;
    if (self->ac && (item->revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
        redisAsyncHandleRead (self->ac);
    if (self->ac && (item->revents & ZMQ_POLLOUT))
        redisAsyncHandleWrite (self->ac);
    return 0;
}

//  Make the loop watch exactly self->events on self->fd.
static void
s_update (redis_zloop_t *self)
{
    if (self->registered == self->events)
        return;
    zmq_pollitem_t item = {NULL, self->fd, 0, 0};
    if (self->registered) {
        zloop_poller_end (self->loop, &item);
        self->registered = 0;
    }
    if (self->events) {
        item.events = self->events;
        if (zloop_poller (self->loop, &item, s_on_ready, self) == 0) {
            //  Tolerant: zloop must hand errors to us, not drop the fd.
            zloop_poller_set_tolerant (self->loop, &item);
            self->registered = self->events;
        }
    }
}

static void
s_add_read (void *privdata)
{
    redis_zloop_t *self = (redis_zloop_t *) privdata;
    self->events |= ZMQ_POLLIN;
    s_update (self);
}

static void
s_del_read (void *privdata)
{
    redis_zloop_t *self = (redis_zloop_t *) privdata;
    self->events &= (short) ~ZMQ_POLLIN;
    s_update (self);
}

static void
s_add_write (void *privdata)
{
    redis_zloop_t *self = (redis_zloop_t *) privdata;
    self->events |= ZMQ_POLLOUT;
    s_update (self);
}

static void
s_del_write (void *privdata)
{
    redis_zloop_t *self = (redis_zloop_t *) privdata;
    self->events &= (short) ~ZMQ_POLLOUT;
    s_update (self);
}

static void
s_cleanup (void *privdata)
{
    redis_zloop_t *self = (redis_zloop_t *) privdata;
    self->events = 0;
    s_update (self);
    self->ac = NULL;
    self->fd = -1;
}

redis_zloop_t *
redis_zloop_new (zloop_t *loop)
{
    assert (loop);
    redis_zloop_t *self = (redis_zloop_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->fd = -1;
    return self;
}

int
redis_zloop_attach (redis_zloop_t *self, redisAsyncContext *ac)
{
    assert (self);
    assert (ac);
    if (self->ac || ac->ev.data)
        return -1;
    self->ac = ac;
    self->fd = ac->c.fd;
    self->events = 0;
    self->registered = 0;
    ac->ev.addRead = s_add_read;
    ac->ev.delRead = s_del_read;
    ac->ev.addWrite = s_add_write;
    ac->ev.delWrite = s_del_write;
    ac->ev.cleanup = s_cleanup;
    ac->ev.data = self;
    return 0;
}

int
redis_zloop_attached (redis_zloop_t *self)
{
    assert (self);
    return self->ac != NULL;
}

void
redis_zloop_destroy (redis_zloop_t **self_p)
{
    assert (self_p);
    redis_zloop_t *self = *self_p;
    if (!self)
        return;
    self->events = 0;
    s_update (self);
    free (self);
    *self_p = NULL;
}
