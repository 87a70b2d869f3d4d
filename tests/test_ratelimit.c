//  test_ratelimit - per-connection token buckets: bursts, refill, retry_after,
//  one answer per refusal period, byte costs, find_match, flood detection.

#include "ratelimit.h"
#include "check_main.h"

#include <check.h>
#include <stdlib.h>

static ratelimit_t *limits;
static ratelimit_config_t conf;

static void
s_setup (void)
{
    //  5 messages/s (burst 10), 1000 bytes/s (burst 2000), 1 find/s
    //  (burst 2); flood: 100 refusals within 10 s.
    ratelimit_config (&conf, 5, 10, 1000, 2000, 1, 2);
    limits = ratelimit_new (&conf, 1000);
    ck_assert_ptr_nonnull (limits);
}

static void
s_teardown (void)
{
    ratelimit_destroy (&limits);
    ck_assert_ptr_null (limits);
}

START_TEST (test_config)
{
    ck_assert_uint_eq (conf.msgs.rate, 5);
    ck_assert_uint_eq (conf.msgs.burst, 10);
    ck_assert_uint_eq (conf.flood_max, 10 * RATELIMIT_FLOOD_FACTOR);
    ck_assert_uint_eq (conf.flood_window_ms, RATELIMIT_FLOOD_WINDOW_MS);
}
END_TEST

START_TEST (test_burst_then_refuse)
{
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq (ratelimit_message (limits, 10, 1000, NULL),
                          RATELIMIT_PASS);
    uint32_t retry = 0;
    ck_assert_int_eq (ratelimit_message (limits, 10, 1000, &retry),
                      RATELIMIT_REFUSE);
    //  One token at 5/s: 200 ms.
    ck_assert_uint_eq (retry, 200);
    //  Told once: further refusals before then are silent.
    ck_assert_int_eq (ratelimit_message (limits, 10, 1100, &retry),
                      RATELIMIT_DROP);
    ck_assert_int_eq (ratelimit_message (limits, 10, 1199, &retry),
                      RATELIMIT_DROP);
    //  At the promised time, one passes.
    ck_assert_int_eq (ratelimit_message (limits, 10, 1200, NULL),
                      RATELIMIT_PASS);
    //  And the next one is refused (and told) again.
    retry = 0;
    ck_assert_int_eq (ratelimit_message (limits, 10, 1200, &retry),
                      RATELIMIT_REFUSE);
    ck_assert_uint_eq (retry, 200);
}
END_TEST

START_TEST (test_refill_caps_at_burst)
{
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq (ratelimit_message (limits, 1, 1000, NULL),
                          RATELIMIT_PASS);
    //  An hour later the bucket is full again, not fuller.
    uint64_t later = 1000 + 3600u * 1000u;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq (ratelimit_message (limits, 1, later, NULL),
                          RATELIMIT_PASS);
    ck_assert_int_eq (ratelimit_message (limits, 1, later, NULL),
                      RATELIMIT_REFUSE);
}
END_TEST

START_TEST (test_bytes)
{
    //  2000 bytes at once, then 1000/s.
    ck_assert_int_eq (ratelimit_message (limits, 1500, 1000, NULL),
                      RATELIMIT_PASS);
    uint32_t retry = 0;
    ck_assert_int_eq (ratelimit_message (limits, 1000, 1000, &retry),
                      RATELIMIT_REFUSE);
    ck_assert_uint_eq (retry, 500); //  500 bytes missing at 1000/s
    ck_assert_int_eq (ratelimit_message (limits, 1000, 1500, NULL),
                      RATELIMIT_PASS);
    //  A message larger than the byte burst costs the whole burst, so it
    //  can still pass once the bucket is full.
    ck_assert_int_eq (ratelimit_message (limits, 1000000, 1500, NULL),
                      RATELIMIT_REFUSE);
    ck_assert_int_eq (ratelimit_message (limits, 1000000, 3500, NULL),
                      RATELIMIT_PASS);
    //  The refused message took no message token either: 10 - 3 used.
}
END_TEST

START_TEST (test_refused_takes_nothing)
{
    //  A message refused for its bytes leaves the message bucket alone.
    ck_assert_int_eq (ratelimit_message (limits, 2000, 1000, NULL),
                      RATELIMIT_PASS);
    for (int i = 0; i < 5; i++)
        ck_assert_int_ne (ratelimit_message (limits, 2000, 1000, NULL),
                          RATELIMIT_PASS);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq (ratelimit_message (limits, 0, 1000, NULL),
                          RATELIMIT_PASS);
    ck_assert_int_ne (ratelimit_message (limits, 0, 1000, NULL),
                      RATELIMIT_PASS);
}
END_TEST

START_TEST (test_finds)
{
    uint32_t retry = 0;
    ck_assert_int_eq (ratelimit_find (limits, 1000, NULL), RATELIMIT_PASS);
    ck_assert_int_eq (ratelimit_find (limits, 1000, NULL), RATELIMIT_PASS);
    ck_assert_int_eq (ratelimit_find (limits, 1000, &retry), RATELIMIT_REFUSE);
    ck_assert_uint_eq (retry, 1000);
    ck_assert_int_eq (ratelimit_find (limits, 1500, &retry), RATELIMIT_DROP);
    ck_assert_int_eq (ratelimit_find (limits, 2000, NULL), RATELIMIT_PASS);
    //  Messages are a separate bucket.
    ck_assert_int_eq (ratelimit_message (limits, 10, 2000, NULL),
                      RATELIMIT_PASS);
}
END_TEST

START_TEST (test_flood)
{
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq (ratelimit_message (limits, 1, 1000, NULL),
                          RATELIMIT_PASS);
    //  100 refusals are tolerated within the window; the 101st is a flood.
    int flood_at = -1;
    for (int i = 0; i < 200 && flood_at < 0; i++)
        if (ratelimit_message (limits, 1, 1000, NULL) == RATELIMIT_FLOOD)
            flood_at = i;
    ck_assert_int_eq (flood_at, 100);
}
END_TEST

START_TEST (test_flood_window_resets)
{
    for (int i = 0; i < 10; i++)
        ratelimit_message (limits, 1, 1000, NULL);
    for (int i = 0; i < 100; i++)
        ck_assert_int_ne (ratelimit_message (limits, 1, 1000, NULL),
                          RATELIMIT_FLOOD);
    ck_assert_uint_eq (ratelimit_refusals (limits), 100);
    //  A new window: the count starts over (the bucket refilled too).
    uint64_t later = 1000 + RATELIMIT_FLOOD_WINDOW_MS;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq (ratelimit_message (limits, 1, later, NULL),
                          RATELIMIT_PASS);
    ck_assert_int_ne (ratelimit_message (limits, 1, later, NULL),
                      RATELIMIT_FLOOD);
    ck_assert_uint_eq (ratelimit_refusals (limits), 1);
}
END_TEST

START_TEST (test_off)
{
    ratelimit_config_t off;
    ratelimit_config (&off, 0, 1, 0, 1, 0, 1);
    ratelimit_t *free_for_all = ratelimit_new (&off, 0);
    ck_assert_ptr_nonnull (free_for_all);
    for (int i = 0; i < 100000; i++) {
        ck_assert_int_eq (ratelimit_message (free_for_all, 65536, 0, NULL),
                          RATELIMIT_PASS);
        ck_assert_int_eq (ratelimit_find (free_for_all, 0, NULL),
                          RATELIMIT_PASS);
    }
    ratelimit_destroy (&free_for_all);
    ratelimit_destroy (&free_for_all); //  NULL-safe
}
END_TEST

START_TEST (test_clock_backwards)
{
    for (int i = 0; i < 10; i++)
        ratelimit_message (limits, 1, 5000, NULL);
    //  A clock that goes back refills nothing and breaks nothing.
    ck_assert_int_ne (ratelimit_message (limits, 1, 10, NULL), RATELIMIT_PASS);
    ck_assert_int_eq (ratelimit_message (limits, 1, 5200, NULL),
                      RATELIMIT_PASS);
}
END_TEST

START_TEST (test_huge_rates)
{
    ratelimit_config_t big;
    ratelimit_config (&big, 1000000, 1000000, 1000000000, 1000000000, 1000,
                      1000);
    ratelimit_t *l = ratelimit_new (&big, 0);
    ck_assert_ptr_nonnull (l);
    ck_assert_int_eq (ratelimit_message (l, 1000000000, 0, NULL),
                      RATELIMIT_PASS);
    ck_assert_int_eq (ratelimit_message (l, 1, 0, NULL), RATELIMIT_REFUSE);
    //  Years later, no overflow: full again.
    ck_assert_int_eq (
        ratelimit_message (l, 1000000000, 100ull * 365 * 86400 * 1000, NULL),
        RATELIMIT_PASS);
    ratelimit_destroy (&l);
}
END_TEST

//  Limits made in the caller's memory behave as ratelimit_new's, and read
//  the config they were given (not a copy); ratelimit_new's copy does not
//  follow later changes of the caller's config.
START_TEST (test_in_place)
{
    ratelimit_config_t mine;
    ratelimit_config (&mine, 5, 2, 0, 1, 0, 1);
    uint64_t mem[16];
    ck_assert_uint_le (ratelimit_sizeof (), sizeof mem);
    ratelimit_t *in_place = ratelimit_init (mem, &mine, 0);
    ratelimit_t *copy = ratelimit_new (&mine, 0);
    ck_assert_ptr_eq (in_place, (void *) mem);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq (ratelimit_message (in_place, 1, 0, NULL),
                          RATELIMIT_PASS);
        ck_assert_int_eq (ratelimit_message (copy, 1, 0, NULL), RATELIMIT_PASS);
    }
    ck_assert_int_eq (ratelimit_message (in_place, 1, 0, NULL),
                      RATELIMIT_REFUSE);
    ck_assert_int_eq (ratelimit_message (copy, 1, 0, NULL), RATELIMIT_REFUSE);
    mine.msgs.rate = 0; //  off: the in-place limits follow, the copy not
    ck_assert_int_eq (ratelimit_message (in_place, 1, 0, NULL), RATELIMIT_PASS);
    ck_assert_int_eq (ratelimit_message (copy, 1, 0, NULL), RATELIMIT_DROP);
    ratelimit_destroy (&copy);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("limits");
    TCase *tc = tcase_create ("core");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_config);
    tcase_add_test (tc, test_burst_then_refuse);
    tcase_add_test (tc, test_refill_caps_at_burst);
    tcase_add_test (tc, test_bytes);
    tcase_add_test (tc, test_refused_takes_nothing);
    tcase_add_test (tc, test_finds);
    tcase_add_test (tc, test_flood);
    tcase_add_test (tc, test_flood_window_resets);
    tcase_add_test (tc, test_off);
    tcase_add_test (tc, test_clock_backwards);
    tcase_add_test (tc, test_huge_rates);
    tcase_add_test (tc, test_in_place);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
