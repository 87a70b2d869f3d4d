//  test_roster - the gateway's session table: add, find, remove, growth.

#include "roster.h"
#include "session.h"
#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define MANY 100000

static roster_t *roster;

static void
s_setup (void)
{
    roster = roster_new (16);
    ck_assert_ptr_nonnull (roster);
}

static void
s_teardown (void)
{
    roster_destroy (&roster);
    ck_assert_ptr_null (roster);
}

START_TEST (test_add_find_remove)
{
    session_t *a = session_new (NULL);
    session_t *b = session_new (NULL);
    ck_assert_ptr_nonnull (a);
    ck_assert_ptr_nonnull (b);
    ck_assert_int_eq (roster_add (roster, a), 0);
    ck_assert_int_eq (roster_add (roster, b), 0);
    ck_assert_uint_eq (roster_size (roster), 2);
    ck_assert_ptr_eq (roster_find (roster, session_id (a)), a);
    ck_assert_ptr_eq (roster_find (roster, session_id (b)), b);
    ck_assert_int_eq (roster_remove (roster, session_id (a)), 0);
    ck_assert_ptr_null (roster_find (roster, session_id (a)));
    ck_assert_ptr_eq (roster_find (roster, session_id (b)), b);
    ck_assert_uint_eq (roster_size (roster), 1);
    session_destroy (&a);
    session_destroy (&b);
}
END_TEST

START_TEST (test_remove_unknown_session)
{
    ck_assert_int_eq (roster_remove (roster, "no-such-id"), -1);
    ck_assert_int_eq (roster_remove (roster, ""), -1);
    ck_assert_int_eq (roster_remove (roster, NULL), -1);
    ck_assert_ptr_null (roster_find (roster, "no-such-id"));
    ck_assert_ptr_null (roster_find (roster, NULL));
}
END_TEST

START_TEST (test_duplicate_add)
{
    session_t *a = session_new (NULL);
    ck_assert_int_eq (roster_add (roster, a), 0);
    ck_assert_int_eq (roster_add (roster, a), -1);
    ck_assert_uint_eq (roster_size (roster), 1);
    ck_assert_int_eq (roster_remove (roster, session_id (a)), 0);
    ck_assert_int_eq (roster_remove (roster, session_id (a)), -1);
    session_destroy (&a);
}
END_TEST

static void
s_count (session_t *session, void *arg)
{
    (void) session;
    (*(size_t *) arg)++;
}

//  Grows far past the hint, then removes every other session (so that
//  removal's backward shifts run through long probe sequences) and checks
//  that every survivor is still found.
START_TEST (test_growth_many)
{
    session_t **sessions = calloc (MANY, sizeof *sessions);
    ck_assert_ptr_nonnull (sessions);
    for (int i = 0; i < MANY; i++) {
        sessions[i] = session_new (NULL);
        ck_assert_ptr_nonnull (sessions[i]);
        ck_assert_int_eq (roster_add (roster, sessions[i]), 0);
    }
    ck_assert_uint_eq (roster_size (roster), MANY);
    for (int i = 0; i < MANY; i++)
        ck_assert_ptr_eq (roster_find (roster, session_id (sessions[i])),
                          sessions[i]);
    size_t seen = 0;
    roster_foreach (roster, s_count, &seen);
    ck_assert_uint_eq (seen, MANY);

    for (int i = 0; i < MANY; i += 2)
        ck_assert_int_eq (roster_remove (roster, session_id (sessions[i])), 0);
    ck_assert_uint_eq (roster_size (roster), MANY / 2);
    for (int i = 0; i < MANY; i++)
        ck_assert_ptr_eq (roster_find (roster, session_id (sessions[i])),
                          i % 2 ? sessions[i] : NULL);
    for (int i = 1; i < MANY; i += 2)
        ck_assert_int_eq (roster_remove (roster, session_id (sessions[i])), 0);
    ck_assert_uint_eq (roster_size (roster), 0);
    for (int i = 0; i < MANY; i++)
        session_destroy (&sessions[i]);
    free (sessions);
}
END_TEST

//  Churn on a small table: entries that collide must stay reachable
//  whatever order they leave in.
START_TEST (test_churn)
{
    enum { N = 64 };
    session_t *s[N];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < N; i++) {
            s[i] = session_new (NULL);
            ck_assert_int_eq (roster_add (roster, s[i]), 0);
        }
        for (int i = N - 1; i >= 0; i -= 3) {
            ck_assert_int_eq (roster_remove (roster, session_id (s[i])), 0);
            session_destroy (&s[i]);
        }
        for (int i = 0; i < N; i++) {
            if (!s[i])
                continue;
            ck_assert_ptr_eq (roster_find (roster, session_id (s[i])), s[i]);
            ck_assert_int_eq (roster_remove (roster, session_id (s[i])), 0);
            session_destroy (&s[i]);
        }
        ck_assert_uint_eq (roster_size (roster), 0);
    }
}
END_TEST

//  The keep-alive sweep: slices of bounded size that, round after round,
//  visit every session exactly once per round of roster_slots slots.
static void
s_mark (session_t *session, void *arg)
{
    int *visits = arg;
    //  tests' sessions carry their index as the connection handle
    visits[(size_t) session_conn (session)]++;
}

START_TEST (test_sweep_slices)
{
    enum { N = 300 };
    session_t *s[N];
    int visits[N];
    memset (visits, 0, sizeof visits);
    for (size_t i = 0; i < N; i++) {
        s[i] = session_new ((void *) i);
        ck_assert_int_eq (roster_add (roster, s[i]), 0);
    }
    size_t slots = roster_slots (roster);
    ck_assert_uint_ge (slots, 2 * N);
    size_t cursor = 0;
    //  Two rounds in slices of 7 (one more slice: slots is no multiple).
    size_t slices = (2 * slots + 6) / 7;
    for (size_t k = 0; k < slices; k++)
        roster_sweep (roster, &cursor, 7, s_mark, visits);
    ck_assert_uint_eq (cursor, (slices * 7) % slots);
    size_t extra = slices * 7 - 2 * slots; //  slots visited a third time
    int thrice = 0;
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_ge (visits[i], 2);
        ck_assert_int_le (visits[i], 3);
        thrice += visits[i] == 3;
    }
    ck_assert_int_le (thrice, (int) extra);
    //  A slice larger than the table visits it once; an empty one none.
    memset (visits, 0, sizeof visits);
    roster_sweep (roster, &cursor, slots * 4, s_mark, visits);
    roster_sweep (roster, &cursor, 0, s_mark, visits);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq (visits[i], 1);
    //  A cursor past the end (the table shrank? it never does; a stale
    //  cursor) wraps into the table.
    cursor = slots * 3 + 1;
    roster_sweep (roster, &cursor, 1, s_mark, visits);
    ck_assert_uint_lt (cursor, slots);
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq (roster_remove (roster, session_id (s[i])), 0);
        session_destroy (&s[i]);
    }
    //  Empty: visits nothing.
    memset (visits, 0, sizeof visits);
    roster_sweep (roster, &cursor, 5, s_mark, visits);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq (visits[i], 0);
}
END_TEST

START_TEST (test_destroy_null)
{
    roster_t *none = NULL;
    roster_destroy (&none);
    ck_assert_ptr_null (none);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("roster");
    TCase *tc = tcase_create ("core");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_add_find_remove);
    tcase_add_test (tc, test_remove_unknown_session);
    tcase_add_test (tc, test_duplicate_add);
    tcase_add_test (tc, test_growth_many);
    tcase_add_test (tc, test_churn);
    tcase_add_test (tc, test_sweep_slices);
    tcase_add_test (tc, test_destroy_null);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
