//  redis_zloop - runs a hiredis async connection inside a czmq zloop.
//
//  hiredis's async core asks its event library, through five hooks
//  (addRead, delRead, addWrite, delWrite, cleanup), to watch its socket.
//  This adapter implements them on zloop_poller: each change of the wanted
//  events ends the fd's poller and registers it again with the new event
//  mask (zloop has no "modify"). One adapter serves one connection at a
//  time; the matcher's store reuses it across reconnects.

#ifndef MEGLE_REDIS_ZLOOP_H
#define MEGLE_REDIS_ZLOOP_H

#include <czmq.h>
#include <hiredis/async.h>

typedef struct _redis_zloop_t redis_zloop_t;

//  Create an adapter for the loop (which must outlive it). Returns NULL if
//  out of memory.
redis_zloop_t *redis_zloop_new (zloop_t *loop);

//  Attach a freshly created async context: sets its ev hooks. Must be
//  called before redisAsyncSetConnectCallback. hiredis detaches it again
//  through the cleanup hook when the context is freed. Returns -1 if
//  another context is still attached or ac already has an adapter.
int redis_zloop_attach (redis_zloop_t *self, redisAsyncContext *ac);

//  True if a context is attached.
int redis_zloop_attached (redis_zloop_t *self);

//  Destroy the adapter; the context, if any, must have been freed first
//  (its poller is ended anyway). NULL-safe; nulls *self_p.
void redis_zloop_destroy (redis_zloop_t **self_p);

#endif
