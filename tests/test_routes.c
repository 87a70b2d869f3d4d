//  test_routes - the matcher's route cache (matcher/routes.c), no network:
//  fill and hit, misses on a wrong match or target, expiry, eviction of
//  the oldest when full, cap 0 (off), ops in flight holding routes back
//  (the session's, its partner's, a gateway death's), forgetting, growth
//  past the first array, and learning from hand-built script replies
//  (find, route, leave, close, gw_dead).

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/id.h"
#include "proto/frame.h"
#include "routes.h"
#include "check_main.h"

#define TTL 600000 //  ms
#define T0  1000   //  a monotonic "now"

#define A  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C  "cccccccccccccccccccccccccccccccc"
#define D  "dddddddddddddddddddddddddddddddd"
#define M1 "11111111111111111111111111111111"
#define M2 "22222222222222222222222222222222"

static routes_t *s_routes;

static void
s_setup (void)
{
    s_routes = routes_new (100, TTL);
    ck_assert_ptr_nonnull (s_routes);
}

static void
s_teardown (void)
{
    routes_destroy (&s_routes);
    ck_assert_ptr_null (s_routes);
}

//  The gateway of sid's route for (mid, target), or NULL; *partner_p too.
static const char *
s_route (const char *sid, const char *mid, const char *target, uint64_t now)
{
    const char *partner = NULL;
    const char *gw = routes_lookup (s_routes, sid, mid, target, now, &partner);
    if (gw)
        ck_assert_ptr_nonnull (partner);
    return gw;
}

//  A script reply: an array of the given strings (NULL-terminated list).
//  Freed with s_reply_free.
static redisReply *
s_reply (const char *first, ...)
{
    redisReply *r = (redisReply *) calloc (1, sizeof *r);
    ck_assert_ptr_nonnull (r);
    r->type = REDIS_REPLY_ARRAY;
    r->element = (redisReply **) calloc (16, sizeof *r->element);
    va_list ap;
    va_start (ap, first);
    for (const char *s = first; s; s = va_arg (ap, const char *)) {
        ck_assert_uint_lt (r->elements, 16);
        redisReply *e = (redisReply *) calloc (1, sizeof *e);
        e->type = REDIS_REPLY_STRING;
        e->str = strdup (s);
        e->len = strlen (s);
        r->element[r->elements++] = e;
    }
    va_end (ap);
    return r;
}

static void
s_reply_free (redisReply *r)
{
    for (size_t i = 0; i < r->elements; i++) {
        free (r->element[i]->str);
        free (r->element[i]);
    }
    free (r->element);
    free (r);
}

static frame_t
s_frame (int kind, const char *gw, const char *sid)
{
    frame_t f;
    memset (&f, 0, sizeof f);
    f.kind = kind;
    snprintf (f.gateway, sizeof f.gateway, "%s", gw);
    snprintf (f.session, sizeof f.session, "%s", sid);
    return f;
}

//  Learn reply r (freed here) to a kind frame of sid on gw.
static void
s_learn (int kind, const char *gw, const char *sid, redisReply *r)
{
    frame_t f = s_frame (kind, gw, sid);
    routes_learn (s_routes, &f, r->element[0]->str, r, T0);
    s_reply_free (r);
}

START_TEST (test_fill_and_hit)
{
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    ck_assert_int_eq (routes_put (s_routes, A, B, "gw-2", M1, T0), 0);
    ck_assert_uint_eq (routes_size (s_routes), 1);
    const char *partner = NULL;
    const char *gw = routes_lookup (s_routes, A, M1, B, T0 + 1, &partner);
    ck_assert_str_eq (gw, "gw-2");
    ck_assert_str_eq (partner, B);
    //  Chat and typing name no target.
    ck_assert_str_eq (s_route (A, M1, "", T0 + 1), "gw-2");
    ck_assert_uint_eq (routes_hits (s_routes), 2);
    ck_assert_uint_eq (routes_misses (s_routes), 1);
}
END_TEST

START_TEST (test_miss_wrong_match_or_target)
{
    routes_put (s_routes, A, B, "gw-2", M1, T0);
    ck_assert_ptr_null (s_route (A, M2, B, T0)); //  another match
    ck_assert_ptr_null (s_route (A, "", B, T0)); //  no match stamped
    ck_assert_ptr_null (s_route (A, M1, C, T0)); //  not the partner
    ck_assert_ptr_null (s_route (B, M1, A, T0)); //  B's route not known
    ck_assert_uint_eq (routes_misses (s_routes), 4);
    ck_assert_uint_eq (routes_hits (s_routes), 0);
    ck_assert_str_eq (s_route (A, M1, B, T0), "gw-2"); //  still there
}
END_TEST

START_TEST (test_replace)
{
    routes_put (s_routes, A, B, "gw-2", M1, T0);
    routes_put (s_routes, A, C, "gw-3", M2, T0 + 5);
    ck_assert_uint_eq (routes_size (s_routes), 1);
    ck_assert_ptr_null (s_route (A, M1, B, T0 + 6));
    ck_assert_str_eq (s_route (A, M2, C, T0 + 6), "gw-3");
}
END_TEST

START_TEST (test_expiry)
{
    routes_put (s_routes, A, B, "gw-2", M1, T0);
    ck_assert_str_eq (s_route (A, M1, B, T0 + TTL - 1), "gw-2");
    ck_assert_ptr_null (s_route (A, M1, B, T0 + TTL));
    ck_assert_uint_eq (routes_size (s_routes), 0);
    //  A put sweeps what expired before it.
    routes_put (s_routes, A, B, "gw-2", M1, T0);
    routes_put (s_routes, C, D, "gw-2", M2, T0 + TTL + 1);
    ck_assert_uint_eq (routes_size (s_routes), 1);
}
END_TEST

START_TEST (test_evict_oldest)
{
    routes_t *small = routes_new (2, TTL);
    ck_assert_ptr_nonnull (small);
    routes_put (small, A, B, "gw-1", M1, T0);
    routes_put (small, B, A, "gw-1", M1, T0 + 1);
    routes_put (small, A, B, "gw-1", M1, T0 + 2); //  A is now the newest
    routes_put (small, C, D, "gw-1", M2, T0 + 3); //  full: B goes
    ck_assert_uint_eq (routes_size (small), 2);
    ck_assert_ptr_null (routes_lookup (small, B, M1, A, T0 + 4, NULL));
    ck_assert_ptr_nonnull (routes_lookup (small, A, M1, B, T0 + 4, NULL));
    ck_assert_ptr_nonnull (routes_lookup (small, C, M2, D, T0 + 4, NULL));
    routes_destroy (&small);
}
END_TEST

START_TEST (test_cap_zero_is_off)
{
    routes_t *off = routes_new (0, TTL);
    ck_assert_ptr_nonnull (off);
    ck_assert_int_eq (routes_put (off, A, B, "gw-1", M1, T0), -1);
    routes_pending_add (off, A);
    routes_pending_done (off, A);
    ck_assert_ptr_null (routes_lookup (off, A, M1, B, T0, NULL));
    ck_assert_uint_eq (routes_size (off), 0);
    ck_assert_uint_eq (routes_misses (off), 1);
    routes_destroy (&off);
}
END_TEST

START_TEST (test_refuses_bad_ids)
{
    char gw[ID_GATEWAY_MAX + 2];
    memset (gw, 'g', sizeof gw - 1);
    gw[sizeof gw - 1] = '\0';
    ck_assert_int_eq (routes_put (s_routes, A, B, gw, M1, T0), -1);
    ck_assert_int_eq (routes_put (s_routes, A "0", B, "gw-1", M1, T0), -1);
    ck_assert_int_eq (routes_put (s_routes, A, "", "gw-1", M1, T0), -1);
    ck_assert_int_eq (routes_put (s_routes, A, B, "gw-1", "", T0), -1);
    gw[ID_GATEWAY_MAX] = '\0'; //  64 characters: fits
    ck_assert_int_eq (routes_put (s_routes, A, B, gw, M1, T0), 0);
    ck_assert_str_eq (s_route (A, M1, B, T0), gw);
    //  An id too long to have a route is not counted (and harmless).
    routes_pending_add (s_routes, A "0");
    routes_pending_done (s_routes, A "0");
    ck_assert_str_eq (s_route (A, M1, B, T0), gw);
}
END_TEST

START_TEST (test_pending_holds_back)
{
    routes_put (s_routes, A, B, "gw-2", M1, T0);
    routes_pending_add (s_routes, A); //  e.g. A's leave in flight
    routes_pending_add (s_routes, A);
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    routes_pending_done (s_routes, A);
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    routes_pending_done (s_routes, A);
    ck_assert_str_eq (s_route (A, M1, B, T0), "gw-2");
    //  The partner's op in flight too (its leave may end the match).
    routes_pending_add (s_routes, B);
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    routes_pending_done (s_routes, B);
    ck_assert_str_eq (s_route (A, M1, B, T0), "gw-2");
    //  A gateway's death in flight holds back every route.
    routes_pending_add (s_routes, NULL);
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    routes_pending_done (s_routes, "");
    ck_assert_str_eq (s_route (A, M1, B, T0), "gw-2");
    //  An extra done is ignored.
    routes_pending_done (s_routes, A);
    routes_pending_done (s_routes, NULL);
    ck_assert_str_eq (s_route (A, M1, B, T0), "gw-2");
}
END_TEST

START_TEST (test_pending_survives_route_changes)
{
    //  Counting before any route exists, then a route learned, forgotten,
    //  cleared: the count stays until its done.
    routes_pending_add (s_routes, A);
    routes_put (s_routes, A, B, "gw-2", M1, T0);
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    routes_forget (s_routes, A);
    routes_put (s_routes, A, B, "gw-2", M1, T0);
    routes_clear (s_routes);
    ck_assert_uint_eq (routes_size (s_routes), 0);
    routes_put (s_routes, A, B, "gw-2", M1, T0);
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    routes_pending_done (s_routes, A);
    ck_assert_str_eq (s_route (A, M1, B, T0), "gw-2");
}
END_TEST

START_TEST (test_forget)
{
    routes_put (s_routes, A, B, "gw-2", M1, T0);
    routes_put (s_routes, B, A, "gw-1", M1, T0);
    routes_put (s_routes, C, D, "gw-2", M2, T0);
    routes_put (s_routes, D, C, "gw-3", M2, T0);
    routes_forget (s_routes, A);
    routes_forget (s_routes, "");
    routes_forget (s_routes, "nobody");
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    ck_assert_str_eq (s_route (B, M1, A, T0), "gw-1");
    routes_forget_gateway (s_routes, "gw-2"); //  C's route pointed there
    ck_assert_ptr_null (s_route (C, M2, D, T0));
    ck_assert_str_eq (s_route (D, M2, C, T0), "gw-3");
    ck_assert_uint_eq (routes_size (s_routes), 2);
    routes_clear (s_routes);
    ck_assert_uint_eq (routes_size (s_routes), 0);
    ck_assert_ptr_null (s_route (B, M1, A, T0));
}
END_TEST

START_TEST (test_many)
{
    //  Past the first array (1024 entries): growth and rehash, reuse of
    //  freed entries, eviction at the cap.
    routes_t *big = routes_new (5000, TTL);
    ck_assert_ptr_nonnull (big);
    char sid[40], partner[40];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 6000; i++) {
            snprintf (sid, sizeof sid, "%032x", i);
            snprintf (partner, sizeof partner, "%032x", i + 1000000);
            ck_assert_int_eq (
                routes_put (big, sid, partner, "gw-1", M1, T0 + (uint64_t) i),
                0);
        }
        ck_assert_uint_eq (routes_size (big), 5000);
        for (int i = 0; i < 6000; i++) {
            snprintf (sid, sizeof sid, "%032x", i);
            snprintf (partner, sizeof partner, "%032x", i + 1000000);
            const char *gw = routes_lookup (big, sid, M1, partner, T0, NULL);
            if (i < 1000)
                ck_assert_ptr_null (gw); //  the oldest were evicted
            else
                ck_assert_ptr_nonnull (gw);
        }
        for (int i = 0; i < 6000; i += 2) {
            snprintf (sid, sizeof sid, "%032x", i);
            routes_forget (big, sid);
        }
        ck_assert_uint_eq (routes_size (big), 2500);
        routes_clear (big);
    }
    routes_destroy (&big);
}
END_TEST

START_TEST (test_learn_find_and_route)
{
    //  find: A (on gw-1) matched with B (on gw-2) in M1: both sides.
    s_learn (FRAME_FIND, "gw-1", A,
             s_reply ("matched", B, "gw-2", M1, "video", "", NULL));
    ck_assert_str_eq (s_route (A, M1, B, T0), "gw-2");
    ck_assert_str_eq (s_route (B, M1, A, T0), "gw-1");
    s_learn (FRAME_FIND, "gw-1", C, s_reply ("waiting", NULL));
    ck_assert_uint_eq (routes_size (s_routes), 2);
    //  route "ok" from C (on gw-3) to D (on gw-4) in M2: both ends.
    s_learn (FRAME_SIGNAL, "gw-3", C, s_reply ("ok", "gw-4", M2, D, NULL));
    ck_assert_str_eq (s_route (C, M2, D, T0), "gw-4");
    ck_assert_str_eq (s_route (D, M2, C, T0), "gw-3");
    //  A refused route forgets the sender's.
    s_learn (FRAME_CHAT, "gw-3", C, s_reply ("not_matched", NULL));
    ck_assert_ptr_null (s_route (C, M2, D, T0));
    s_learn (FRAME_SIGNAL, "gw-1", A, s_reply ("not_partner", NULL));
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    ck_assert_str_eq (s_route (B, M1, A, T0), "gw-1");
}
END_TEST

START_TEST (test_learn_ends)
{
    routes_put (s_routes, A, B, "gw-2", M1, T0);
    routes_put (s_routes, B, A, "gw-1", M1, T0);
    routes_put (s_routes, C, D, "gw-2", M2, T0);
    routes_put (s_routes, D, C, "gw-3", M2, T0);
    //  leave: A ended M1 with B: both go.
    s_learn (FRAME_LEAVE, "gw-1", A, s_reply ("ended", B, "gw-2", M1, NULL));
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    ck_assert_ptr_null (s_route (B, M1, A, T0));
    //  close with nobody to tell: the closer's own goes.
    s_learn (FRAME_CLOSE, "gw-3", D, s_reply ("closed", NULL));
    ck_assert_ptr_null (s_route (D, M2, C, T0));
    ck_assert_str_eq (s_route (C, M2, D, T0), "gw-2");
    //  gw_dead: gw-2 died; every route to it goes, and the sessions it
    //  lists.
    routes_put (s_routes, A, B, "gw-5", M1, T0);
    routes_put (s_routes, B, A, "gw-1", M1, T0);
    s_learn (FRAME_BYE, "gw-2", "", s_reply ("alive", "123", NULL));
    ck_assert_str_eq (s_route (C, M2, D, T0), "gw-2");
    s_learn (FRAME_BYE, "gw-2", "", s_reply ("dead", A, "gw-1", B, M1, NULL));
    ck_assert_ptr_null (s_route (C, M2, D, T0));
    ck_assert_ptr_null (s_route (A, M1, B, T0));
    ck_assert_ptr_null (s_route (B, M1, A, T0));
    ck_assert_uint_eq (routes_size (s_routes), 0);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("routes");
    TCase *tc = tcase_create ("core");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_fill_and_hit);
    tcase_add_test (tc, test_miss_wrong_match_or_target);
    tcase_add_test (tc, test_replace);
    tcase_add_test (tc, test_expiry);
    tcase_add_test (tc, test_evict_oldest);
    tcase_add_test (tc, test_cap_zero_is_off);
    tcase_add_test (tc, test_refuses_bad_ids);
    tcase_add_test (tc, test_pending_holds_back);
    tcase_add_test (tc, test_pending_survives_route_changes);
    tcase_add_test (tc, test_forget);
    tcase_add_test (tc, test_many);
    tcase_add_test (tc, test_learn_find_and_route);
    tcase_add_test (tc, test_learn_ends);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
