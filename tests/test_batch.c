//  test_batch - matcher/lua/batch.lua (many ops in one script call, as
//  megle-matcher's batch.c sends them) against a real redis-server: mixed
//  ops in one call, a failing op among good ones, a find that matches
//  another find of the same call, the order of one session's ops (Next:
//  leave then find), a malformed call, the short forms (f, l, c, o) that
//  take the header's constants, and a batch of the size the matcher sends
//  at most. Then matcher/batch.c itself over a real store (zloop +
//  hiredis async): group commit holds ops while a batch call awaits its
//  reply and sends them with it, in order; every op is answered exactly
//  once, with NULL when the connection is dropped or the store destroyed
//  while ops are in flight or held; max 1 sends each op alone.
//
//  The suite starts its own redis-server (no TCP port: a unix socket in a
//  temporary directory) and kills it at exit. The redis-server binary is
//  argv[1] (default: redis-server on PATH). Fixture state is file-static:
//  Check's fixtures take no argument.

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <czmq.h>
#include <hiredis/hiredis.h>

#include "batch.h"
#include "calls.h"
#include "common/config.h"
#include "proto/frame.h"
#include "scripts.h"
#include "store.h"
#include "check_main.h"
#include "redis_fixture.h"

#define NOW      "1000000000"
#define BLOCK    "60000"
#define ARGS_MAX 8192

static char s_sha[41];      //  batch.lua's
static redisContext *s_ctx; //  the current test's connection

//  --------------------------------------------------------------------
//  A batch being built: EVALSHA sha 1 {megle}:gws, the header (now,
//  match_ttl, session_ttl, block), then per op its name, its argument
//  count and its arguments (batch.lua's ARGV).

typedef struct {
    const char *argv[ARGS_MAX];
    char counts[ARGS_MAX / 2][12];
    int argc, ops;
} s_batch_t;

static void
s_batch_init (s_batch_t *b)
{
    b->argc = 0;
    b->ops = 0;
    b->argv[b->argc++] = "EVALSHA";
    b->argv[b->argc++] = s_sha;
    b->argv[b->argc++] = SCRIPT_NKEYS_STR;
    b->argv[b->argc++] = SCRIPT_KEY_GATEWAYS;
    b->argv[b->argc++] = NOW;
    b->argv[b->argc++] = "600";
    b->argv[b->argc++] = "3600";
    b->argv[b->argc++] = BLOCK;
}

//  Add op `name` with a NULL-terminated list of arguments.
static void
s_batch_op (s_batch_t *b, const char *name, ...)
{
    b->argv[b->argc++] = name;
    int at = b->argc++;
    int n = 0;
    va_list args;
    va_start (args, name);
    const char *arg;
    while ((arg = va_arg (args, const char *))) {
        ck_assert_int_lt (b->argc, ARGS_MAX);
        b->argv[b->argc++] = arg;
        n++;
    }
    va_end (args);
    snprintf (b->counts[b->ops], sizeof b->counts[b->ops], "%d", n);
    b->argv[at] = b->counts[b->ops];
    b->ops++;
}

//  Run it; caller frees the reply. Checks that it is one reply per op.
static redisReply *
s_batch_run (s_batch_t *b)
{
    redisReply *r =
        (redisReply *) redisCommandArgv (s_ctx, b->argc, b->argv, NULL);
    ck_assert_ptr_nonnull (r);
    ck_assert_msg (r->type == REDIS_REPLY_ARRAY, "batch failed: %s",
                   r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
    ck_assert_int_eq ((int) r->elements, b->ops);
    return r;
}

//  Element j of op i's reply ("" if absent or not a string).
static const char *
s_el (const redisReply *r, size_t i, size_t j)
{
    if (i >= r->elements || r->element[i]->type != REDIS_REPLY_ARRAY
        || j >= r->element[i]->elements
        || r->element[i]->element[j]->type != REDIS_REPLY_STRING)
        return "";
    return r->element[i]->element[j]->str;
}

//  A session field, "" if missing (static buffer, valid until next call).
static const char *
s_field (const char *sid, const char *field)
{
    static char value[128];
    redisReply *r =
        (redisReply *) redisCommand (s_ctx, "HGET {megle}:s:%s %s", sid, field);
    value[0] = 0;
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf (value, sizeof value, "%s", r->str);
    freeReplyObject (r);
    return value;
}

//  Distinct well-formed ids: 32 lower-case hex digits.
static void
s_id (char *out, unsigned a, unsigned b)
{
    snprintf (out, 33, "%08x%08x%08x%08x", a, b, 0xba7c4u, a ^ b);
}

static void
s_setup (void)
{
    s_ctx = s_connect ();
    ck_assert_ptr_nonnull (s_ctx);
    freeReplyObject (redisCommand (s_ctx, "FLUSHALL"));
    redisReply *r = (redisReply *) redisCommand (s_ctx, "SCRIPT LOAD %s",
                                                 script_source (SCRIPT_BATCH));
    ck_assert_msg (r && r->type == REDIS_REPLY_STRING && r->len == 40,
                   "SCRIPT LOAD batch: %s",
                   r && r->type == REDIS_REPLY_ERROR ? r->str : "?");
    memcpy (s_sha, r->str, 41);
    freeReplyObject (r);
}

static void
s_teardown (void)
{
    redisFree (s_ctx);
    s_ctx = NULL;
}

//  find ARGV for a video find without interests.
#define FIND(sid, gw, mid)                                                     \
    "find", sid, gw, mid, "600", "3600", "video", "", NOW, "10000"

//  --------------------------------------------------------------------
//  Tests

START_TEST (test_mixed_ops)
{
    char a[33], b[33], m1[33], m2[33];
    s_id (a, 1, 1);
    s_id (b, 1, 2);
    s_id (m1, 1, 3);
    s_id (m2, 1, 4);
    s_batch_t batch;
    s_batch_init (&batch);
    s_batch_op (&batch, "gw_beat", "gw-1", NOW, NULL);
    s_batch_op (&batch, "open", a, "gw-1", "ipa", "3600", NULL);
    s_batch_op (&batch, "open", b, "gw-2", "ipb", "3600", NULL);
    s_batch_op (&batch, FIND (a, "gw-1", m1), NULL);
    s_batch_op (&batch, FIND (b, "gw-2", m2), NULL);
    s_batch_op (&batch, "route", a, b, m2, NULL);
    s_batch_op (&batch, "route", b, "", "", NULL);
    s_batch_op (&batch, "report", a, m2, NOW, "3600", "3", "86400", NULL);
    s_batch_op (&batch, "leave", b, a, "3600", NOW, BLOCK, NULL);
    s_batch_op (&batch, "route", a, b, m2, NULL);
    s_batch_op (&batch, "close", a, "gw-1", NOW, BLOCK, NULL);
    s_batch_op (&batch, "relax", NOW, "600", "3600", m1, NULL);
    redisReply *r = s_batch_run (&batch);
    ck_assert_str_eq (s_el (r, 0, 0), "ok");
    ck_assert_str_eq (s_el (r, 1, 0), "ok");
    ck_assert_str_eq (s_el (r, 2, 0), "ok");
    ck_assert_str_eq (s_el (r, 3, 0), "waiting");
    ck_assert_str_eq (s_el (r, 4, 0), "matched");
    ck_assert_str_eq (s_el (r, 4, 1), a);
    ck_assert_str_eq (s_el (r, 4, 2), "gw-1");
    ck_assert_str_eq (s_el (r, 4, 3), m2);
    ck_assert_str_eq (s_el (r, 4, 4), "video");
    ck_assert_str_eq (s_el (r, 5, 0), "ok");
    ck_assert_str_eq (s_el (r, 5, 1), "gw-2");
    ck_assert_str_eq (s_el (r, 5, 2), m2);
    ck_assert_str_eq (s_el (r, 5, 3), b);
    ck_assert_str_eq (s_el (r, 6, 0), "ok");
    ck_assert_str_eq (s_el (r, 6, 1), "gw-1");
    ck_assert_str_eq (s_el (r, 7, 0), "reported");
    ck_assert_str_eq (s_el (r, 7, 1), b);
    ck_assert_str_eq (s_el (r, 8, 0), "ended");
    ck_assert_str_eq (s_el (r, 8, 1), a);
    ck_assert_str_eq (s_el (r, 8, 2), "gw-1");
    ck_assert_str_eq (s_el (r, 8, 3), m2);
    ck_assert_str_eq (s_el (r, 9, 0), "not_matched");
    ck_assert_str_eq (s_el (r, 10, 0), "closed");
    ck_assert_str_eq (s_el (r, 11, 0), "relaxed");
    freeReplyObject (r);
    //  Their effects stand, as if each op had been its own call.
    ck_assert_str_eq (s_field (a, "state"), "");
    ck_assert_str_eq (s_field (b, "state"), "idle");
    redisReply *beat =
        (redisReply *) redisCommand (s_ctx, "HGET {megle}:gws gw-1");
    ck_assert_str_eq (beat->str, NOW);
    freeReplyObject (beat);
}
END_TEST

START_TEST (test_failing_op_fails_alone)
{
    char a[33], b[33], m1[33], m2[33];
    s_id (a, 2, 1);
    s_id (b, 2, 2);
    s_id (m1, 2, 3);
    s_id (m2, 2, 4);
    s_batch_t batch;
    s_batch_init (&batch);
    s_batch_op (&batch, "open", a, "gw-1", "ipa", "3600", NULL);
    //  A Redis command error inside the op (EXPIRE with no ttl) ...
    s_batch_op (&batch, "open", b, "gw-1", "ipb", "soon", NULL);
    //  ... and a Lua runtime error (no arguments at all).
    s_batch_op (&batch, "route", NULL);
    s_batch_op (&batch, FIND (a, "gw-1", m1), NULL);
    s_batch_op (&batch, "open", b, "gw-1", "ipb", "3600", NULL);
    s_batch_op (&batch, FIND (b, "gw-1", m2), NULL);
    redisReply *r = s_batch_run (&batch);
    ck_assert_str_eq (s_el (r, 0, 0), "ok");
    ck_assert_int_eq (r->element[1]->type, REDIS_REPLY_ERROR);
    ck_assert_int_eq (r->element[2]->type, REDIS_REPLY_ERROR);
    ck_assert_str_eq (s_el (r, 3, 0), "waiting");
    //  The failed open wrote its hash before failing (no rollback, as in
    //  its own script): the second open finds it.
    ck_assert_str_eq (s_el (r, 4, 0), "exists");
    ck_assert_str_eq (s_el (r, 5, 0), "matched");
    ck_assert_str_eq (s_el (r, 5, 1), a);
    freeReplyObject (r);
}
END_TEST

START_TEST (test_finds_of_one_batch_match)
{
    //  Four strangers arrive in one wake-up: two pairs, nobody left
    //  waiting, nobody in two matches.
    char s[4][33], m[4][33];
    s_batch_t batch;
    s_batch_init (&batch);
    for (unsigned i = 0; i < 4; i++) {
        s_id (s[i], 3, i);
        s_id (m[i], 3, 10 + i);
        s_batch_op (&batch, "open", s[i], "gw-1", "ip", "3600", NULL);
    }
    for (unsigned i = 0; i < 4; i++)
        s_batch_op (&batch, FIND (s[i], "gw-1", m[i]), NULL);
    redisReply *r = s_batch_run (&batch);
    ck_assert_str_eq (s_el (r, 4, 0), "waiting");
    ck_assert_str_eq (s_el (r, 5, 0), "matched");
    ck_assert_str_eq (s_el (r, 5, 1), s[0]);
    ck_assert_str_eq (s_el (r, 6, 0), "waiting");
    ck_assert_str_eq (s_el (r, 7, 0), "matched");
    ck_assert_str_eq (s_el (r, 7, 1), s[2]);
    freeReplyObject (r);
    ck_assert_str_eq (s_field (s[0], "partner"), s[1]);
    ck_assert_str_eq (s_field (s[1], "partner"), s[0]);
    ck_assert_str_eq (s_field (s[2], "partner"), s[3]);
    ck_assert_str_eq (s_field (s[3], "partner"), s[2]);
    redisReply *q =
        (redisReply *) redisCommand (s_ctx, "SCARD {megle}:q:video");
    ck_assert_int_eq (q->integer, 0);
    freeReplyObject (q);
}
END_TEST

START_TEST (test_order_of_one_session)
{
    char a[33], b[33], m[4][33];
    s_id (a, 4, 1);
    s_id (b, 4, 2);
    for (unsigned i = 0; i < 4; i++)
        s_id (m[i], 4, 10 + i);
    s_batch_t batch;
    s_batch_init (&batch);
    //  find before open: unknown; then open, find, leave, find again.
    s_batch_op (&batch, FIND (a, "gw-1", m[0]), NULL);
    s_batch_op (&batch, "open", a, "gw-1", "ip", "3600", NULL);
    s_batch_op (&batch, FIND (a, "gw-1", m[0]), NULL);
    s_batch_op (&batch, "leave", a, "", "3600", NOW, BLOCK, NULL);
    s_batch_op (&batch, FIND (a, "gw-1", m[1]), NULL);
    s_batch_op (&batch, "open", b, "gw-2", "ip", "3600", NULL);
    s_batch_op (&batch, FIND (b, "gw-2", m[2]), NULL);
    //  Next, as megle-bench's match loop and the web client send it: the
    //  initiator leaves and looks again at once, in the same wake-up.
    s_batch_op (&batch, "leave", b, a, "3600", NOW, BLOCK, NULL);
    s_batch_op (&batch, FIND (b, "gw-2", m[3]), NULL);
    redisReply *r = s_batch_run (&batch);
    ck_assert_str_eq (s_el (r, 0, 0), "gone");
    ck_assert_str_eq (s_el (r, 1, 0), "ok");
    ck_assert_str_eq (s_el (r, 2, 0), "waiting");
    ck_assert_str_eq (s_el (r, 3, 0), "unqueued");
    ck_assert_str_eq (s_el (r, 4, 0), "waiting");
    ck_assert_str_eq (s_el (r, 6, 0), "matched");
    ck_assert_str_eq (s_el (r, 6, 3), m[2]);
    ck_assert_str_eq (s_el (r, 7, 0), "ended");
    ck_assert_str_eq (s_el (r, 7, 3), m[2]);
    ck_assert_str_eq (s_el (r, 8, 0), "waiting");
    freeReplyObject (r);
    ck_assert_str_eq (s_field (a, "state"), "idle");
    ck_assert_str_eq (s_field (b, "state"), "waiting");
}
END_TEST

START_TEST (test_malformed_batch)
{
    char a[33];
    s_id (a, 5, 1);
    s_batch_t batch;
    s_batch_init (&batch);
    s_batch_op (&batch, "open", a, "gw-1", "ip", "3600", NULL);
    s_batch_op (&batch, "no_such_op", a, NULL);
    redisReply *r =
        (redisReply *) redisCommandArgv (s_ctx, batch.argc, batch.argv, NULL);
    ck_assert_int_eq (r->type, REDIS_REPLY_ERROR);
    ck_assert_ptr_nonnull (strstr (r->str, "malformed"));
    freeReplyObject (r);
    //  Nothing ran: the check comes before the first op.
    ck_assert_str_eq (s_field (a, "gw"), "");
    //  An argument count past the end is malformed too.
    s_batch_init (&batch);
    batch.argv[batch.argc++] = "open";
    batch.argv[batch.argc++] = "4";
    batch.argv[batch.argc++] = a;
    r = (redisReply *) redisCommandArgv (s_ctx, batch.argc, batch.argv, NULL);
    ck_assert_int_eq (r->type, REDIS_REPLY_ERROR);
    freeReplyObject (r);
}
END_TEST

//  The short forms megle-matcher's batch.c sends (f, l, c, o: the
//  header's clock, TTLs and block instead of their own) do what the full
//  ops do; one may carry its own clock; a wrong count fails that op
//  alone.
START_TEST (test_short_forms)
{
    char a[33], b[33], c[33], m1[33], m2[33];
    s_id (a, 8, 1);
    s_id (b, 8, 2);
    s_id (c, 8, 3);
    s_id (m1, 8, 4);
    s_id (m2, 8, 5);
    s_batch_t batch;
    s_batch_init (&batch);
    s_batch_op (&batch, "o", a, "gw-1", "ipa", NULL);
    s_batch_op (&batch, "o", b, "gw-2", "ipb", NULL);
    s_batch_op (&batch, "o", a, "gw-1", "ipa", NULL);
    s_batch_op (&batch, "f", a, "gw-1", m1, "video", "", "10000", NULL);
    s_batch_op (&batch, "f", b, "gw-2", m2, "video", "", "10000", "1000000005",
                NULL);
    s_batch_op (&batch, "f", b, "gw-2", m2, "video", "", NULL);
    s_batch_op (&batch, "l", b, "", NULL);
    s_batch_op (&batch, "c", a, "gw-1", "1000000007", NULL);
    s_batch_op (&batch, "o", c, "gw-1", NULL);
    redisReply *r = s_batch_run (&batch);
    ck_assert_str_eq (s_el (r, 0, 0), "ok");
    ck_assert_str_eq (s_el (r, 1, 0), "ok");
    ck_assert_str_eq (s_el (r, 2, 0), "exists");
    ck_assert_str_eq (s_el (r, 3, 0), "waiting");
    ck_assert_str_eq (s_el (r, 4, 0), "matched");
    ck_assert_str_eq (s_el (r, 4, 1), a);
    ck_assert_str_eq (s_el (r, 4, 2), "gw-1");
    ck_assert_str_eq (s_el (r, 4, 3), m2);
    ck_assert_int_eq (r->element[5]->type, REDIS_REPLY_ERROR);
    ck_assert_str_eq (s_el (r, 6, 0), "ended");
    ck_assert_str_eq (s_el (r, 6, 1), a);
    ck_assert_str_eq (s_el (r, 6, 2), "gw-1");
    ck_assert_str_eq (s_el (r, 7, 0), "closed");
    ck_assert_int_eq (r->element[8]->type, REDIS_REPLY_ERROR);
    freeReplyObject (r);
    //  The header's TTL and block, and the header's clock for the leave.
    redisReply *ttl =
        (redisReply *) redisCommand (s_ctx, "TTL {megle}:s:%s", b);
    ck_assert (ttl->integer > 3000 && ttl->integer <= 3600);
    freeReplyObject (ttl);
    char field[40];
    snprintf (field, sizeof field, "r:%s", a);
    ck_assert_str_eq (s_field (b, field), "1000060000");
    ck_assert_str_eq (s_field (b, "state"), "idle");
    ck_assert_str_eq (s_field (a, "state"), "");
    ck_assert_str_eq (s_field (c, "state"), "");
    //  No header at all: the whole call fails.
    const char *bare[] = {"EVALSHA", s_sha, SCRIPT_NKEYS_STR,
                          SCRIPT_KEY_GATEWAYS, NOW};
    r = (redisReply *) redisCommandArgv (s_ctx, 5, bare, NULL);
    ck_assert_int_eq (r->type, REDIS_REPLY_ERROR);
    freeReplyObject (r);
}
END_TEST

START_TEST (test_full_batch)
{
    //  The largest batch the matcher sends (MEGLE_BATCH_MAX 1024): 512
    //  sessions open and find, 256 pairs made.
    enum { N = 512 };
    static char s[N][33], m[N][33];
    s_batch_t *batch = (s_batch_t *) malloc (sizeof *batch);
    ck_assert_ptr_nonnull (batch);
    s_batch_init (batch);
    for (unsigned i = 0; i < N; i++) {
        s_id (s[i], 6, i);
        s_id (m[i], 7, i);
        s_batch_op (batch, "open", s[i], "gw-1", "ip", "3600", NULL);
    }
    redisReply *r = s_batch_run (batch);
    freeReplyObject (r);
    s_batch_init (batch);
    for (unsigned i = 0; i < N; i++)
        s_batch_op (batch, FIND (s[i], "gw-1", m[i]), NULL);
    r = s_batch_run (batch);
    int matched = 0;
    for (unsigned i = 0; i < N; i++)
        matched += !strcmp (s_el (r, i, 0), "matched");
    ck_assert_int_eq (matched, N / 2);
    freeReplyObject (r);
    free (batch);
}
END_TEST

//  --------------------------------------------------------------------
//  batch.c over a store on the fixture's redis-server.

#define OPS_MAX 64

typedef struct _s_run_t s_run_t;

typedef struct {
    s_run_t *run;
    int id;
} s_tag_t;

struct _s_run_t {
    zloop_t *loop;
    store_t *store;
    batch_t *batch;
    config_t config;
    s_tag_t tags[OPS_MAX];
    int answers[OPS_MAX]; //  per op: times answered
    int order[OPS_MAX];   //  ids in the order answered
    int n;                //  answers so far
    int nulls;            //  NULL replies
    int bad;              //  error replies
    int add_on;           //  on this op's answer add op add_id (-1: none)
    int add_id;           //
    int want;             //  s_run_until's condition: n >= want
    int want_loaded;      //  ... or the store's scripts loaded
    uint64_t deadline;    //  monotonic ms
};

static int s_add (s_run_t *run, int id);

static void
s_on_op (redisReply *reply, void *arg)
{
    s_tag_t *tag = (s_tag_t *) arg;
    s_run_t *run = tag->run;
    run->answers[tag->id]++;
    if (run->n < OPS_MAX)
        run->order[run->n] = tag->id;
    run->n++;
    if (!reply)
        run->nulls++;
    else if (reply->type == REDIS_REPLY_ERROR)
        run->bad++;
    if (tag->id == run->add_on && run->add_id >= 0) {
        //  As the engine does from a Redis callback (s_submit).
        ck_assert_int_eq (s_add (run, run->add_id), 0);
        batch_commit (run->batch);
    }
}

//  Add op id: an open of its own session.
static int
s_add (s_run_t *run, int id)
{
    char sid[33];
    s_id (sid, 9, (unsigned) id);
    const char *argv[] = {sid, "gw-1", "ip", "3600"};
    size_t lens[] = {32, 4, 2, 4};
    run->tags[id].run = run;
    run->tags[id].id = id;
    return batch_add (run->batch, SCRIPT_OPEN, 4, argv, lens, s_on_op,
                      &run->tags[id]);
}

static int
s_on_check (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_run_t *run = (s_run_t *) arg;
    if (run->want_loaded ? store_loaded (run->store) : run->n >= run->want)
        return -1;
    return s_mono_ms () > run->deadline ? -1 : 0;
}

//  Run the loop until the condition holds (or 10 s pass).
static void
s_run_until (s_run_t *run, int loaded, int want)
{
    run->want_loaded = loaded;
    run->want = want;
    run->deadline = s_mono_ms () + 10000;
    int id = zloop_timer (run->loop, 2, 0, s_on_check, run);
    ck_assert_int_ne (id, -1);
    zloop_start (run->loop);
    zloop_timer_end (run->loop, id);
}

static s_run_t *
s_run_new (int max, int timeout_ms)
{
    s_run_t *run = (s_run_t *) calloc (1, sizeof *run);
    ck_assert_ptr_nonnull (run);
    snprintf (run->config.redis_url, sizeof run->config.redis_url, "unix://%s",
              s_sock);
    snprintf (run->config.redis_unix, sizeof run->config.redis_unix, "%s",
              s_sock);
    run->config.redis_timeout_ms = timeout_ms;
    run->add_on = -1;
    run->add_id = -1;
    run->loop = zloop_new ();
    ck_assert_ptr_nonnull (run->loop);
    run->store = store_new (run->loop, &run->config, NULL, NULL);
    ck_assert_ptr_nonnull (run->store);
    run->batch = batch_new (run->store, max);
    ck_assert_ptr_nonnull (run->batch);
    s_run_until (run, 1, 0);
    ck_assert (store_loaded (run->store));
    return run;
}

static void
s_run_destroy (s_run_t **run_p)
{
    s_run_t *run = *run_p;
    store_destroy (&run->store); //  first: it answers the batch's calls
    batch_destroy (&run->batch);
    zloop_destroy (&run->loop);
    free (run);
    *run_p = NULL;
}

//  Every op of 0..n-1 answered exactly once, in id order.
static void
s_assert_in_order (s_run_t *run, int n)
{
    ck_assert_int_eq (run->n, n);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq (run->answers[i], 1);
        ck_assert_int_eq (run->order[i], i);
    }
}

START_TEST (test_group_commit)
{
    s_run_t *run = s_run_new (64, 5000);
    //  Nothing in flight: the commit sends at once.
    ck_assert_int_eq (s_add (run, 0), 0);
    ck_assert_int_eq (batch_commit (run->batch), 0);
    ck_assert_int_eq (batch_inflight (run->batch), 1);
    ck_assert_uint_eq (batch_size (run->batch), 0);
    //  One in flight: the next commits keep their ops ...
    ck_assert_int_eq (s_add (run, 1), 0);
    ck_assert_int_eq (batch_commit (run->batch), 0);
    ck_assert_int_eq (s_add (run, 2), 0);
    ck_assert_int_eq (batch_commit (run->batch), 0);
    ck_assert_uint_eq (batch_size (run->batch), 2);
    ck_assert_uint_eq (batch_calls (run->batch), 1);
    //  ... and op 0's answer adds op 3 behind them.
    run->add_on = 0;
    run->add_id = 3;
    //  ... which go as one call when the reply comes.
    s_run_until (run, 0, 4);
    s_assert_in_order (run, 4);
    ck_assert_int_eq (run->nulls, 0);
    ck_assert_int_eq (run->bad, 0);
    ck_assert_uint_eq (batch_calls (run->batch), 2);
    ck_assert_uint_eq (batch_ops (run->batch), 4);
    ck_assert_int_eq (batch_inflight (run->batch), 0);
    ck_assert_uint_eq (batch_size (run->batch), 0);
    //  A full batch goes at once, whatever is in flight.
    batch_t *small = batch_new (run->store, 2);
    ck_assert_ptr_nonnull (small);
    batch_destroy (&run->batch);
    run->batch = small;
    ck_assert_int_eq (s_add (run, 4), 0);
    ck_assert_int_eq (batch_commit (run->batch), 0);
    ck_assert_int_eq (s_add (run, 5), 0);
    ck_assert_int_eq (s_add (run, 6), 0);
    ck_assert_int_eq (batch_inflight (run->batch), 2);
    ck_assert_uint_eq (batch_size (run->batch), 0);
    ck_assert_int_eq (s_add (run, 7), 0);
    ck_assert_int_eq (batch_commit (run->batch), 0);
    ck_assert_uint_eq (batch_size (run->batch), 1); //  held
    s_run_until (run, 0, 8);
    ck_assert_int_eq (run->n, 8);
    for (int i = 4; i < 8; i++) {
        ck_assert_int_eq (run->answers[i], 1);
        ck_assert_int_eq (run->order[i], i);
    }
    ck_assert_uint_eq (batch_calls (run->batch), 3);
    ck_assert_int_eq (run->nulls, 0);
    s_run_destroy (&run);
}
END_TEST

START_TEST (test_group_commit_limit)
{
    //  With a limit of 2 the second commit still sends.
    s_run_t *run = s_run_new (64, 5000);
    batch_set_inflight (run->batch, 2);
    ck_assert_int_eq (s_add (run, 0), 0);
    ck_assert_int_eq (batch_commit (run->batch), 0);
    ck_assert_int_eq (s_add (run, 1), 0);
    ck_assert_int_eq (batch_commit (run->batch), 0);
    ck_assert_int_eq (s_add (run, 2), 0);
    ck_assert_int_eq (batch_commit (run->batch), 0);
    ck_assert_int_eq (batch_inflight (run->batch), 2);
    ck_assert_uint_eq (batch_size (run->batch), 1);
    s_run_until (run, 0, 3);
    s_assert_in_order (run, 3);
    ck_assert_uint_eq (batch_calls (run->batch), 3);
    s_run_destroy (&run);
}
END_TEST

//  Ops in flight (0) and held (1, 2): the store answers 0 with NULL, and
//  1, 2 can no longer be sent: NULL too, each once.
static void
s_in_flight_and_held (s_run_t *run)
{
    ck_assert_int_eq (s_add (run, 0), 0);
    ck_assert_int_eq (batch_commit (run->batch), 0);
    ck_assert_int_eq (s_add (run, 1), 0);
    ck_assert_int_eq (s_add (run, 2), 0);
    ck_assert_int_eq (batch_commit (run->batch), 0);
    ck_assert_uint_eq (batch_size (run->batch), 2);
}

START_TEST (test_group_commit_destroy)
{
    s_run_t *run = s_run_new (64, 5000);
    s_in_flight_and_held (run);
    store_destroy (&run->store);
    s_assert_in_order (run, 3);
    ck_assert_int_eq (run->nulls, 3);
    ck_assert_int_eq (batch_inflight (run->batch), 0);
    ck_assert_uint_eq (batch_size (run->batch), 0);
    //  Ops never flushed are answered by batch_destroy.
    ck_assert_int_eq (s_add (run, 3), 0);
    batch_destroy (&run->batch);
    s_assert_in_order (run, 4);
    ck_assert_int_eq (run->nulls, 4);
    s_run_destroy (&run);
}
END_TEST

START_TEST (test_group_commit_drop)
{
    //  Redis stops answering: the deadline drops the connection.
    s_run_t *run = s_run_new (64, 200);
    redisReply *r =
        (redisReply *) redisCommand (s_ctx, "CLIENT PAUSE 3000 ALL");
    ck_assert_ptr_nonnull (r);
    ck_assert_int_eq (r->type, REDIS_REPLY_STATUS);
    freeReplyObject (r);
    s_in_flight_and_held (run);
    s_run_until (run, 0, 3);
    s_assert_in_order (run, 3);
    ck_assert_int_eq (run->nulls, 3);
    ck_assert_int_eq (batch_inflight (run->batch), 0);
    ck_assert_uint_eq (batch_size (run->batch), 0);
    freeReplyObject (redisCommand (s_ctx, "CLIENT UNPAUSE"));
    s_run_destroy (&run);
}
END_TEST

//  calls.c builds what the scripts take: a pair's opens, finds and leave
//  made from frames as the engine makes them, through a batch.
typedef struct {
    s_run_t *run; //  its n counts the answers (s_run_until)
    int n;
    char status[8][16];
} s_statuses_t;

static void
s_on_status (redisReply *reply, void *arg)
{
    s_statuses_t *st = (s_statuses_t *) arg;
    const char *status = "?";
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
        && reply->element[0]->type == REDIS_REPLY_STRING)
        status = reply->element[0]->str;
    if (st->n < 8)
        snprintf (st->status[st->n], sizeof st->status[0], "%s", status);
    st->n++;
    st->run->n++;
}

//  A frame of kind about session sid (and peer, match; "" = none).
static frame_t *
s_frame (frame_kind_t kind, const char *sid, const char *peer,
         const char *match)
{
    frame_t *f = frame_new (kind);
    ck_assert_ptr_nonnull (f);
    frame_set_str (f->gateway, sizeof f->gateway, "gw-1", 4);
    frame_set_str (f->session, sizeof f->session, sid, strlen (sid));
    frame_set_str (f->peer, sizeof f->peer, peer, strlen (peer));
    frame_set_str (f->match, sizeof f->match, match, strlen (match));
    return f;
}

START_TEST (test_calls_through_batch)
{
    s_run_t *run = s_run_new (OPS_MAX, 1000);
    run->config.session_ttl = 3600;
    run->config.match_ttl = 600;
    run->config.interest_wait_ms = 0;
    run->config.rematch_block_ms = 60000;
    calls_t calls;
    calls_init (&calls, &run->config);
    char a[33], b[33], m1[33], m2[33], hash[33];
    s_id (a, 11, 1);
    s_id (b, 11, 2);
    s_id (m1, 11, 3);
    s_id (m2, 11, 4);
    s_id (hash, 11, 5);
    frame_t *frames[] = {
        s_frame (FRAME_HELLO, "", "", ""), s_frame (FRAME_OPEN, a, "", ""),
        s_frame (FRAME_OPEN, b, "", ""),   s_frame (FRAME_FIND, a, "", m1),
        s_frame (FRAME_FIND, b, "", m2),   s_frame (FRAME_LEAVE, b, a, "")};
    enum { N = sizeof frames / sizeof frames[0] };
    frame_set_payload (frames[1], hash, 32);
    frame_set_payload (frames[2], hash, 32);
    frame_set_str (frames[3]->type, sizeof frames[3]->type, "video", 5);
    frame_set_str (frames[4]->type, sizeof frames[4]->type, "video", 5);
    s_statuses_t st = {.run = run};
    for (int i = 0; i < N; i++) {
        const char *argv[CALLS_ARGS_MAX];
        size_t lens[CALLS_ARGS_MAX];
        int argc = 0;
        int script =
            calls_build (&calls, frames[i], "", 1000000000, argv, lens, &argc);
        ck_assert_int_ge (script, 0);
        ck_assert_int_le (argc, CALLS_ARGS_MAX);
        ck_assert_int_eq (
            batch_add (run->batch, script, argc, argv, lens, s_on_status, &st),
            0);
    }
    batch_commit (run->batch);
    s_run_until (run, 0, N);
    const char *want[N] = {"ok", "ok", "ok", "waiting", "matched", "ended"};
    ck_assert_int_eq (st.n, N);
    for (int i = 0; i < N; i++)
        ck_assert_str_eq (st.status[i], want[i]);
    //  A kind that makes no Redis call.
    frame_t *pulse = frame_new (FRAME_PULSE);
    const char *argv[CALLS_ARGS_MAX];
    size_t lens[CALLS_ARGS_MAX];
    int argc = 0;
    ck_assert_int_eq (
        calls_build (&calls, pulse, "", 1000000000, argv, lens, &argc), -1);
    frame_destroy (&pulse);
    for (int i = 0; i < N; i++)
        frame_destroy (&frames[i]);
    s_run_destroy (&run);
}
END_TEST

START_TEST (test_no_batching)
{
    //  MEGLE_BATCH_MAX=1: every op its own call, commit has nothing to do.
    s_run_t *run = s_run_new (1, 5000);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq (s_add (run, i), 0);
        ck_assert_int_eq (batch_commit (run->batch), 0);
    }
    ck_assert_uint_eq (batch_size (run->batch), 0);
    ck_assert_uint_eq (batch_calls (run->batch), 3);
    s_run_until (run, 0, 3);
    s_assert_in_order (run, 3);
    ck_assert_int_eq (run->nulls + run->bad, 0);
    s_run_destroy (&run);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("batch");
    TCase *tc = tcase_create ("batch.lua");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_mixed_ops);
    tcase_add_test (tc, test_failing_op_fails_alone);
    tcase_add_test (tc, test_finds_of_one_batch_match);
    tcase_add_test (tc, test_order_of_one_session);
    tcase_add_test (tc, test_malformed_batch);
    tcase_add_test (tc, test_short_forms);
    tcase_add_test (tc, test_full_batch);
    suite_add_tcase (suite, tc);
    tc = tcase_create ("batch.c");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_group_commit);
    tcase_add_test (tc, test_group_commit_limit);
    tcase_add_test (tc, test_group_commit_destroy);
    tcase_add_test (tc, test_group_commit_drop);
    tcase_add_test (tc, test_no_batching);
    tcase_add_test (tc, test_calls_through_batch);
    suite_add_tcase (suite, tc);
    return suite;
}

int
main (int argc, char **argv)
{
    const char *binary = argc > 1 ? argv[1] : "redis-server";
    if (s_redis_start (binary, "batch") != 0) {
        fprintf (stderr, "test_batch: cannot start %s\n", binary);
        s_redis_stop ();
        return 1;
    }
    int rc = check_main_run (s_suite ());
    s_redis_stop ();
    return rc;
}
