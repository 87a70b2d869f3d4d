//  store - the matcher's one Redis connection: hiredis async on the zloop
//  (redis_zloop), script loading, calls by EVALSHA, and reconnects.
//
//  On connect every script is loaded with SCRIPT LOAD and its SHA kept;
//  until a SHA is known a call goes out as EVAL with the full source. A
//  NOSCRIPT reply (the server's script cache was flushed) is retried once
//  with EVAL, which also loads the script again. When the connection fails
//  or drops, the store reconnects with exponential backoff (100 ms to 5 s)
//  on a zloop timer and logs each state change once. Calls are pipelined:
//  their callbacks run in the order the calls were made.
//
//  Redis Cluster (docs/redis.md): the store follows redirects itself
//  (hiredis 0.14 does not). A MOVED reply makes the named node the
//  store's node: the old connection is closed once its replies are in,
//  the store connects there (scripts are loaded again) and re-sends the
//  redirected calls, in order, with the calls made meanwhile behind them;
//  if that node cannot be reached, the next reconnect goes to the
//  configured seed (MEGLE_REDIS_URL) again. An ASK reply sends the call
//  once more, after ASKING, on a second connection to the importing node.
//  TRYAGAIN, CLUSTERDOWN, LOADING and MASTERDOWN are retried after a short
//  backoff. A call redirected or retried more than 5 times fails.
//
//  Deadline: a call unanswered for MEGLE_REDIS_TIMEOUT_MS (or a connect
//  that long) drops the connection (its calls get NULL replies, the event
//  redis_timeout is logged) and the store reconnects as above.

#ifndef MEGLE_STORE_H
#define MEGLE_STORE_H

#include <stddef.h>
#include <czmq.h>
#include <hiredis/hiredis.h>

#include "common/config.h"
#include "common/metrics.h"

typedef struct _store_t store_t;

//  The answer to one call. reply is NULL if Redis could not answer (the
//  connection dropped, or the store is being destroyed); it is freed by
//  hiredis after the callback returns.
typedef void (store_reply_fn) (redisReply *reply, void *arg);

//  Called each time the connection comes up (before any reply of it).
typedef void (store_up_fn) (void *arg);

//  Create the store for config's redis_host/redis_port or redis_unix and
//  start connecting on the loop (which must outlive the store). on_up may
//  be NULL. Returns NULL if out of memory.
store_t *store_new (zloop_t *loop, const config_t *config, store_up_fn *on_up,
                    void *arg);

//  Destroy the store. Outstanding calls are answered with a NULL reply
//  first. NULL-safe; nulls *self_p.
void store_destroy (store_t **self_p);

//  True when connected (or moving to another Cluster node): calls are
//  accepted.
int store_ready (store_t *self);

//  True when connected and every script is loaded (its SHA known): the
//  matcher's /readyz.
int store_loaded (store_t *self);

//  Latency of the calls answered so far: from sending to the reply, in
//  seconds (a histogram owned by the store, valid while it lives).
const metrics_hist_t *store_latency (store_t *self);

//  Redis failures so far: error replies, calls lost to a dropped
//  connection, failed connects and dropped connections.
uint64_t store_errors (store_t *self);

//  Number of calls made whose reply has not yet arrived (sent, or waiting
//  for a move or a retry).
size_t store_pending (store_t *self);

//  Run script `script` (script_id_t) with the standard KEYS and the given
//  ARGV (argc strings with their lengths; copied). On 0, fn is called
//  exactly once later with the reply (or NULL). Returns -1, without ever
//  calling fn, if Redis is not connected or the call cannot be queued.
int store_eval (store_t *self, int script, int argc, const char **argv,
                const size_t *argvlen, store_reply_fn *fn, void *arg);

//  Send a plain command (argv[0] is its name); same contract as
//  store_eval.
int store_command (store_t *self, int argc, const char **argv,
                   const size_t *argvlen, store_reply_fn *fn, void *arg);

//  Write the calls made so far to Redis now, instead of when the loop next
//  sees the socket writable (one loop turn less per batch). Call it after
//  a burst of calls (the end of a drain), from the loop: inside a hiredis
//  callback it does nothing.
void store_flush (store_t *self);

#endif
