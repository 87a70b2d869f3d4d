//  test_matchers - the gateway's matcher set: the rendezvous choice of a
//  session's matcher and the live/dead transitions (gateway/matchers.c).

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "config.h"
#include "id.h"
#include "matchers.h"

#define TIMEOUT 1000

static const char *s_names[] = {"tcp://127.0.0.1:5555", "tcp://127.0.0.1:5565",
                                "tcp://127.0.0.1:5575"};
static matchers_t *s_set;

static void
s_setup (void)
{
    s_set = matchers_new (s_names, 3, TIMEOUT);
    ck_assert_ptr_nonnull (s_set);
}

static void
s_teardown (void)
{
    matchers_destroy (&s_set);
    ck_assert_ptr_null (s_set);
}

//  The best of the given names for sid by score, computed the long way.
static int
s_best (const char *sid, uint32_t among)
{
    int best = -1;
    uint64_t best_score = 0;
    for (int i = 0; i < 3; i++) {
        if (!(among & (1u << i)))
            continue;
        uint64_t score = matchers_score (sid, s_names[i]);
        if (best < 0 || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

START_TEST (test_new_refuses_bad_input)
{
    const char *empty[] = {"a", ""};
    ck_assert_ptr_null (matchers_new (s_names, 0, TIMEOUT));
    ck_assert_ptr_null (matchers_new (s_names, MATCHERS_MAX + 1, TIMEOUT));
    ck_assert_ptr_null (matchers_new (empty, 2, TIMEOUT));
    ck_assert_ptr_null (matchers_new (NULL, 1, TIMEOUT));
    ck_assert_int_eq (matchers_count (s_set), 3);
    ck_assert_str_eq (matchers_name (s_set, 2), s_names[2]);
}
END_TEST

START_TEST (test_score_is_stable_and_spread)
{
    //  The same inputs give the same score; different ones differ.
    ck_assert_uint_eq (matchers_score ("abc", "x"),
                       matchers_score ("abc", "x"));
    ck_assert_uint_ne (matchers_score ("abc", "x"),
                       matchers_score ("abd", "x"));
    ck_assert_uint_ne (matchers_score ("ab", "cx"),
                       matchers_score ("abc", "x"));
    //  Random sessions spread evenly: each of 3 gets 1/3 +- 5 %.
    int wins[3] = {0, 0, 0};
    for (int n = 0; n < 3000; n++) {
        char sid[ID_STRLEN + 1];
        ck_assert_int_eq (id_new (sid), 0);
        wins[matchers_pick (s_set, sid, 0)]++;
    }
    for (int i = 0; i < 3; i++)
        ck_assert_msg (wins[i] > 850 && wins[i] < 1150, "matcher %d won %d", i,
                       wins[i]);
}
END_TEST

START_TEST (test_startup_all_candidates)
{
    //  Nobody heard yet: all are candidates, the best score wins.
    ck_assert_int_eq (matchers_live_count (s_set), 0);
    for (int i = 0; i < 3; i++)
        ck_assert (matchers_candidate (s_set, i));
    ck_assert (!matchers_candidate (s_set, 3));
    ck_assert (!matchers_candidate (s_set, -1));
    const char *sid = "0123456789abcdef0123456789abcdef";
    ck_assert_int_eq (matchers_pick (s_set, sid, 0), s_best (sid, 7));
    //  Excluding the best gives the second best; excluding all, none.
    int first = s_best (sid, 7);
    ck_assert_int_eq (matchers_pick (s_set, sid, 1u << first),
                      s_best (sid, 7 & ~(1u << first)));
    ck_assert_int_eq (matchers_pick (s_set, sid, 7), -1);
}
END_TEST

START_TEST (test_live_dead_transitions)
{
    ck_assert (matchers_heard (s_set, 0, 100));  //  came up
    ck_assert (!matchers_heard (s_set, 0, 200)); //  already live
    ck_assert (matchers_live (s_set, 0));
    ck_assert_int_eq (matchers_live_count (s_set), 1);
    //  Only the live one is a candidate now.
    ck_assert (matchers_candidate (s_set, 0));
    ck_assert (!matchers_candidate (s_set, 1));
    ck_assert_int_eq (matchers_pick (s_set, "any", 0), 0);
    ck_assert_int_eq (matchers_pick (s_set, "any", 1), -1);

    ck_assert (matchers_heard (s_set, 2, 300));
    //  Exactly at the timeout: still live; one ms past: dead, once.
    ck_assert_uint_eq (matchers_expire (s_set, 200 + TIMEOUT), 0);
    ck_assert_uint_eq (matchers_expire (s_set, 201 + TIMEOUT), 1u << 0);
    ck_assert_uint_eq (matchers_expire (s_set, 202 + TIMEOUT), 0);
    ck_assert (!matchers_live (s_set, 0));
    ck_assert (matchers_live (s_set, 2));
    ck_assert_int_eq (matchers_live_count (s_set), 1);
    ck_assert_int_eq (matchers_pick (s_set, "any", 0), 2);
    //  Heard again: up again.
    ck_assert (matchers_heard (s_set, 0, 2000));
    ck_assert_int_eq (matchers_live_count (s_set), 2);
    //  All silent: all dead, and then all candidates again.
    ck_assert_uint_eq (matchers_expire (s_set, 10000), (1u << 0) | (1u << 2));
    ck_assert_int_eq (matchers_live_count (s_set), 0);
    for (int i = 0; i < 3; i++)
        ck_assert (matchers_candidate (s_set, i));
}
END_TEST

START_TEST (test_failover_moves_only_the_dead_ones_sessions)
{
    //  All three live; matcher 1 dies. A session that was on 0 or 2 stays
    //  there; one that was on 1 goes to the best of the others. When 1
    //  comes back, the choice for new sessions includes it again.
    for (int i = 0; i < 3; i++)
        matchers_heard (s_set, i, 100);
    char sids[300][ID_STRLEN + 1];
    int before[300];
    for (int n = 0; n < 300; n++) {
        ck_assert_int_eq (id_new (sids[n]), 0);
        before[n] = matchers_pick (s_set, sids[n], 0);
        ck_assert_int_eq (before[n], s_best (sids[n], 7));
    }
    matchers_heard (s_set, 0, 5000);
    matchers_heard (s_set, 2, 5000);
    ck_assert_uint_eq (matchers_expire (s_set, 5000), 1u << 1);
    int moved = 0;
    for (int n = 0; n < 300; n++) {
        int after = matchers_pick (s_set, sids[n], 0);
        if (before[n] == 1) {
            moved++;
            ck_assert_int_eq (after, s_best (sids[n], 5));
        } else
            ck_assert_int_eq (after, before[n]);
    }
    ck_assert_int_gt (moved, 50);
    matchers_heard (s_set, 1, 5100);
    for (int n = 0; n < 300; n++)
        ck_assert_int_eq (matchers_pick (s_set, sids[n], 0), before[n]);
}
END_TEST

START_TEST (test_config_list_split)
{
    char items[CONFIG_LIST_MAX][CONFIG_STR_MAX];
    ck_assert_int_eq (config_list_split ("tcp://a:1", items, CONFIG_LIST_MAX),
                      1);
    ck_assert_str_eq (items[0], "tcp://a:1");
    ck_assert_int_eq (
        config_list_split (" tcp://a:1 ,tcp://b:2", items, CONFIG_LIST_MAX), 2);
    ck_assert_str_eq (items[0], "tcp://a:1");
    ck_assert_str_eq (items[1], "tcp://b:2");
    ck_assert_int_eq (config_list_split ("", items, CONFIG_LIST_MAX), -1);
    ck_assert_int_eq (config_list_split ("a,,b", items, CONFIG_LIST_MAX), -1);
    ck_assert_int_eq (config_list_split ("a,", items, CONFIG_LIST_MAX), -1);
    ck_assert_int_eq (config_list_split ("a,b,c", items, 2), -1);
}
END_TEST

//  The gateway refuses lists of different lengths; the matcher does not
//  look (it binds one endpoint each).
START_TEST (test_config_pairs_lists)
{
    config_t config;
    char err[256];
    char *pair[] = {"gw", "--bus-in", "tcp://a:1,tcp://b:2", "--bus-out",
                    "tcp://a:3,tcp://b:4"};
    ck_assert_int_eq (
        config_load (&config, CONFIG_GATEWAY, 5, pair, err, sizeof err), 0);
    char *odd[] = {"gw", "--bus-in", "tcp://a:1,tcp://b:2", "--bus-out",
                   "tcp://a:3"};
    ck_assert_int_eq (
        config_load (&config, CONFIG_GATEWAY, 5, odd, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "MEGLE_BUS_IN"));
    char *empty[] = {"gw", "--bus-in", "tcp://a:1,", "--bus-out", "tcp://a:3"};
    ck_assert_int_eq (
        config_load (&config, CONFIG_GATEWAY, 5, empty, err, sizeof err), -1);
    char *reuse[] = {"gw", "--reuseport", "1"};
    ck_assert_int_eq (
        config_load (&config, CONFIG_GATEWAY, 3, reuse, err, sizeof err), 0);
    ck_assert_int_eq (config.reuseport, 1);
}
END_TEST

START_TEST (test_destroy_null)
{
    matchers_t *none = NULL;
    matchers_destroy (&none);
    ck_assert_ptr_null (none);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("matchers");
    TCase *tc = tcase_create ("core");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_new_refuses_bad_input);
    tcase_add_test (tc, test_score_is_stable_and_spread);
    tcase_add_test (tc, test_startup_all_candidates);
    tcase_add_test (tc, test_live_dead_transitions);
    tcase_add_test (tc, test_failover_moves_only_the_dead_ones_sessions);
    tcase_add_test (tc, test_config_list_split);
    tcase_add_test (tc, test_config_pairs_lists);
    tcase_add_test (tc, test_destroy_null);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
