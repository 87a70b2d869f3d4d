//  batch - the Redis script calls of one bus drain, sent as one call of
//  lua/batch.lua.
//
//  Every call costs Redis a fixed overhead (command parsing, script
//  lookup, Lua call set-up, reply) on top of its work, and Redis is the
//  one stage of megle that cannot use a second core. So the engine adds
//  the op of each frame that needs Redis (batch_add: a script and that
//  script's ARGV) and flushes once it has read every frame waiting on its
//  bus_in socket (batch_flush), never waiting for a timer: one EVALSHA of
//  batch.lua runs the ops in arrival order, each through the same Lua
//  function its own script calls. A full batch (max ops) is flushed at
//  once. Batches are pipelined behind the store's other calls, so replies,
//  and the callbacks run for them, stay in arrival order. With max 1 each
//  op is sent as its own script, as before batching.
//
//  Group commit: the end of a drain calls batch_commit, which flushes
//  only while fewer than BATCH_INFLIGHT_MAX batch calls await their
//  reply. Under load the ops of the next drains pile up meanwhile and go
//  as one bigger call when a reply comes in (after its ops are answered):
//  Redis pays its per-call cost (EVALSHA, the chunk of lib.lua, the
//  reply, its syscalls) once for all of them. When Redis keeps up nothing
//  is in flight at the end of a drain, so nothing waits.

#ifndef MEGLE_BATCH_H
#define MEGLE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct _batch_t batch_t;

//  Batch calls in flight above which batch_commit holds ops back.
#ifndef BATCH_INFLIGHT_MAX
#define BATCH_INFLIGHT_MAX 1
#endif

//  Create a batch of at most max ops (1 = no batching) over the store
//  (borrowed; it must outlive the batch's calls: destroy the store first,
//  it answers them, and the batch sends or answers what it held back).
//  Returns NULL if out of memory or max < 1.
batch_t *batch_new (store_t *store, int max);

//  Destroy the batch. Ops added and not flushed are answered with a NULL
//  reply first. NULL-safe; nulls *self_p.
void batch_destroy (batch_t **self_p);

//  Add one op: script (script_id_t, not SCRIPT_BATCH) with argc strings
//  of ARGV (copied). On 0, fn is called exactly once later with the op's
//  own reply (the element of the batch's reply: the same reply the script
//  alone gives, or an error reply if the op failed), or with NULL if
//  Redis could not take or answer the batch; it may be called before
//  batch_add returns if the op filled the batch and the flush failed.
//  Returns -1, without ever calling fn, if the op cannot be queued (out of
//  memory; with max 1: the store refused the call).
int batch_add (batch_t *self, int script, int argc, const char **argv,
               const size_t *argvlen, store_reply_fn *fn, void *arg);

//  Send the ops added so far as one call (nothing to do if none). If the
//  store refuses it, every op is answered now with a NULL reply and -1 is
//  returned; else 0.
int batch_flush (batch_t *self);

//  The end of a burst of adds (a drain): batch_flush if fewer than the
//  in-flight limit of batch calls await their reply, else keep the ops:
//  they go when a reply comes in (or when the batch is full). Returns as
//  batch_flush (0 if the ops are kept).
int batch_commit (batch_t *self);

//  Set the in-flight limit of batch_commit (default BATCH_INFLIGHT_MAX;
//  values below 1 mean 1).
void batch_set_inflight (batch_t *self, int inflight_max);

//  Batch calls sent and not yet answered.
size_t batch_inflight (batch_t *self);

//  Ops added and not yet flushed.
size_t batch_size (batch_t *self);

//  Batch calls sent so far, and the ops they carried (/metrics).
uint64_t batch_calls (batch_t *self);
uint64_t batch_ops (batch_t *self);

#endif
