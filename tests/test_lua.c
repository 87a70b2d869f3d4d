//  test_lua - the matcher's Lua scripts (matcher/lua, as embedded by
//  megle_matcher_core) against a real redis-server: matching, routing,
//  leaving, closing, gateway death, modes, interests and their relaxation,
//  recent partners, and the matching invariants under concurrency (8
//  processes, 1000 sessions of both modes with colliding interests,
//  random closes and relaxations).
//
//  The suite starts its own redis-server (no TCP port: a unix socket in a
//  temporary directory) and kills it at exit, also when a test fails. The
//  redis-server binary is argv[1] (default: redis-server on PATH).
//  The fixture's state is file-static: Check's fixtures take no argument.

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <hiredis/hiredis.h>

#include "scripts.h"
#include "check_main.h"
#include "redis_fixture.h"

//  The scripts' clock and knobs in these tests: now (ms), the interest
//  wait, the re-match block. FIND_TAIL ends a find for video without
//  interests at NOW.
#define NOW       "1000000000"
#define NOW_MS    1000000000LL
#define WAIT      "10000"
#define BLOCK     "60000"
#define FIND_TAIL "video", "", NOW, WAIT

#define WORKERS    8
#define PER_WORKER 125 //  8 x 125 = 1000 sessions
#define CHUNK      25  //  commands per pipelined round trip

static char s_sha[SCRIPT_COUNT][41];
static redisContext *s_ctx; //  the current test's connection

//  --------------------------------------------------------------------
//  Helpers

//  Load every script (SCRIPT LOAD of the embedded source) on c.
static int
s_load_scripts (redisContext *c)
{
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        redisReply *r = (redisReply *) redisCommand (c, "SCRIPT LOAD %s",
                                                     script_source (i));
        if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
            fprintf (stderr, "SCRIPT LOAD %s: %s\n", script_name (i),
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "?");
            freeReplyObject (r);
            return -1;
        }
        memcpy (s_sha[i], r->str, 41);
        freeReplyObject (r);
    }
    return 0;
}

//  Build an EVALSHA command line for script with NULL-terminated ARGV.
static int
s_build (int script, va_list args, const char **argv, size_t *lens, int max)
{
    int argc = 0;
    argv[argc++] = "EVALSHA";
    argv[argc++] = s_sha[script];
    argv[argc++] = SCRIPT_NKEYS_STR;
    argv[argc++] = SCRIPT_KEY_GATEWAYS;
    const char *arg;
    while ((arg = va_arg (args, const char *)) && argc < max)
        argv[argc++] = arg;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen (argv[i]);
    return argc;
}

//  Run script synchronously; caller frees the reply.
static redisReply *
s_eval (redisContext *c, int script, ...)
{
    const char *argv[16];
    size_t lens[16];
    va_list args;
    va_start (args, script);
    int argc = s_build (script, args, argv, lens, 16);
    va_end (args);
    return (redisReply *) redisCommandArgv (c, argc, argv, lens);
}

//  Queue script on c's pipeline (read the reply with redisGetReply).
static void
s_append (redisContext *c, int script, ...)
{
    const char *argv[16];
    size_t lens[16];
    va_list args;
    va_start (args, script);
    int argc = s_build (script, args, argv, lens, 16);
    va_end (args);
    redisAppendCommandArgv (c, argc, argv, lens);
}

static const char *
s_el (const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements
        || r->element[i]->type != REDIS_REPLY_STRING)
        return "";
    return r->element[i]->str;
}

//  Run script and check that its status (first element) is `expect`.
#define EXPECT_STATUS(expect, ...)                                             \
    do {                                                                       \
        redisReply *r_ = s_eval (s_ctx, __VA_ARGS__, (char *) NULL);           \
        ck_assert_ptr_nonnull (r_);                                            \
        ck_assert_msg (r_->type == REDIS_REPLY_ARRAY, "not an array: %s",      \
                       r_->type == REDIS_REPLY_ERROR ? r_->str : "?");         \
        ck_assert_str_eq (s_el (r_, 0), expect);                               \
        freeReplyObject (r_);                                                  \
    } while (0)

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

static long long
s_int (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    redisReply *r = (redisReply *) redisvCommand (s_ctx, format, args);
    va_end (args);
    long long value = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject (r);
    return value;
}

//  The recent partners of sid: the `r:<other>` fields of its hash
//  (lib.lua). How many there are; until when (ms) other is one (0: not).
static long
s_recent_count (const char *sid)
{
    redisReply *r =
        (redisReply *) redisCommand (s_ctx, "HKEYS {megle}:s:%s", sid);
    long count = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements;
         i++)
        count += strncmp (r->element[i]->str, "r:", 2) == 0;
    freeReplyObject (r);
    return count;
}

static long long
s_recent_until (const char *sid, const char *other)
{
    char field[40];
    snprintf (field, sizeof field, "r:%s", other);
    return atoll (s_field (sid, field));
}

//  Count keys matching pattern (SCAN, never KEYS).
static long
s_count_keys (redisContext *c, const char *pattern)
{
    long count = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = (redisReply *) redisCommand (
            c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject (r);
            return -1;
        }
        snprintf (cursor, sizeof cursor, "%s", r->element[0]->str);
        count += (long) r->element[1]->elements;
        freeReplyObject (r);
    } while (strcmp (cursor, "0"));
    return count;
}

//  Deterministic, distinct, well-formed ids: 32 lower-case hex digits.
static void
s_make_id (char *out, unsigned a, unsigned b)
{
    snprintf (out, 33, "%08x%08x%08x%08x", a, b, (unsigned) rand (),
              (unsigned) rand ());
}

static void
s_open (const char *sid, const char *gw)
{
    EXPECT_STATUS ("ok", SCRIPT_OPEN, sid, gw, "iphash", "3600");
}

//  Make a and b (on gw_a, gw_b) a match; returns its id in mid.
static void
s_pair (const char *a, const char *gw_a, const char *b, const char *gw_b,
        char *mid)
{
    char id[33];
    s_make_id (id, 0xffff, 1);
    EXPECT_STATUS ("waiting", SCRIPT_FIND, a, gw_a, id, "600", "3600",
                   FIND_TAIL);
    s_make_id (mid, 0xffff, 2);
    redisReply *r = s_eval (s_ctx, SCRIPT_FIND, b, gw_b, mid, "600", "3600",
                            FIND_TAIL, (char *) NULL);
    ck_assert_str_eq (s_el (r, 0), "matched");
    ck_assert_str_eq (s_el (r, 1), a);
    ck_assert_str_eq (s_el (r, 2), gw_a);
    ck_assert_str_eq (s_el (r, 3), mid);
    freeReplyObject (r);
}

static void
s_setup (void)
{
    s_ctx = s_connect ();
    ck_assert_ptr_nonnull (s_ctx);
    freeReplyObject (redisCommand (s_ctx, "FLUSHALL"));
    ck_assert_int_eq (s_load_scripts (s_ctx), 0);
}

static void
s_teardown (void)
{
    redisFree (s_ctx);
    s_ctx = NULL;
}

//  --------------------------------------------------------------------
//  Tests

START_TEST (test_find_pairs_two)
{
    char a[33], b[33], mid[33];
    s_make_id (a, 1, 1);
    s_make_id (b, 1, 2);
    s_open (a, "gw-1");
    s_open (b, "gw-2");
    s_pair (a, "gw-1", b, "gw-2", mid);
    ck_assert_str_eq (s_field (a, "state"), "matched");
    ck_assert_str_eq (s_field (a, "partner"), b);
    ck_assert_str_eq (s_field (a, "match"), mid);
    ck_assert_str_eq (s_field (b, "state"), "matched");
    ck_assert_str_eq (s_field (b, "partner"), a);
    ck_assert_str_eq (s_field (b, "match"), mid);
    ck_assert_int_eq (s_int ("SCARD {megle}:q:video"), 0);
    long long ttl = s_int ("TTL {megle}:m:%s", mid);
    ck_assert (ttl > 0 && ttl <= 600);
    ck_assert (s_int ("TTL {megle}:s:%s", a) > 0);
    //  find while matched
    EXPECT_STATUS ("already_matched", SCRIPT_FIND, a, "gw-1", mid, "600",
                   "3600", FIND_TAIL);
    EXPECT_STATUS ("already_matched", SCRIPT_FIND, b, "gw-2", mid, "600",
                   "3600", FIND_TAIL);
    ck_assert_str_eq (s_field (a, "partner"), b);
}
END_TEST

START_TEST (test_double_find_queues_once)
{
    char a[33], b[33], c[33], mid[33];
    s_make_id (a, 2, 1);
    s_make_id (b, 2, 2);
    s_make_id (c, 2, 3);
    s_open (a, "gw-1");
    s_open (b, "gw-1");
    s_open (c, "gw-1");
    s_make_id (mid, 2, 9);
    EXPECT_STATUS ("waiting", SCRIPT_FIND, a, "gw-1", mid, "600", "3600",
                   FIND_TAIL);
    EXPECT_STATUS ("waiting", SCRIPT_FIND, a, "gw-1", mid, "600", "3600",
                   FIND_TAIL);
    ck_assert_int_eq (s_int ("SCARD {megle}:q:video"), 1);
    //  b takes a; c must not get a too
    EXPECT_STATUS ("matched", SCRIPT_FIND, b, "gw-1", mid, "600", "3600",
                   FIND_TAIL);
    EXPECT_STATUS ("waiting", SCRIPT_FIND, c, "gw-1", mid, "600", "3600",
                   FIND_TAIL);
    ck_assert_str_eq (s_field (a, "partner"), b);
    ck_assert_str_eq (s_field (c, "state"), "waiting");
    ck_assert_str_eq (s_field (c, "partner"), "");
}
END_TEST

START_TEST (test_no_self_match_and_ghosts)
{
    char a[33], b[33], ghost[33], mid[33];
    s_make_id (a, 3, 1);
    s_make_id (b, 3, 2);
    s_make_id (ghost, 3, 3);
    s_make_id (mid, 3, 9);
    s_open (a, "gw-1");
    //  a stale queue entry of a itself while idle: a must not pop itself
    freeReplyObject (redisCommand (s_ctx, "SADD {megle}:q:video %s", a));
    EXPECT_STATUS ("waiting", SCRIPT_FIND, a, "gw-1", mid, "600", "3600",
                   FIND_TAIL);
    ck_assert_str_eq (s_field (a, "partner"), "");
    ck_assert_int_eq (s_int ("SCARD {megle}:q:video"), 1);
    //  a session that expired but stayed queued is a ghost
    freeReplyObject (redisCommand (s_ctx, "SADD {megle}:q:video %s", ghost));
    s_open (b, "gw-2");
    redisReply *r = s_eval (s_ctx, SCRIPT_FIND, b, "gw-2", mid, "600", "3600",
                            FIND_TAIL, (char *) NULL);
    ck_assert_str_eq (s_el (r, 0), "matched");
    ck_assert_str_eq (s_el (r, 1), a);
    freeReplyObject (r);
    //  the ghost is never matched: a lone finder drops it and waits
    char c[33];
    s_make_id (c, 3, 4);
    s_open (c, "gw-2");
    EXPECT_STATUS ("waiting", SCRIPT_FIND, c, "gw-2", mid, "600", "3600",
                   FIND_TAIL);
    ck_assert_int_eq (s_int ("SISMEMBER {megle}:q:video %s", ghost), 0);
    ck_assert_int_eq (s_int ("SCARD {megle}:q:video"), 1);
}
END_TEST

START_TEST (test_find_unknown_session)
{
    char a[33], mid[33];
    s_make_id (a, 4, 1);
    s_make_id (mid, 4, 2);
    EXPECT_STATUS ("gone", SCRIPT_FIND, a, "gw-1", mid, "600", "3600",
                   FIND_TAIL);
    ck_assert_int_eq (s_int ("SCARD {megle}:q:video"), 0);
}
END_TEST

START_TEST (test_open_is_idempotent)
{
    char a[33], mid[33];
    s_make_id (a, 5, 1);
    s_make_id (mid, 5, 2);
    s_open (a, "gw-1");
    ck_assert_str_eq (s_field (a, "state"), "idle");
    ck_assert_str_eq (s_field (a, "ip"), "iphash");
    ck_assert_int_eq (s_int ("SISMEMBER {megle}:gw:gw-1 %s", a), 1);
    EXPECT_STATUS ("waiting", SCRIPT_FIND, a, "gw-1", mid, "600", "3600",
                   FIND_TAIL);
    EXPECT_STATUS ("exists", SCRIPT_OPEN, a, "gw-1", "other", "3600");
    ck_assert_str_eq (s_field (a, "state"), "waiting");
}
END_TEST

START_TEST (test_route)
{
    char a[33], b[33], c[33], mid[33], mid2[33];
    s_make_id (a, 6, 1);
    s_make_id (b, 6, 2);
    s_make_id (c, 6, 3);
    s_open (a, "gw-a");
    s_open (b, "gw-b");
    s_open (c, "gw-c");
    EXPECT_STATUS ("not_matched", SCRIPT_ROUTE, a, b, "");
    s_pair (a, "gw-a", b, "gw-b", mid);
    redisReply *r = s_eval (s_ctx, SCRIPT_ROUTE, a, b, "", (char *) NULL);
    ck_assert_str_eq (s_el (r, 0), "ok");
    ck_assert_str_eq (s_el (r, 1), "gw-b");
    ck_assert_str_eq (s_el (r, 2), mid);
    freeReplyObject (r);
    r = s_eval (s_ctx, SCRIPT_ROUTE, b, a, mid, (char *) NULL);
    ck_assert_str_eq (s_el (r, 0), "ok");
    ck_assert_str_eq (s_el (r, 1), "gw-a");
    freeReplyObject (r);
    EXPECT_STATUS ("not_partner", SCRIPT_ROUTE, a, c, "");
    EXPECT_STATUS ("not_matched", SCRIPT_ROUTE, c, a, "");
    //  chat and typing name no target: the partner, in the given match
    r = s_eval (s_ctx, SCRIPT_ROUTE, a, "", mid, (char *) NULL);
    ck_assert_str_eq (s_el (r, 0), "ok");
    ck_assert_str_eq (s_el (r, 1), "gw-b");
    ck_assert_str_eq (s_el (r, 2), mid);
    ck_assert_str_eq (s_el (r, 3), b);
    freeReplyObject (r);
    EXPECT_STATUS ("not_matched", SCRIPT_ROUTE, c, "", "");
    //  a new match of the same two: the old match id is refused
    EXPECT_STATUS ("ended", SCRIPT_LEAVE, a, "", "3600", NOW, BLOCK);
    EXPECT_STATUS ("not_matched", SCRIPT_ROUTE, a, b, mid);
    s_pair (a, "gw-a", b, "gw-b", mid2);
    EXPECT_STATUS ("not_partner", SCRIPT_ROUTE, a, b, mid);
    EXPECT_STATUS ("not_partner", SCRIPT_ROUTE, a, "", mid);
    EXPECT_STATUS ("ok", SCRIPT_ROUTE, a, b, mid2);
    EXPECT_STATUS ("ok", SCRIPT_ROUTE, b, "", mid2);
    //  a half-broken pair (partner no longer points back) routes nothing
    freeReplyObject (
        redisCommand (s_ctx, "HSET {megle}:s:%s partner %s", b, c));
    EXPECT_STATUS ("not_matched", SCRIPT_ROUTE, a, b, "");
}
END_TEST

START_TEST (test_leave)
{
    char a[33], b[33], c[33], mid[33];
    s_make_id (a, 7, 1);
    s_make_id (b, 7, 2);
    s_make_id (c, 7, 3);
    s_open (a, "gw-a");
    s_open (b, "gw-b");
    s_open (c, "gw-c");
    EXPECT_STATUS ("not_matched", SCRIPT_LEAVE, a, "", "3600", NOW, BLOCK);
    s_pair (a, "gw-a", b, "gw-b", mid);
    EXPECT_STATUS ("not_partner", SCRIPT_LEAVE, a, c, "3600", NOW, BLOCK);
    ck_assert_str_eq (s_field (a, "partner"), b);
    redisReply *r =
        s_eval (s_ctx, SCRIPT_LEAVE, a, b, "3600", NOW, BLOCK, (char *) NULL);
    ck_assert_str_eq (s_el (r, 0), "ended");
    ck_assert_str_eq (s_el (r, 1), b);
    ck_assert_str_eq (s_el (r, 2), "gw-b");
    ck_assert_str_eq (s_el (r, 3), mid);
    freeReplyObject (r);
    ck_assert_str_eq (s_field (a, "state"), "idle");
    ck_assert_str_eq (s_field (a, "partner"), "");
    ck_assert_str_eq (s_field (b, "state"), "idle");
    ck_assert_str_eq (s_field (b, "match"), "");
    ck_assert_int_eq (s_int ("EXISTS {megle}:m:%s", mid), 0);
    EXPECT_STATUS ("not_matched", SCRIPT_LEAVE, b, "", "3600", NOW, BLOCK);
    //  leaving the queue
    EXPECT_STATUS ("waiting", SCRIPT_FIND, a, "gw-a", mid, "600", "3600",
                   FIND_TAIL);
    EXPECT_STATUS ("unqueued", SCRIPT_LEAVE, a, "", "3600", NOW, BLOCK);
    ck_assert_int_eq (s_int ("SCARD {megle}:q:video"), 0);
    ck_assert_str_eq (s_field (a, "state"), "idle");
    //  a left session is not matched afterwards
    EXPECT_STATUS ("waiting", SCRIPT_FIND, c, "gw-c", mid, "600", "3600",
                   FIND_TAIL);
    ck_assert_str_eq (s_field (a, "state"), "idle");
}
END_TEST

START_TEST (test_close)
{
    char a[33], b[33], c[33], d[33], mid[33];
    s_make_id (a, 8, 1);
    s_make_id (b, 8, 2);
    s_make_id (c, 8, 3);
    s_make_id (d, 8, 4);
    s_open (a, "gw-a");
    s_open (b, "gw-b");
    s_open (c, "gw-c");
    s_open (d, "gw-c");
    //  a queued session that closes is never matched afterwards
    EXPECT_STATUS ("waiting", SCRIPT_FIND, a, "gw-a", mid, "600", "3600",
                   FIND_TAIL);
    EXPECT_STATUS ("closed", SCRIPT_CLOSE, a, "gw-a", NOW, BLOCK);
    ck_assert_int_eq (s_int ("EXISTS {megle}:s:%s", a), 0);
    ck_assert_int_eq (s_int ("SISMEMBER {megle}:gw:gw-a %s", a), 0);
    ck_assert_int_eq (s_int ("SCARD {megle}:q:video"), 0);
    EXPECT_STATUS ("waiting", SCRIPT_FIND, b, "gw-b", mid, "600", "3600",
                   FIND_TAIL);
    //  a matched session that closes: its partner is reported, made idle
    s_make_id (mid, 8, 9);
    redisReply *r = s_eval (s_ctx, SCRIPT_FIND, c, "gw-c", mid, "600", "3600",
                            FIND_TAIL, (char *) NULL);
    ck_assert_str_eq (s_el (r, 0), "matched");
    ck_assert_str_eq (s_el (r, 1), b);
    freeReplyObject (r);
    r = s_eval (s_ctx, SCRIPT_CLOSE, b, "gw-b", NOW, BLOCK, (char *) NULL);
    ck_assert_str_eq (s_el (r, 0), "ended");
    ck_assert_str_eq (s_el (r, 1), c);
    ck_assert_str_eq (s_el (r, 2), "gw-c");
    ck_assert_str_eq (s_el (r, 3), mid);
    freeReplyObject (r);
    ck_assert_str_eq (s_field (c, "state"), "idle");
    ck_assert_int_eq (s_int ("EXISTS {megle}:m:%s", mid), 0);
    EXPECT_STATUS ("not_matched", SCRIPT_ROUTE, c, b, "");
    //  c and d find each other, not the closed b
    EXPECT_STATUS ("waiting", SCRIPT_FIND, c, "gw-c", mid, "600", "3600",
                   FIND_TAIL);
    r = s_eval (s_ctx, SCRIPT_FIND, d, "gw-c", mid, "600", "3600", FIND_TAIL,
                (char *) NULL);
    ck_assert_str_eq (s_el (r, 1), c);
    freeReplyObject (r);
    //  closing an unknown session is harmless
    EXPECT_STATUS ("closed", SCRIPT_CLOSE, a, "gw-a", NOW, BLOCK);
}
END_TEST

START_TEST (test_gw_dead)
{
    char a1[33], a2[33], a3[33], a4[33], b1[33], mid[33], mid2[33];
    s_make_id (a1, 9, 1);
    s_make_id (a2, 9, 2);
    s_make_id (a3, 9, 3);
    s_make_id (a4, 9, 4);
    s_make_id (b1, 9, 5);
    for (int i = 0; i < 4; i++)
        s_open (i == 0 ? a1 : i == 1 ? a2 : i == 2 ? a3 : a4, "gw-a");
    s_open (b1, "gw-b");
    s_pair (a1, "gw-a", b1, "gw-b", mid);  //  across gateways
    s_pair (a3, "gw-a", a4, "gw-a", mid2); //  both on the dying one
    EXPECT_STATUS ("waiting", SCRIPT_FIND, a2, "gw-a", mid, "600", "3600",
                   FIND_TAIL);
    EXPECT_STATUS ("ok", SCRIPT_GW_BEAT, "gw-a", "1000");
    EXPECT_STATUS ("ok", SCRIPT_GW_BEAT, "gw-b", "1000");
    ck_assert_int_eq (s_int ("HEXISTS {megle}:gws gw-a"), 1);
    //  heard at 1000: not dead for a deadline of 900
    EXPECT_STATUS ("alive", SCRIPT_GW_DEAD, "gw-a", "900", NOW, BLOCK);
    ck_assert_int_eq (s_int ("SCARD {megle}:gw:gw-a"), 4);
    redisReply *r = s_eval (s_ctx, SCRIPT_GW_DEAD, "gw-a", "2000", NOW, BLOCK,
                            (char *) NULL);
    ck_assert_str_eq (s_el (r, 0), "dead");
    ck_assert_int_eq ((long) r->elements, 5); //  only b1 is told
    ck_assert_str_eq (s_el (r, 1), b1);
    ck_assert_str_eq (s_el (r, 2), "gw-b");
    ck_assert_str_eq (s_el (r, 3), a1);
    ck_assert_str_eq (s_el (r, 4), mid);
    freeReplyObject (r);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:s:*"), 1);
    ck_assert_int_eq (s_int ("EXISTS {megle}:gw:gw-a"), 0);
    ck_assert_int_eq (s_int ("HEXISTS {megle}:gws gw-a"), 0);
    ck_assert_int_eq (s_int ("HEXISTS {megle}:gws gw-b"), 1);
    ck_assert_int_eq (s_int ("SCARD {megle}:q:video"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:m:*"), 0);
    ck_assert_str_eq (s_field (b1, "state"), "idle");
    ck_assert_str_eq (s_field (b1, "partner"), "");
    //  b1 keeps a1 as a recent partner (in its hash) until it closes
    ck_assert (s_recent_until (b1, a1) > 0);
    ck_assert_int_eq (s_recent_count (b1), 1);
    //  unconditional (BYE) on an empty gateway
    EXPECT_STATUS ("dead", SCRIPT_GW_DEAD, "gw-a", "", NOW, BLOCK);
    EXPECT_STATUS ("dead", SCRIPT_GW_DEAD, "gw-b", "", NOW, BLOCK);
    //  b1 kept a1 as a recent partner until it closed too: nothing left.
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:*"), 0);
}
END_TEST

//  --------------------------------------------------------------------
//  Modes, interests, relaxation, recent partners

//  find for sid at now_ms with mode and interests ("\n"-joined); the
//  reply (caller frees). A fresh match id each time.
static redisReply *
s_find (const char *sid, const char *gw, const char *mode,
        const char *interests, long long now_ms)
{
    static unsigned counter;
    char mid[33], now[24];
    s_make_id (mid, 0xeeee, ++counter);
    snprintf (now, sizeof now, "%lld", now_ms);
    return s_eval (s_ctx, SCRIPT_FIND, sid, gw, mid, "600", "3600", mode,
                   interests, now, WAIT, (char *) NULL);
}

static void
s_find_status (const char *expect, const char *sid, const char *mode,
               const char *interests, long long now_ms)
{
    redisReply *r = s_find (sid, "gw-1", mode, interests, now_ms);
    ck_assert_msg (!strcmp (s_el (r, 0), expect),
                   "find %.8s %s at %lld: %s %.8s, want %s", sid, interests,
                   now_ms, s_el (r, 0), s_el (r, 1), expect);
    freeReplyObject (r);
}

//  find that must match sid with cand in mode, sharing `shared`.
static void
s_find_matches (const char *sid, const char *mode, const char *interests,
                long long now_ms, const char *cand, const char *shared)
{
    redisReply *r = s_find (sid, "gw-1", mode, interests, now_ms);
    ck_assert_str_eq (s_el (r, 0), "matched");
    ck_assert_str_eq (s_el (r, 1), cand);
    ck_assert_str_eq (s_el (r, 4), mode);
    ck_assert_str_eq (s_el (r, 5), shared);
    freeReplyObject (r);
    ck_assert_str_eq (s_field (sid, "partner"), cand);
    ck_assert_str_eq (s_field (cand, "partner"), sid);
}

//  relax at now_ms with `mids` fresh match ids (caller frees the reply).
static redisReply *
s_relax (long long now_ms, int mids)
{
    const char *argv[8 + SCRIPT_RELAX_BATCH];
    size_t lens[8 + SCRIPT_RELAX_BATCH];
    char ids[SCRIPT_RELAX_BATCH][33], now[24];
    snprintf (now, sizeof now, "%lld", now_ms);
    int argc = 0;
    argv[argc++] = "EVALSHA";
    argv[argc++] = s_sha[SCRIPT_RELAX];
    argv[argc++] = SCRIPT_NKEYS_STR;
    argv[argc++] = SCRIPT_KEY_GATEWAYS;
    argv[argc++] = now;
    argv[argc++] = "600";
    argv[argc++] = "3600";
    for (int i = 0; i < mids && i < SCRIPT_RELAX_BATCH; i++) {
        s_make_id (ids[i], 0xdddd, (unsigned) i);
        argv[argc++] = ids[i];
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen (argv[i]);
    return (redisReply *) redisCommandArgv (s_ctx, argc, argv, lens);
}

static long long
s_reply_int (const redisReply *r, size_t i)
{
    ck_assert (r && r->type == REDIS_REPLY_ARRAY && i < r->elements);
    ck_assert_int_eq (r->element[i]->type, REDIS_REPLY_INTEGER);
    return r->element[i]->integer;
}

//  Is sid in queue key (a set, or a relax zset)?
static int
s_in (const char *key, const char *sid)
{
    if (strstr (key, ":relax:")) {
        redisReply *r =
            (redisReply *) redisCommand (s_ctx, "ZSCORE %s %s", key, sid);
        int in = r && r->type == REDIS_REPLY_STRING;
        freeReplyObject (r);
        return in;
    }
    return s_int ("SISMEMBER %s %s", key, sid) == 1;
}

//  How many queues (any mode, any kind) hold sid.
static int
s_queue_count (const char *sid)
{
    int count = 0;
    const char *patterns[] = {"{megle}:q:*", "{megle}:qi:*", "{megle}:relax:*"};
    for (int p = 0; p < 3; p++) {
        char cursor[32] = "0";
        do {
            redisReply *r = (redisReply *) redisCommand (
                s_ctx, "SCAN %s MATCH %s COUNT 1000", cursor, patterns[p]);
            ck_assert_ptr_nonnull (r);
            snprintf (cursor, sizeof cursor, "%s", r->element[0]->str);
            for (size_t i = 0; i < r->element[1]->elements; i++)
                count += s_in (r->element[1]->element[i]->str, sid);
            freeReplyObject (r);
        } while (strcmp (cursor, "0"));
    }
    return count;
}

//  sid waits in exactly the queues of mode and interests (NULL-terminated
//  list): each interest queue, and the random queue if relaxed (or no
//  interests), else the relax set.
static void
s_assert_queued (const char *sid, const char *mode, const char **interests,
                 int relaxed)
{
    char key[128];
    int n = 0;
    for (; interests && interests[n]; n++) {
        snprintf (key, sizeof key, "{megle}:qi:%s:%s", mode, interests[n]);
        ck_assert_msg (s_in (key, sid), "%s not in %s", sid, key);
    }
    snprintf (key, sizeof key, "{megle}:q:%s", mode);
    ck_assert_int_eq (s_in (key, sid), relaxed || n == 0);
    snprintf (key, sizeof key, "{megle}:relax:%s", mode);
    ck_assert_int_eq (s_in (key, sid), !relaxed && n > 0);
    ck_assert_int_eq (s_queue_count (sid), n + 1);
    ck_assert_str_eq (s_field (sid, "state"), "waiting");
    ck_assert_str_eq (s_field (sid, "mode"), mode);
}

START_TEST (test_modes)
{
    char v1[33], t1[33], t2[33], v2[33];
    s_make_id (v1, 20, 1);
    s_make_id (t1, 20, 2);
    s_make_id (t2, 20, 3);
    s_make_id (v2, 20, 4);
    s_open (v1, "gw-1");
    s_open (t1, "gw-1");
    s_open (t2, "gw-1");
    s_open (v2, "gw-1");
    s_find_status ("waiting", v1, "video", "", NOW_MS);
    //  a text finder never takes a video waiter, and the other way round
    s_find_status ("waiting", t1, "text", "", NOW_MS);
    s_assert_queued (v1, "video", NULL, 0);
    s_assert_queued (t1, "text", NULL, 0);
    s_find_matches (t2, "text", "", NOW_MS, t1, "");
    s_find_matches (v2, "video", "", NOW_MS, v1, "");
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:q:*"), 0);
    //  the match hash records the mode
    char key[64];
    snprintf (key, sizeof key, "{megle}:m:%s", s_field (t1, "match"));
    redisReply *r = (redisReply *) redisCommand (s_ctx, "HGET %s mode", key);
    ck_assert_str_eq (r->str, "text");
    freeReplyObject (r);
    //  an unknown mode is video (the matcher checks it before)
    char x[33];
    s_make_id (x, 20, 5);
    s_open (x, "gw-1");
    s_find_status ("waiting", x, "", "", NOW_MS);
    s_assert_queued (x, "video", NULL, 0);
}
END_TEST

START_TEST (test_interests)
{
    char a[33], b[33], c[33], d[33];
    s_make_id (a, 21, 1);
    s_make_id (b, 21, 2);
    s_make_id (c, 21, 3);
    s_make_id (d, 21, 4);
    s_open (a, "gw-1");
    s_open (b, "gw-1");
    s_open (c, "gw-1");
    s_open (d, "gw-1");
    //  a waits for music or chess: in both interest queues and the relax
    //  set (due after the wait), not in the random queue
    s_find_status ("waiting", a, "video", "music\nchess", NOW_MS);
    const char *ai[] = {"music", "chess", NULL};
    s_assert_queued (a, "video", ai, 0);
    redisReply *r =
        (redisReply *) redisCommand (s_ctx, "ZSCORE {megle}:relax:video %s", a);
    ck_assert_int_eq (atoll (r->str), NOW_MS + 10000);
    freeReplyObject (r);
    //  a second find changes nothing (and keeps the due time)
    s_find_status ("waiting", a, "text", "go", NOW_MS + 5000);
    s_assert_queued (a, "video", ai, 0);
    ck_assert_int_eq (s_int ("ZSCORE {megle}:relax:video %s", a), -1);
    r = (redisReply *) redisCommand (s_ctx, "ZSCORE {megle}:relax:video %s", a);
    ck_assert_int_eq (atoll (r->str), NOW_MS + 10000);
    freeReplyObject (r);
    //  b, without interests, does not get a (a waits for a shared one)
    s_find_status ("waiting", b, "video", "", NOW_MS);
    s_assert_queued (b, "video", NULL, 0);
    //  c shares chess: it takes a, which leaves all its queues at once
    s_find_matches (c, "video", "go\nchess\nmusic", NOW_MS, a, "chess\nmusic");
    ck_assert_int_eq (s_queue_count (a), 0);
    ck_assert_int_eq (s_queue_count (c), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:qi:*"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:relax:*"), 0);
    s_assert_queued (b, "video", NULL, 0);
    //  d with an interest nobody shares waits; leaving takes it out of
    //  every queue; so does closing
    s_find_status ("waiting", d, "video", "knitting", NOW_MS);
    const char *di[] = {"knitting", NULL};
    s_assert_queued (d, "video", di, 0);
    EXPECT_STATUS ("unqueued", SCRIPT_LEAVE, d, "", "3600", NOW, BLOCK);
    ck_assert_int_eq (s_queue_count (d), 0);
    ck_assert_str_eq (s_field (d, "state"), "idle");
    s_find_status ("waiting", d, "text", "knitting\nyarn", NOW_MS);
    const char *di2[] = {"knitting", "yarn", NULL};
    s_assert_queued (d, "text", di2, 0);
    EXPECT_STATUS ("closed", SCRIPT_CLOSE, d, "gw-1", NOW, BLOCK);
    ck_assert_int_eq (s_queue_count (d), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:qi:*"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:relax:*"), 0);
}
END_TEST

START_TEST (test_relax)
{
    char a[33], b[33], c[33], d[33], e[33], ghost[33];
    s_make_id (a, 22, 1);
    s_make_id (b, 22, 2);
    s_make_id (c, 22, 3);
    s_make_id (d, 22, 4);
    s_make_id (e, 22, 5);
    s_make_id (ghost, 22, 6);
    s_open (a, "gw-a");
    s_open (b, "gw-b");
    s_open (c, "gw-c");
    s_open (d, "gw-d");
    s_open (e, "gw-e");
    const long long t0 = NOW_MS;
    s_find_status ("waiting", a, "video", "x", t0);        //  due t0 + 10 s
    s_find_status ("waiting", c, "video", "y", t0 + 4000); //  due t0 + 14 s
    s_find_status ("waiting", b, "video", "", t0 + 5000);  //  random queue
    //  a ghost in the relax set (its session is gone) is dropped
    freeReplyObject (
        redisCommand (s_ctx, "ZADD {megle}:relax:video 1 %s", ghost));
    //  before a's wait is over, relax moves nobody
    redisReply *r = s_relax (t0 + 9999, 8);
    ck_assert_str_eq (s_el (r, 0), "relaxed");
    ck_assert_int_eq (s_reply_int (r, 1), 0);
    ck_assert_int_eq ((long) r->elements, 3);
    freeReplyObject (r);
    ck_assert_int_eq (s_int ("ZCARD {megle}:relax:video"), 2); //  a, c
    //  at a's due time: a is opened to random strangers and takes b at
    //  once (a initiates); c still waits for y
    r = s_relax (t0 + 10000, 8);
    ck_assert_int_eq (s_reply_int (r, 1), 1);
    ck_assert_int_eq ((long) r->elements, 3 + 7);
    ck_assert_str_eq (s_el (r, 2), "0");
    ck_assert_str_eq (s_el (r, 3), a);
    ck_assert_str_eq (s_el (r, 4), "gw-a");
    ck_assert_str_eq (s_el (r, 5), b);
    ck_assert_str_eq (s_el (r, 6), "gw-b");
    ck_assert_str_eq (s_el (r, 8), "video");
    ck_assert_str_eq (s_el (r, 9), "");
    ck_assert_str_eq (s_field (a, "match"), s_el (r, 7));
    freeReplyObject (r);
    ck_assert_str_eq (s_field (b, "partner"), a);
    ck_assert_int_eq (s_queue_count (a), 0);
    ck_assert_int_eq (s_queue_count (b), 0);
    const char *ci[] = {"y", NULL};
    s_assert_queued (c, "video", ci, 0);
    //  c's turn: nobody in the random queue, so c waits there, still in
    //  its interest queue
    r = s_relax (t0 + 14000, 8);
    ck_assert_int_eq (s_reply_int (r, 1), 1);
    ck_assert_int_eq ((long) r->elements, 3);
    freeReplyObject (r);
    s_assert_queued (c, "video", ci, 1);
    ck_assert_str_eq (s_field (c, "relaxed"), "1");
    //  a relaxed session is still found through its interest queue...
    s_find_matches (d, "video", "y", t0 + 14000, c, "y");
    ck_assert_int_eq (s_queue_count (c), 0);
    ck_assert_str_eq (s_field (c, "relaxed"), "");
    //  ...and, once relaxed, by a stranger without interests
    s_find_status ("waiting", e, "video", "z", t0 + 14000);
    r = s_relax (t0 + 24000, 8);
    freeReplyObject (r);
    char f[33];
    s_make_id (f, 22, 7);
    s_open (f, "gw-f");
    s_find_matches (f, "video", "", t0 + 24000, e, "");
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:relax:*"), 0);
}
END_TEST

START_TEST (test_relax_is_bounded)
{
    //  5 due sessions, 2 match ids per call: 2 handled per call, and the
    //  reply says more are due until none is
    char ids[5][33];
    for (unsigned i = 0; i < 5; i++) {
        s_make_id (ids[i], 23, i);
        s_open (ids[i], "gw-1");
        char interest[8];
        snprintf (interest, sizeof interest, "i%u", i);
        s_find_status ("waiting", ids[i], "text", interest, NOW_MS + i);
    }
    int calls = 0;
    long long moved = 0, matches = 0;
    for (;;) {
        redisReply *r = s_relax (NOW_MS + 20000, 2);
        calls++;
        long long n = s_reply_int (r, 1);
        ck_assert (n <= 2);
        moved += n;
        matches += (long long) (r->elements - 3) / 7;
        int more = !strcmp (s_el (r, 2), "1");
        freeReplyObject (r);
        if (!more)
            break;
        ck_assert_int_lt (calls, 10);
    }
    ck_assert_int_eq (moved, 5);
    //  ids 0+1 and 2+3 meet in the random queue; 4 waits there
    ck_assert_int_eq (matches, 2);
    ck_assert_int_eq (s_int ("SCARD {megle}:q:text"), 1);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:relax:*"), 0);
}
END_TEST

START_TEST (test_recent_partners)
{
    char a[33], b[33], c[33], mid[33];
    s_make_id (a, 24, 1);
    s_make_id (b, 24, 2);
    s_make_id (c, 24, 3);
    s_open (a, "gw-1");
    s_open (b, "gw-1");
    s_open (c, "gw-1");
    //  a and b share x; a skips b: each is the other's recent partner
    s_find_status ("waiting", b, "video", "x", NOW_MS);
    s_find_matches (a, "video", "x\ny", NOW_MS, b, "x");
    EXPECT_STATUS ("ended", SCRIPT_LEAVE, a, "", "3600", NOW, BLOCK);
    ck_assert_int_eq (s_recent_until (a, b), NOW_MS + 60000);
    ck_assert_int_eq (s_recent_until (b, a), NOW_MS + 60000);
    redisReply *r;
    //  b waits for x, c for y; a (x first, then y) skips b for c
    s_find_status ("waiting", b, "video", "x", NOW_MS + 1);
    s_find_status ("waiting", c, "video", "y", NOW_MS + 1);
    s_find_matches (a, "video", "x\ny", NOW_MS + 2, c, "y");
    //  a leaves c too; now only b waits for x: alone, a meets b again
    EXPECT_STATUS ("ended", SCRIPT_LEAVE, a, "", "3600", NOW, BLOCK);
    EXPECT_STATUS ("closed", SCRIPT_CLOSE, c, "gw-1", NOW, BLOCK);
    s_find_matches (a, "video", "x", NOW_MS + 3, b, "x");
    //  without interests: alone, the two meet again at once
    EXPECT_STATUS ("ended", SCRIPT_LEAVE, b, "", "3600", NOW, BLOCK);
    s_find_status ("waiting", a, "video", "", NOW_MS + 4);
    s_find_matches (b, "video", "", NOW_MS + 4, a, "");
    EXPECT_STATUS ("ended", SCRIPT_LEAVE, b, "", "3600", NOW, BLOCK);
    //  with interests, not alone (d waits in the random queue): b waits
    //  rather than meet a again, and finds d when its wait is over
    char d[33];
    s_make_id (d, 24, 4);
    s_open (d, "gw-1");
    s_find_status ("waiting", d, "video", "", NOW_MS + 5);
    s_find_status ("waiting", a, "video", "x", NOW_MS + 5);
    s_find_status ("waiting", b, "video", "x", NOW_MS + 6);
    r = s_relax (NOW_MS + 10005, 8);
    ck_assert_int_eq ((long) r->elements, 3 + 7);
    ck_assert_str_eq (s_el (r, 3), a); //  a's wait ends first: a gets d
    ck_assert_str_eq (s_el (r, 5), d);
    freeReplyObject (r);
    //  the block is over: a and b are strangers again
    EXPECT_STATUS ("ended", SCRIPT_LEAVE, a, "", "3600", NOW, BLOCK);
    EXPECT_STATUS ("closed", SCRIPT_CLOSE, d, "gw-1", NOW, BLOCK);
    ck_assert_int_eq (s_queue_count (b), 2); //  qi:x + relax
    //  e waits at random: while the block lasts a waits rather than meet
    //  b again; once it is over, a takes b
    char e[33];
    s_make_id (e, 24, 5);
    s_open (e, "gw-1");
    s_find_status ("waiting", e, "video", "", NOW_MS + 7);
    s_find_status ("waiting", a, "video", "x", NOW_MS + 30000);
    EXPECT_STATUS ("unqueued", SCRIPT_LEAVE, a, "", "3600", NOW, BLOCK);
    s_find_matches (a, "video", "x", NOW_MS + 60001, b, "x");
    //  a block of 0 records nobody
    long before = s_recent_count (a);
    EXPECT_STATUS ("ended", SCRIPT_LEAVE, a, "", "3600", "1000070000", "0");
    ck_assert_int_eq (s_recent_count (a), before);
    ck_assert_int_eq (s_recent_until (a, b), NOW_MS + 60000);
    (void) mid;
}
END_TEST

//  A recent partner found first in an interest queue is put back there
//  (pick takes one member with SPOP and returns the unusable ones), and
//  the stranger waiting with it is taken instead.
START_TEST (test_recent_partner_stays_queued)
{
    char a[33], b[33], d[33], e[33];
    //  SPOP takes b or d at random: enough rounds to see both orders
    for (unsigned round = 0; round < 12; round++) {
        freeReplyObject (redisCommand (s_ctx, "FLUSHALL"));
        s_make_id (a, 26, round);
        s_make_id (b, 27, round);
        s_make_id (d, 28, round);
        s_make_id (e, 29, round);
        s_open (a, "gw-1");
        s_open (b, "gw-1");
        s_open (d, "gw-1");
        s_open (e, "gw-1");
        //  b and d, then a and b, become recent partners
        s_find_status ("waiting", b, "video", "x", NOW_MS);
        s_find_matches (d, "video", "x", NOW_MS, b, "x");
        EXPECT_STATUS ("ended", SCRIPT_LEAVE, d, "", "3600", NOW, BLOCK);
        s_find_status ("waiting", a, "video", "x", NOW_MS + 1);
        s_find_matches (b, "video", "x", NOW_MS + 1, a, "x");
        EXPECT_STATUS ("ended", SCRIPT_LEAVE, b, "", "3600", NOW, BLOCK);
        //  e waits at random, so d is not alone: b and d both wait for x
        s_find_status ("waiting", e, "video", "", NOW_MS + 2);
        s_find_status ("waiting", b, "video", "x", NOW_MS + 2);
        s_find_status ("waiting", d, "video", "x", NOW_MS + 2);
        ck_assert_int_eq (s_int ("SCARD {megle}:qi:video:x"), 2);
        //  a skips b (recent) for d; b stays queued
        s_find_matches (a, "video", "x", NOW_MS + 3, d, "x");
        ck_assert_int_eq (s_int ("SISMEMBER {megle}:qi:video:x %s", b), 1);
        ck_assert_int_eq (s_int ("SCARD {megle}:qi:video:x"), 1);
        s_assert_queued (b, "video", (const char *[]){"x", NULL}, 0);
    }
}
END_TEST

//  Expired recent partners are pruned (every 8 additions, see lib.lua's
//  next_rn), so a session that keeps meeting people keeps a small set;
//  the newest entries stay.
START_TEST (test_recent_partners_pruned)
{
    char a[33], p[33], last[33] = "", now[24];
    s_make_id (a, 28, 0);
    s_open (a, "gw-1");
    for (unsigned k = 0; k < 40; k++) {
        //  100 s apart: each earlier block (60 s) is over
        long long t = NOW_MS + (long long) k * 100000;
        snprintf (now, sizeof now, "%lld", t);
        s_make_id (p, 28, k + 1);
        s_open (p, "gw-1");
        s_find_status ("waiting", p, "video", "", t);
        s_find_matches (a, "video", "", t, p, "");
        EXPECT_STATUS ("ended", SCRIPT_LEAVE, a, "", "3600", now, BLOCK);
        ck_assert_int_le (s_recent_count (a), 16);
        ck_assert_int_eq (s_recent_until (a, p), t + 60000);
        ck_assert_int_eq (s_recent_until (p, a), t + 60000);
        if (last[0]) //  the previous partner is a stranger again
            EXPECT_STATUS ("closed", SCRIPT_CLOSE, last, "gw-1", now, BLOCK);
        snprintf (last, sizeof last, "%s", p);
    }
    EXPECT_STATUS ("closed", SCRIPT_CLOSE, last, "gw-1", now, BLOCK);
    EXPECT_STATUS ("closed", SCRIPT_CLOSE, a, "gw-1", now, BLOCK);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:s:*"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:q:*"), 0);
}
END_TEST

//  A session remembers only its newest recent partners (lib.lua: the
//  RECENT_MAX = 8 newest kept at a prune, one every PRUNE_EVERY = 8
//  additions): one that meets 40 strangers within a block never holds
//  more than 16 entries, always the newest 8 among them, and has
//  forgotten the first; meeting one again keeps one entry for it.
START_TEST (test_recent_partners_capped)
{
    char a[33], p[40][33], now[24];
    s_make_id (a, 29, 0);
    s_open (a, "gw-1");
    for (unsigned k = 0; k < 40; k++) {
        //  1 s apart: every block (60 s) still runs
        long long t = NOW_MS + (long long) k * 1000;
        snprintf (now, sizeof now, "%lld", t);
        s_make_id (p[k], 29, k + 1);
        s_open (p[k], "gw-1");
        s_find_status ("waiting", p[k], "video", "", t);
        s_find_matches (a, "video", "", t, p[k], "");
        EXPECT_STATUS ("ended", SCRIPT_LEAVE, a, "", "3600", now, BLOCK);
        ck_assert_int_le (s_recent_count (a), 16);
        for (unsigned j = k >= 7 ? k - 7 : 0; j <= k; j++)
            ck_assert_int_eq (s_recent_until (a, p[j]),
                              NOW_MS + (long long) j * 1000 + 60000);
        ck_assert_int_eq (s_recent_until (p[k], a), t + 60000);
    }
    ck_assert_int_eq (s_recent_until (a, p[0]), 0);
    //  p[0], who met nobody else, still remembers a
    ck_assert_int_eq (s_recent_until (p[0], a), NOW_MS + 60000);
    //  alone, a meets p[39] again: one entry, the new time
    long before = s_recent_count (a);
    s_find_status ("waiting", p[39], "video", "", NOW_MS + 41000);
    s_find_matches (a, "video", "", NOW_MS + 41000, p[39], "");
    EXPECT_STATUS ("ended", SCRIPT_LEAVE, a, "", "3600", "1000041000", BLOCK);
    ck_assert_int_le (s_recent_count (a), before);
    ck_assert_int_eq (s_recent_until (a, p[39]), NOW_MS + 41000 + 60000);
    for (unsigned k = 0; k < 40; k++)
        EXPECT_STATUS ("closed", SCRIPT_CLOSE, p[k], "gw-1", now, BLOCK);
    EXPECT_STATUS ("closed", SCRIPT_CLOSE, a, "gw-1", now, BLOCK);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:s:*"), 0);
}
END_TEST

//  The mode and interests ("\n"-joined) every find of sid uses in the
//  concurrency test: a function of the id, so that any worker can check
//  any match. About half text, half video; a third without interests,
//  the others with one to three of a small pool (so interests collide).
static void
s_profile (const char *sid, const char **mode_p, char *interests, size_t size)
{
    unsigned h = 2166136261u;
    for (const char *p = sid; *p; p++)
        h = (h ^ (unsigned char) *p) * 16777619u;
    *mode_p = h & 1 ? "text" : "video";
    static const char *pool[] = {"music", "chess", "go", "film"};
    interests[0] = '\0';
    if ((h >> 1) % 3 == 0)
        return;
    size_t n = 0;
    for (int i = 0; i < 4; i++)
        if ((h >> (3 + i)) & 1 || (i == 3 && n == 0))
            n += (size_t) snprintf (interests + n, size - n, "%s%s",
                                    n ? "\n" : "", pool[i]);
}

//  Split "\n"-joined text (modified in place) into at most max items.
static int
s_split (char *text, char **items, int max)
{
    int n = 0;
    for (char *save = NULL, *t = strtok_r (text, "\n", &save); t && n < max;
         t = strtok_r (NULL, "\n", &save))
        items[n++] = t;
    return n;
}

//  The interests a and b share, in a's order, "\n"-joined.
static void
s_shared (const char *a, const char *b, char *out, size_t size)
{
    const char *mode;
    char ia[64], ib[64], *la[8], *lb[8];
    s_profile (a, &mode, ia, sizeof ia);
    s_profile (b, &mode, ib, sizeof ib);
    int na = s_split (ia, la, 8), nb = s_split (ib, lb, 8);
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (!strcmp (la[i], lb[j]))
                n += (size_t) snprintf (out + n, size - n, "%s%s",
                                        n ? "\n" : "", la[i]);
}

//  A match a reply reported (initiator sid, its candidate, mode, shared)
//  is right: same mode for both, the shared interests exactly.
static int
s_match_ok (const char *sid, const char *cand, const char *mode,
            const char *shared)
{
    const char *ms, *mc;
    char is[64], shared_want[64];
    s_profile (sid, &ms, is, sizeof is);
    s_profile (cand, &mc, is, sizeof is);
    s_shared (sid, cand, shared_want, sizeof shared_want);
    return strcmp (sid, cand) && !strcmp (ms, mc) && !strcmp (ms, mode)
           && !strcmp (shared, shared_want);
}

//  One worker of the concurrency test: opens its sessions on gateway
//  gw-<k>, then finds for all of them (some twice), closes some and runs
//  the relax script (every interest wait over) now and then, pipelined
//  in chunks; records what it saw in megle-test:* keys. Exits 0 if every
//  reply was well-formed and every match right.
static void
s_worker (int k)
{
    srand ((unsigned) (k * 7919 + 17));
    redisContext *c = s_connect ();
    if (!c || s_load_scripts (c))
        _exit (1);
    char gw[16];
    snprintf (gw, sizeof gw, "gw-%d", k);
    char sids[PER_WORKER][33];
    for (int i = 0; i < PER_WORKER; i++)
        s_make_id (sids[i], (unsigned) k, (unsigned) i);
    for (int i = 0; i < PER_WORKER; i++)
        s_append (c, SCRIPT_OPEN, sids[i], gw, "ip", "3600", (char *) NULL);
    for (int i = 0; i < PER_WORKER; i++) {
        redisReply *r;
        if (redisGetReply (c, (void **) &r) != REDIS_OK
            || strcmp (s_el (r, 0), "ok"))
            _exit (2);
        freeReplyObject (r);
    }
    //  Operations: find i, sometimes a second find, sometimes a close of
    //  an earlier session (likely queued or freshly matched), sometimes
    //  a relax.
    enum { OP_FIND, OP_CLOSE, OP_RELAX };
    typedef struct {
        int op;
        int i;
    } op_t;
    op_t ops[PER_WORKER * 4];
    int nops = 0;
    for (int i = 0; i < PER_WORKER; i++) {
        ops[nops++] = (op_t){OP_FIND, i};
        if (rand () % 4 == 0)
            ops[nops++] = (op_t){OP_FIND, rand () % (i + 1)};
        if (rand () % 6 == 0)
            ops[nops++] = (op_t){OP_CLOSE, rand () % (i + 1)};
        if (rand () % 10 == 0)
            ops[nops++] = (op_t){OP_RELAX, 0};
    }
    char relax_now[24];
    snprintf (relax_now, sizeof relax_now, "%lld", NOW_MS + 20000);
    for (int start = 0; start < nops; start += CHUNK) {
        int end = start + CHUNK < nops ? start + CHUNK : nops;
        char mids[CHUNK][4][33];
        for (int o = start; o < end; o++) {
            const char *sid = sids[ops[o].i];
            char (*m)[33] = mids[o - start];
            for (unsigned j = 0; j < 4; j++)
                s_make_id (m[j], 0xf0000000u | (unsigned) k,
                           (unsigned) o * 4 + j);
            if (ops[o].op == OP_CLOSE)
                s_append (c, SCRIPT_CLOSE, sid, gw, NOW, BLOCK, (char *) NULL);
            else if (ops[o].op == OP_RELAX)
                s_append (c, SCRIPT_RELAX, relax_now, "600", "3600", m[0], m[1],
                          m[2], m[3], (char *) NULL);
            else {
                const char *mode;
                char interests[64];
                s_profile (sid, &mode, interests, sizeof interests);
                s_append (c, SCRIPT_FIND, sid, gw, m[0], "600", "3600", mode,
                          interests, NOW, WAIT, (char *) NULL);
            }
        }
        //  Read the chunk's replies first, then record what they said
        //  (a command sent now would read a reply meant for the pipeline).
        redisReply *replies[CHUNK];
        for (int o = start; o < end; o++) {
            redisReply *r;
            if (redisGetReply (c, (void **) &r) != REDIS_OK
                || r->type != REDIS_REPLY_ARRAY) {
                fprintf (stderr, "worker %d: %s\n", k,
                         r && r->type == REDIS_REPLY_ERROR ? r->str : "?");
                _exit (3);
            }
            replies[o - start] = r;
        }
        for (int o = start; o < end; o++) {
            redisReply *r = replies[o - start];
            const char *sid = sids[ops[o].i];
            const char *status = s_el (r, 0);
            if (ops[o].op == OP_CLOSE) {
                freeReplyObject (
                    redisCommand (c, "SADD megle-test:closed %s", sid));
                if (!strcmp (status, "ended"))
                    freeReplyObject (redisCommand (
                        c, "SADD megle-test:orphans %s", s_el (r, 1)));
                else if (strcmp (status, "closed"))
                    _exit (4);
            } else if (ops[o].op == OP_RELAX) {
                if (strcmp (status, "relaxed") || r->elements < 3
                    || (r->elements - 3) % 7)
                    _exit (7);
                for (size_t t = 3; t + 6 < r->elements; t += 7) {
                    freeReplyObject (
                        redisCommand (c, "RPUSH megle-test:events %s %s",
                                      s_el (r, t), s_el (r, t + 2)));
                    if (!s_match_ok (s_el (r, t), s_el (r, t + 2),
                                     s_el (r, t + 5), s_el (r, t + 6))) {
                        fprintf (stderr, "worker %d: bad relax match\n", k);
                        _exit (8);
                    }
                }
            } else if (!strcmp (status, "matched")) {
                freeReplyObject (redisCommand (
                    c, "RPUSH megle-test:events %s %s", sid, s_el (r, 1)));
                //  the candidate's gateway is the worker that opened it
                char cand_gw[16];
                unsigned owner = 0;
                sscanf (s_el (r, 1), "%8x", &owner);
                snprintf (cand_gw, sizeof cand_gw, "gw-%u", owner);
                if (strcmp (s_el (r, 2), cand_gw)
                    || strcmp (s_el (r, 3), mids[o - start][0])
                    || !s_match_ok (sid, s_el (r, 1), s_el (r, 4), s_el (r, 5)))
                    _exit (5);
            } else if (strcmp (status, "waiting")
                       && strcmp (status, "already_matched")
                       && strcmp (status, "gone")) {
                fprintf (stderr, "worker %d: find said %s\n", k, status);
                _exit (6);
            }
            freeReplyObject (r);
        }
    }
    redisFree (c);
    _exit (0);
}

static int
s_member (const char *set, const char *sid)
{
    return s_int ("SISMEMBER %s %s", set, sid) == 1;
}

//  Two sessions waiting in one interest queue must be recent partners
//  (else the later one would have taken the earlier one).
static void
s_check_interest_queues (void)
{
    char cursor[32] = "0";
    do {
        redisReply *r = (redisReply *) redisCommand (
            s_ctx, "SCAN %s MATCH {megle}:qi:* COUNT 1000", cursor);
        ck_assert_ptr_nonnull (r);
        snprintf (cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *m = (redisReply *) redisCommand (
                s_ctx, "SMEMBERS %s", r->element[1]->element[i]->str);
            for (size_t x = 0; x < m->elements; x++)
                for (size_t y = x + 1; y < m->elements; y++) {
                    const char *a = m->element[x]->str;
                    const char *b = m->element[y]->str;
                    ck_assert_msg (s_recent_until (a, b) > NOW_MS,
                                   "%s and %s wait in %s unmatched", a, b,
                                   r->element[1]->element[i]->str);
                }
            freeReplyObject (m);
        }
        freeReplyObject (r);
    } while (strcmp (cursor, "0"));
}

START_TEST (test_concurrency)
{
    pid_t pids[WORKERS];
    for (int k = 0; k < WORKERS; k++) {
        pids[k] = fork ();
        ck_assert_int_ge (pids[k], 0);
        if (pids[k] == 0)
            s_worker (k);
    }
    for (int k = 0; k < WORKERS; k++) {
        int status = 0;
        ck_assert_int_eq (waitpid (pids[k], &status, 0), pids[k]);
        ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                       "worker %d failed (status %d)", k, status);
    }
    //  Walk every session left.
    long sessions = 0, matched = 0, waiting = 0, idle = 0, random = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = (redisReply *) redisCommand (
            s_ctx, "SCAN %s MATCH {megle}:s:* COUNT 1000", cursor);
        ck_assert_ptr_nonnull (r);
        snprintf (cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            char sid[33], partner[33], mid[33], state[16], mode[8];
            char interests[64], relaxed[4];
            snprintf (sid, sizeof sid, "%s",
                      r->element[1]->element[i]->str + strlen ("{megle}:s:"));
            sessions++;
            ck_assert_msg (!s_member ("megle-test:closed", sid),
                           "closed session %s still has a hash", sid);
            snprintf (state, sizeof state, "%s", s_field (sid, "state"));
            snprintf (partner, sizeof partner, "%s", s_field (sid, "partner"));
            snprintf (mid, sizeof mid, "%s", s_field (sid, "match"));
            snprintf (mode, sizeof mode, "%s", s_field (sid, "mode"));
            snprintf (interests, sizeof interests, "%s",
                      s_field (sid, "interests"));
            snprintf (relaxed, sizeof relaxed, "%s", s_field (sid, "relaxed"));
            if (!strcmp (state, "matched")) {
                matched++;
                ck_assert_str_ne (partner, sid);
                ck_assert_str_eq (s_field (partner, "state"), "matched");
                ck_assert_str_eq (s_field (partner, "partner"), sid);
                ck_assert_str_eq (s_field (partner, "match"), mid);
                //  nobody is matched across modes
                ck_assert_str_eq (s_field (partner, "mode"), mode);
                ck_assert_int_eq (s_int ("EXISTS {megle}:m:%s", mid), 1);
                ck_assert_int_eq (s_queue_count (sid), 0);
            } else if (!strcmp (state, "waiting")) {
                waiting++;
                //  in every queue of its mode and interests, and no other
                char *list[8] = {NULL};
                int n = s_split (interests, list, 7);
                s_assert_queued (sid, mode, (const char **) list,
                                 relaxed[0] == '1');
                random += relaxed[0] == '1' || n == 0;
            } else {
                ck_assert_str_eq (state, "idle");
                idle++;
                ck_assert_msg (s_member ("megle-test:orphans", sid),
                               "idle session %s was never left", sid);
                ck_assert_int_eq (s_queue_count (sid), 0);
            }
        }
        freeReplyObject (r);
    } while (strcmp (cursor, "0"));
    long closed = (long) s_int ("SCARD megle-test:closed");
    ck_assert_int_eq (sessions + closed, WORKERS * PER_WORKER);
    //  A random queue holds at most one session: a second one takes it.
    ck_assert_int_le (s_int ("SCARD {megle}:q:video"), 1);
    ck_assert_int_le (s_int ("SCARD {megle}:q:text"), 1);
    ck_assert_int_eq (s_int ("SCARD {megle}:q:video")
                          + s_int ("SCARD {megle}:q:text"),
                      random);
    s_check_interest_queues ();
    ck_assert_int_eq (matched % 2, 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:m:*"), matched / 2);
    //  Each session was matched at most once, unless its partner closed
    //  (then a second find may match it again).
    redisReply *events =
        (redisReply *) redisCommand (s_ctx, "LRANGE megle-test:events 0 -1");
    ck_assert_ptr_nonnull (events);
    ck_assert (events->elements >= (size_t) matched);
    for (size_t i = 0; i < events->elements; i++) {
        const char *sid = events->element[i]->str;
        long long seen = s_int ("HINCRBY megle-test:seen %s 1", sid);
        ck_assert_msg (seen == 1 || s_member ("megle-test:orphans", sid),
                       "%s matched twice without being left", sid);
    }
    freeReplyObject (events);
    fprintf (stderr,
             "concurrency: %ld sessions left (%ld matched, %ld waiting, "
             "%ld idle), %ld closed\n",
             sessions, matched, waiting, idle, closed);
    ck_assert (matched > 0 && closed > 0);

    //  Everyone closes: nothing of them may remain, not even recent
    //  partners (each close deletes its own list).
    for (int k = 0; k < WORKERS; k++) {
        char gw[16];
        snprintf (gw, sizeof gw, "{megle}:gw:gw-%d", k);
        redisReply *members =
            (redisReply *) redisCommand (s_ctx, "SMEMBERS %s", gw);
        ck_assert_ptr_nonnull (members);
        for (size_t i = 0; i < members->elements; i++)
            s_append (s_ctx, SCRIPT_CLOSE, members->element[i]->str, gw + 11,
                      NOW, BLOCK, (char *) NULL);
        for (size_t i = 0; i < members->elements; i++) {
            redisReply *r;
            ck_assert_int_eq (redisGetReply (s_ctx, (void **) &r), REDIS_OK);
            ck_assert_msg (r->type == REDIS_REPLY_ARRAY, "close failed");
            freeReplyObject (r);
        }
        freeReplyObject (members);
    }
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:q:*"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:qi:*"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:relax:*"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:r:*"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:s:*"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:gw:*"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:m:*"), 0);
    ck_assert_int_eq (s_count_keys (s_ctx, "{megle}:*"), 0);
}
END_TEST

START_TEST (test_noscript_source_runs_as_eval)
{
    //  What the matcher does before SCRIPT LOAD answers or after a
    //  SCRIPT FLUSH: EVAL of the same embedded source.
    char a[33];
    s_make_id (a, 10, 1);
    freeReplyObject (redisCommand (s_ctx, "SCRIPT FLUSH"));
    redisReply *r =
        s_eval (s_ctx, SCRIPT_OPEN, a, "gw-1", "ip", "60", (char *) NULL);
    ck_assert_int_eq (r->type, REDIS_REPLY_ERROR);
    ck_assert (!strncmp (r->str, "NOSCRIPT", 8));
    freeReplyObject (r);
    const char *argv[] = {"EVAL",
                          script_source (SCRIPT_OPEN),
                          SCRIPT_NKEYS_STR,
                          SCRIPT_KEY_GATEWAYS,
                          a,
                          "gw-1",
                          "ip",
                          "60"};
    r = (redisReply *) redisCommandArgv (s_ctx, 8, argv, NULL);
    ck_assert_str_eq (s_el (r, 0), "ok");
    freeReplyObject (r);
    ck_assert_str_eq (s_field (a, "gw"), "gw-1");
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("lua");
    TCase *tc = tcase_create ("scripts");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_find_pairs_two);
    tcase_add_test (tc, test_double_find_queues_once);
    tcase_add_test (tc, test_no_self_match_and_ghosts);
    tcase_add_test (tc, test_find_unknown_session);
    tcase_add_test (tc, test_open_is_idempotent);
    tcase_add_test (tc, test_route);
    tcase_add_test (tc, test_leave);
    tcase_add_test (tc, test_close);
    tcase_add_test (tc, test_gw_dead);
    tcase_add_test (tc, test_noscript_source_runs_as_eval);
    tcase_add_test (tc, test_modes);
    tcase_add_test (tc, test_interests);
    tcase_add_test (tc, test_relax);
    tcase_add_test (tc, test_relax_is_bounded);
    tcase_add_test (tc, test_recent_partners);
    tcase_add_test (tc, test_recent_partner_stays_queued);
    tcase_add_test (tc, test_recent_partners_pruned);
    tcase_add_test (tc, test_recent_partners_capped);
    tcase_add_test (tc, test_concurrency);
    suite_add_tcase (suite, tc);
    return suite;
}

int
main (int argc, char **argv)
{
    const char *binary = argc > 1 ? argv[1] : "redis-server";
    if (s_redis_start (binary, "lua") != 0) {
        fprintf (stderr, "test_lua: cannot start %s\n", binary);
        s_redis_stop ();
        return 1;
    }
    int rc = check_main_run (s_suite ());
    s_redis_stop ();
    return rc;
}
