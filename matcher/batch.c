//  batch - many script calls in one batch.lua call (see batch.h).
//
//  The ops' arguments are appended to one growing byte buffer (offsets,
//  not pointers: the buffer moves when it grows); a flush turns them into
//  the ARGV of batch.lua (its header of constants, then per op: its name,
//  its argument count, its arguments) and hands that to store_eval, which
//  copies it. The ops' callbacks travel with the call in an s_sent_t and
//  are run, in order, when its reply comes.
//
//  Every string of ARGV costs Redis a Lua string, and most of a find's,
//  leave's, close's or open's arguments are the same for every op of a
//  drain (the TTLs, the rematch block, the clock): those go once in the
//  header, set by the first op that carries each, and the op is sent in
//  its short form (batch.lua: f, l, c, o) with only what varies; an op
//  whose clock differs from the header's carries its own; one whose TTL
//  or block differs is sent in full.

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

//  batch.lua's header: the slots of the batch's constants.
enum { H_NOW, H_MATCH_TTL, H_SESSION_TTL, H_BLOCK, H_COUNT };

#define H_MAX    24 //  bytes of one header value
#define KEEP_MAX 6  //  arguments a short form keeps
#define HEAD_MAX 3  //  arguments a short form takes from the header

//  The short form of a script's op: its name; the indices of the
//  arguments it keeps, in order; the arguments it takes from the header
//  (index, slot); the index of its clock (-1: none), sent after the kept
//  ones when it differs from the header's.
typedef struct {
    int script;
    const char *name;
    int argc;
    int keep[KEEP_MAX];
    int nkeep;
    int head[HEAD_MAX][2];
    int nhead;
    int now;
} s_short_t;

static const s_short_t s_shorts[] = {
    //  find: sid, gw, mid, match_ttl, session_ttl, mode, interests,
    //  now_ms, wait_ms
    {SCRIPT_FIND,
     "f",
     9,
     {0, 1, 2, 5, 6, 8},
     6,
     {{3, H_MATCH_TTL}, {4, H_SESSION_TTL}},
     2,
     7},
    //  leave: sid, target, session_ttl, now_ms, block_ms
    {SCRIPT_LEAVE, "l", 5, {0, 1}, 2, {{2, H_SESSION_TTL}, {4, H_BLOCK}}, 2, 3},
    //  close: sid, gw, now_ms, block_ms
    {SCRIPT_CLOSE, "c", 4, {0, 1}, 2, {{3, H_BLOCK}}, 1, 2},
    //  open: sid, gw, ip_hash, session_ttl
    {SCRIPT_OPEN, "o", 4, {0, 1, 2}, 3, {{3, H_SESSION_TTL}}, 1, -1},
};

//  The ops of one batch call (being filled, or in flight): their
//  callbacks, in order.
typedef struct {
    batch_t *batch;
    size_t count;
    s_op_t ops[];
} s_sent_t;

struct _batch_t {
    store_t *store;            //  borrowed
    size_t max;                //  ops per call
    s_sent_t *next;            //  room for max ops, or NULL if no op added yet
    char *data;                //  argument bytes
    size_t used, cap;          //  of data
    size_t *offs;              //  per argument: offset in data
    size_t *lens;              //  per argument: its length
    const char **argv;         //  filled at flush (header first)
    char head[H_COUNT][H_MAX]; //  the header's values ...
    size_t head_len[H_COUNT];  //  ... their lengths ...
    int head_set[H_COUNT];     //  ... and whether an op set them yet
    size_t nargs, acap;        //  arguments added; capacity of offs/lens/argv
    uint64_t calls;            //  calls sent (batch.lua or, with max 1, single)
    uint64_t nops;             //  ops they carried
    size_t inflight;           //  batch.lua calls awaiting their reply
    size_t inflight_max;       //  batch_commit holds ops while this many
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
    self->inflight_max = BATCH_INFLIGHT_MAX;
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

//  Append one argument (after the header's H_COUNT slots of offs, lens
//  and argv). Returns 0 or -1 (out of memory).
static int
s_push (batch_t *self, const char *s, size_t len)
{
    if (self->nargs == self->acap) {
        size_t n = self->acap ? self->acap * 2 : 256;
        size_t *offs =
            (size_t *) realloc (self->offs, (n + H_COUNT) * sizeof *offs);
        if (offs)
            self->offs = offs;
        size_t *lens =
            (size_t *) realloc (self->lens, (n + H_COUNT) * sizeof *lens);
        if (lens)
            self->lens = lens;
        const char **argv = (const char **) realloc (
            (void *) self->argv, (n + H_COUNT) * sizeof *argv);
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
    self->offs[H_COUNT + self->nargs] = self->used;
    self->lens[H_COUNT + self->nargs] = len;
    self->used += len;
    self->nargs++;
    return 0;
}

//  Append an op's name, its argument count and n more arguments.
static int
s_push_head (batch_t *self, const char *name, int n)
{
    char count[16];
    snprintf (count, sizeof count, "%d", n);
    int rc = s_push (self, name, strlen (name));
    return rc ? rc : s_push (self, count, strlen (count));
}

//  Does the value s (len bytes) fit the header's slot? It does if it is
//  the slot's value, or if no op set the slot yet (then it becomes it).
static int
s_head_fits (batch_t *self, int slot, const char *s, size_t len)
{
    if (!self->head_set[slot]) {
        if (len >= H_MAX)
            return 0;
        memcpy (self->head[slot], s, len);
        self->head_len[slot] = len;
        self->head_set[slot] = 1;
        return 1;
    }
    return self->head_len[slot] == len
           && memcmp (self->head[slot], s, len) == 0;
}

//  Append one op: in its short form if it has one and its constants fit
//  the header, else in full. Returns 0 or -1 (out of memory).
static int
s_push_op (batch_t *self, int script, int argc, const char **argv,
           const size_t *argvlen)
{
    const s_short_t *sh = NULL;
    for (size_t i = 0; i < sizeof s_shorts / sizeof s_shorts[0]; i++)
        if (s_shorts[i].script == script && s_shorts[i].argc == argc)
            sh = &s_shorts[i];
    int fits = sh != NULL;
    for (int i = 0; fits && i < sh->nhead; i++) {
        int at = sh->head[i][0];
        fits = s_head_fits (self, sh->head[i][1], argv[at], argvlen[at]);
    }
    if (!fits) {
        int rc = s_push_head (self, script_name (script), argc);
        for (int i = 0; rc == 0 && i < argc; i++)
            rc = s_push (self, argv[i], argvlen[i]);
        return rc;
    }
    int own_now =
        sh->now >= 0
        && !s_head_fits (self, H_NOW, argv[sh->now], argvlen[sh->now]);
    int rc = s_push_head (self, sh->name, sh->nkeep + own_now);
    for (int i = 0; rc == 0 && i < sh->nkeep; i++)
        rc = s_push (self, argv[sh->keep[i]], argvlen[sh->keep[i]]);
    if (rc == 0 && own_now)
        rc = s_push (self, argv[sh->now], argvlen[sh->now]);
    return rc;
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
        self->next->batch = self;
        self->next->count = 0;
    }
    size_t nargs = self->nargs, used = self->used;
    if (s_push_op (self, script, argc, argv, argvlen)) {
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

//  Answer the ops of sent with reply (the batch's, or NULL).
static void
s_answer (s_sent_t *sent, redisReply *reply)
{
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

//  A batch's reply: answer its ops, then send what batch_commit held
//  back meanwhile (and what the answers added). Inside a hiredis callback
//  the call is only queued: hiredis writes it when the loop next sees the
//  socket writable. If the connection is gone the store refuses the call
//  and the held ops are answered with NULL at once.
static void
s_on_reply (redisReply *reply, void *arg)
{
    s_sent_t *sent = (s_sent_t *) arg;
    batch_t *self = sent->batch;
    assert (self->inflight > 0);
    self->inflight--;
    s_answer (sent, reply);
    if (self->inflight < self->inflight_max)
        batch_flush (self);
}

int
batch_flush (batch_t *self)
{
    assert (self);
    s_sent_t *sent = self->next;
    if (!sent || sent->count == 0)
        return 0;
    size_t count = sent->count;
    for (int h = 0; h < H_COUNT; h++) {
        self->argv[h] = self->head[h];
        self->lens[h] = self->head_set[h] ? self->head_len[h] : 0;
    }
    for (size_t i = H_COUNT; i < H_COUNT + self->nargs; i++)
        self->argv[i] = self->data + self->offs[i];
    self->inflight++; //  before the call: its reply may come at any time
    int rc = store_eval (self->store, SCRIPT_BATCH, H_COUNT + (int) self->nargs,
                         self->argv, self->lens, s_on_reply, sent);
    //  Empty before any callback runs: a callback may add again.
    self->next = NULL;
    self->nargs = 0;
    self->used = 0;
    memset (self->head_set, 0, sizeof self->head_set);
    if (rc == 0) {
        self->calls++;
        self->nops += count;
        return 0;
    }
    self->inflight--;
    s_answer_all (sent, NULL);
    return -1;
}

int
batch_commit (batch_t *self)
{
    assert (self);
    if (self->inflight >= self->inflight_max)
        return 0; //  s_on_reply sends them
    return batch_flush (self);
}

void
batch_set_inflight (batch_t *self, int inflight_max)
{
    assert (self);
    self->inflight_max = inflight_max < 1 ? 1 : (size_t) inflight_max;
}

size_t
batch_inflight (batch_t *self)
{
    assert (self);
    return self->inflight;
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
