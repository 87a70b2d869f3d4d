//  batch - many script calls in one batch.lua call (see batch.h).
//
//  The ops' arguments are appended to one growing byte buffer (offsets,
//  not pointers: the buffer moves when it grows); a flush turns them into
//  the ARGV of batch.lua (per op: its name, its argument count, its
//  arguments) and hands that to store_eval, which copies it. The ops'
//  callbacks travel with the call in an s_sent_t and are run, in order,
//  when its reply comes.

#include "batch.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "scripts.h"

typedef struct {
    store_reply_fn *fn;
    void *arg;
} s_op_t;

//  The ops of one batch call (being filled, or in flight): their
//  callbacks, in order.
typedef struct {
    size_t count;
    s_op_t ops[];
} s_sent_t;

struct _batch_t {
    store_t *store;     //  borrowed
    size_t max;         //  ops per call
    s_sent_t *next;     //  room for max ops, or NULL if no op added yet
    char *data;         //  argument bytes
    size_t used, cap;   //  of data
    size_t *offs;       //  per argument: offset in data
    size_t *lens;       //  per argument: its length
    const char **argv;  //  filled at flush
    size_t nargs, acap; //  arguments added; capacity of offs/lens/argv
    uint64_t calls;     //  calls sent (batch.lua or, with max 1, single)
    uint64_t nops;      //  ops they carried
};

batch_t *
batch_new (store_t *store, int max)
{
    assert (store);
    if (max < 1)
        return NULL;
    batch_t *self = (batch_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->max = (size_t) max;
    return self;
}

//  Answer every op of sent with reply (borrowed) and free sent.
static void
s_answer_all (s_sent_t *sent, redisReply *reply)
{
    for (size_t i = 0; i < sent->count; i++)
        sent->ops[i].fn (reply, sent->ops[i].arg);
    free (sent);
}

void
batch_destroy (batch_t **self_p)
{
    assert (self_p);
    batch_t *self = *self_p;
    if (!self)
        return;
    if (self->next)
        s_answer_all (self->next, NULL);
    free (self->data);
    free (self->offs);
    free (self->lens);
    free ((void *) self->argv);
    free (self);
    *self_p = NULL;
}

//  Append one argument. Returns 0 or -1 (out of memory).
static int
s_push (batch_t *self, const char *s, size_t len)
{
    if (self->nargs == self->acap) {
        size_t n = self->acap ? self->acap * 2 : 256;
        size_t *offs = (size_t *) realloc (self->offs, n * sizeof *offs);
        if (offs)
            self->offs = offs;
        size_t *lens = (size_t *) realloc (self->lens, n * sizeof *lens);
        if (lens)
            self->lens = lens;
        const char **argv =
            (const char **) realloc ((void *) self->argv, n * sizeof *argv);
        if (argv)
            self->argv = argv;
        if (!offs || !lens || !argv)
            return -1;
        self->acap = n;
    }
    if (self->used + len > self->cap) {
        size_t n = self->cap ? self->cap : 4096;
        while (n < self->used + len)
            n *= 2;
        char *data = (char *) realloc (self->data, n);
        if (!data)
            return -1;
        self->data = data;
        self->cap = n;
    }
    if (len)
        memcpy (self->data + self->used, s, len);
    self->offs[self->nargs] = self->used;
    self->lens[self->nargs] = len;
    self->used += len;
    self->nargs++;
    return 0;
}

int
batch_add (batch_t *self, int script, int argc, const char **argv,
           const size_t *argvlen, store_reply_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    const char *name = script_name (script);
    if (!name || script == SCRIPT_BATCH || argc < 0)
        return -1;
    if (self->max == 1) {
        if (store_eval (self->store, script, argc, argv, argvlen, fn, arg))
            return -1;
        self->calls++;
        self->nops++;
        return 0;
    }
    if (!self->next) {
        self->next = (s_sent_t *) malloc (sizeof *self->next
                                          + self->max * sizeof (s_op_t));
        if (!self->next)
            return -1;
        self->next->count = 0;
    }
    size_t nargs = self->nargs, used = self->used;
    char count[16];
    snprintf (count, sizeof count, "%d", argc);
    int rc = s_push (self, name, strlen (name));
    if (rc == 0)
        rc = s_push (self, count, strlen (count));
    for (int i = 0; rc == 0 && i < argc; i++)
        rc = s_push (self, argv[i], argvlen[i]);
    if (rc) {
        self->nargs = nargs; //  forget the partial op
        self->used = used;
        return -1;
    }
    s_sent_t *next = self->next;
    next->ops[next->count].fn = fn;
    next->ops[next->count].arg = arg;
    next->count++;
    if (next->count == self->max)
        batch_flush (self);
    return 0;
}

static void
s_on_reply (redisReply *reply, void *arg)
{
    s_sent_t *sent = (s_sent_t *) arg;
    if (!reply) {
        s_answer_all (sent, NULL);
        return;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == sent->count) {
        for (size_t i = 0; i < sent->count; i++)
            sent->ops[i].fn (reply->element[i], sent->ops[i].arg);
        free (sent);
        return;
    }
    //  The whole call failed: every op sees the error (each logs it).
    if (reply->type == REDIS_REPLY_ERROR) {
        log_error ("redis: a batch of %zu ops failed: %s", sent->count,
                   reply->str);
        s_answer_all (sent, reply);
        return;
    }
    static char text[] = "batch: reply does not match the ops";
    log_error ("redis: %s (%zu ops, reply type %d with %zu elements)", text,
               sent->count, reply->type, reply->elements);
    redisReply bad;
    memset (&bad, 0, sizeof bad);
    bad.type = REDIS_REPLY_ERROR;
    bad.str = text;
    bad.len = sizeof text - 1;
    s_answer_all (sent, &bad);
}

int
batch_flush (batch_t *self)
{
    assert (self);
    s_sent_t *sent = self->next;
    if (!sent || sent->count == 0)
        return 0;
    size_t count = sent->count;
    for (size_t i = 0; i < self->nargs; i++)
        self->argv[i] = self->data + self->offs[i];
    int rc = store_eval (self->store, SCRIPT_BATCH, (int) self->nargs,
                         self->argv, self->lens, s_on_reply, sent);
    //  Empty before any callback runs: a callback may add again.
    self->next = NULL;
    self->nargs = 0;
    self->used = 0;
    if (rc == 0) {
        self->calls++;
        self->nops += count;
        return 0;
    }
    s_answer_all (sent, NULL);
    return -1;
}

size_t
batch_size (batch_t *self)
{
    assert (self);
    return self->next ? self->next->count : 0;
}
uint64_t
batch_calls (batch_t *self)
{
    assert (self);
    return self->calls;
}

uint64_t
batch_ops (batch_t *self)
{
    assert (self);
    return self->nops;
}
