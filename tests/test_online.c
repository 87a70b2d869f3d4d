//  test_online - the gateway's "users online" count: the matcher's total
//  corrected for this gateway's live sessions, pushed on changes at most
//  once per interval (small changes less often), and a newcomer told a
//  count the others were not.

#include "online.h"
#include "check_main.h"

#include <check.h>
#include <stdint.h>

#define INTERVAL 1000u

//  online_next at now with live sessions: the action; *count for a push,
//  *wait for a wait.
static online_action_t
s_next (online_t *online, size_t live, uint64_t now, int64_t *count,
        uint64_t *wait)
{
    *count = -7;
    *wait = 0;
    return online_next (online, live, now, count, wait);
}

//  A tracker with the matcher's total and this gateway's last report,
//  which pushed its first count (returned in *first) at 5000 ms with live
//  sessions here.
static online_t *
s_pushed (int64_t total, uint32_t reported, size_t live, int64_t *first)
{
    online_t *online = online_new (INTERVAL);
    ck_assert_ptr_nonnull (online);
    online_set_total (online, total);
    online_set_reported (online, reported);
    uint64_t wait;
    ck_assert_int_eq (s_next (online, live, 5000, first, &wait), ONLINE_PUSH);
    return online;
}

START_TEST (test_count)
{
    online_t *online = online_new (INTERVAL);
    ck_assert_ptr_nonnull (online);
    //  nothing before the first PULSE
    ck_assert_int_eq (online_count (online, 3), -1);
    int64_t count;
    uint64_t wait;
    ck_assert_int_eq (s_next (online, 3, 5000, &count, &wait), ONLINE_NONE);
    //  total 10, of which 4 here at the last heartbeat; 6 live now: 12
    online_set_total (online, 10);
    online_set_reported (online, 4);
    ck_assert_int_eq (online_count (online, 6), 12);
    //  never fewer than the sessions here (a stale total)
    online_set_total (online, 2);
    ck_assert_int_eq (online_count (online, 5), 5);
    online_destroy (&online);
    ck_assert_ptr_null (online);
    online_destroy (&online);
}
END_TEST

START_TEST (test_once_per_interval)
{
    int64_t count;
    uint64_t wait;
    online_t *online = s_pushed (1, 1, 1, &count);
    ck_assert_int_eq (count, 1);
    //  unchanged: nothing
    ck_assert_int_eq (s_next (online, 1, 5001, &count, &wait), ONLINE_NONE);
    //  a change within the interval waits for its end
    ck_assert_int_eq (s_next (online, 2, 5300, &count, &wait), ONLINE_WAIT);
    ck_assert_uint_eq (wait, 700);
    ck_assert_int_eq (s_next (online, 3, 5999, &count, &wait), ONLINE_WAIT);
    ck_assert_uint_eq (wait, 1);
    ck_assert_int_eq (s_next (online, 3, 6000, &count, &wait), ONLINE_PUSH);
    ck_assert_int_eq (count, 3);
    //  back to the count pushed within the interval: nothing to push
    ck_assert_int_eq (s_next (online, 4, 6100, &count, &wait), ONLINE_WAIT);
    ck_assert_int_eq (s_next (online, 3, 7000, &count, &wait), ONLINE_NONE);
    online_destroy (&online);
}
END_TEST

//  it.experience test 9 at the unit level: 2 pushed, a newcomer told 3,
//  then back to 2 within the interval: 2 still goes to everyone.
START_TEST (test_newcomer_corrected)
{
    int64_t count;
    uint64_t wait;
    online_t *online = s_pushed (1, 1, 2, &count);
    ck_assert_int_eq (count, 2);
    //  the newcomer's welcome says 3, the others heard 2
    ck_assert_int_eq (online_welcome (online, 3), 3);
    ck_assert_int_eq (s_next (online, 3, 5010, &count, &wait), ONLINE_WAIT);
    //  someone leaves: 2 again, which the newcomer was never told
    ck_assert_int_eq (s_next (online, 2, 5020, &count, &wait), ONLINE_WAIT);
    ck_assert_int_eq (s_next (online, 2, 6000, &count, &wait), ONLINE_PUSH);
    ck_assert_int_eq (count, 2);
    ck_assert_int_eq (s_next (online, 2, 7000, &count, &wait), ONLINE_NONE);
    online_destroy (&online);
}
END_TEST

//  At scale a newcomer within 1 % of the count everyone heard is told that
//  count, so arrivals do not cut the longer wait short; past 1 % it is
//  told the live count, and everyone hears it within the interval.
START_TEST (test_newcomer_at_scale)
{
    int64_t count;
    uint64_t wait;
    online_t *online = s_pushed (5000, 0, 0, &count);
    ck_assert_int_eq (online_welcome (online, 1), 5000);
    ck_assert_int_eq (s_next (online, 1, 5100, &count, &wait), ONLINE_WAIT);
    ck_assert_uint_eq (wait, ONLINE_SMALL_MS - 100);
    ck_assert_int_eq (online_welcome (online, 50), 5050);
    ck_assert_int_eq (s_next (online, 50, 5200, &count, &wait), ONLINE_WAIT);
    ck_assert_uint_eq (wait, INTERVAL - 200);
    ck_assert_int_eq (s_next (online, 50, 6000, &count, &wait), ONLINE_PUSH);
    ck_assert_int_eq (count, 5050);
    //  before the first PULSE there is nothing to tell
    online_destroy (&online);
    online = online_new (INTERVAL);
    ck_assert_int_eq (online_welcome (online, 1), -1);
    online_destroy (&online);
}
END_TEST

//  Under 1 % of the count last pushed, a change waits ONLINE_SMALL_MS; a
//  bigger one (or any below 100 users) the interval, even after a small
//  one started waiting.
START_TEST (test_small_changes_wait_longer)
{
    int64_t count;
    uint64_t wait;
    online_t *online = s_pushed (5000, 0, 0, &count);
    ck_assert_int_eq (count, 5000);
    //  +49 (under 1 % of 5000): waits 10 s from the push
    ck_assert_int_eq (s_next (online, 49, 5100, &count, &wait), ONLINE_WAIT);
    ck_assert_uint_eq (wait, ONLINE_SMALL_MS - 100);
    //  +50 (1 %): the interval
    ck_assert_int_eq (s_next (online, 50, 5200, &count, &wait), ONLINE_WAIT);
    ck_assert_uint_eq (wait, INTERVAL - 200);
    //  +49 again: 10 s again, even past the interval
    ck_assert_int_eq (s_next (online, 49, 5900, &count, &wait), ONLINE_WAIT);
    ck_assert_uint_eq (wait, ONLINE_SMALL_MS - 900);
    ck_assert_int_eq (s_next (online, 49, 6000, &count, &wait), ONLINE_WAIT);
    ck_assert_int_eq (s_next (online, 50, 6000, &count, &wait), ONLINE_PUSH);
    ck_assert_int_eq (count, 5050);
    //  back by 1: pushed 10 s after the last push, not before
    ck_assert_int_eq (s_next (online, 49, 15999, &count, &wait), ONLINE_WAIT);
    ck_assert_uint_eq (wait, 1);
    ck_assert_int_eq (s_next (online, 49, 16000, &count, &wait), ONLINE_PUSH);
    ck_assert_int_eq (count, 5049);
    online_destroy (&online);

    //  99 users: a change of 1 is over 1 %
    online = online_new (INTERVAL);
    online_set_total (online, 99);
    online_set_reported (online, 0);
    ck_assert_int_eq (s_next (online, 0, 5000, &count, &wait), ONLINE_PUSH);
    ck_assert_int_eq (s_next (online, 1, 5500, &count, &wait), ONLINE_WAIT);
    ck_assert_uint_eq (wait, 500);
    online_destroy (&online);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("online");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_count);
    tcase_add_test (tc, test_once_per_interval);
    tcase_add_test (tc, test_newcomer_corrected);
    tcase_add_test (tc, test_newcomer_at_scale);
    tcase_add_test (tc, test_small_changes_wait_longer);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
