//  test_session - one connection's bookkeeping: ids, partner and match,
//  fragment reassembly with the size limit, the bounded outbound queue.

#include "session.h"
#include "check_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRE 16 //  stands in for LWS_PRE

static session_t *session;

static void
s_setup (void)
{
    session = session_new (NULL);
    ck_assert_ptr_nonnull (session);
}

static void
s_teardown (void)
{
    session_destroy (&session);
    ck_assert_ptr_null (session);
}

//  A malloc'd message with PRE spare bytes, as the envelope builders make.
static uint8_t *
s_message (const char *text, size_t *len_p)
{
    size_t len = strlen (text);
    uint8_t *buf = malloc (PRE + len + 1);
    ck_assert_ptr_nonnull (buf);
    memcpy (buf + PRE, text, len + 1);
    *len_p = len;
    return buf;
}

START_TEST (test_new_ids)
{
    session_t *other = session_new (NULL);
    ck_assert_uint_eq (strlen (session_id (session)), ID_STRLEN);
    ck_assert (id_valid (session_id (session), ID_STRLEN));
    ck_assert_str_ne (session_id (session), session_id (other));
    ck_assert_int_eq (session_state (session), SESSION_IDLE);
    ck_assert_str_eq (session_partner (session), "");
    ck_assert_str_eq (session_match (session), "");
    session_destroy (&other);
    session_destroy (&other); //  NULL-safe
}
END_TEST

START_TEST (test_partner)
{
    ck_assert_int_eq (session_set_partner (session, "p1", "m1"), 0);
    ck_assert_str_eq (session_partner (session), "p1");
    ck_assert_str_eq (session_match (session), "m1");
    ck_assert_int_eq (session_state (session), SESSION_MATCHED);
    char big[200];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq (session_set_partner (session, big, "m2"), -1);
    ck_assert_str_eq (session_partner (session), "p1"); //  unchanged
    session_clear_partner (session);
    ck_assert_str_eq (session_partner (session), "");
    ck_assert_str_eq (session_match (session), "");
    ck_assert_int_eq (session_state (session), SESSION_IDLE);
}
END_TEST

START_TEST (test_rx_whole_is_not_copied)
{
    const char *text = "{\"event\":\"find_match\",\"data\":{}}";
    const char *msg = NULL;
    size_t len = 0;
    ck_assert_int_eq (
        session_rx (session, text, strlen (text), true, 0, 100, &msg, &len),
        SESSION_RX_COMPLETE);
    ck_assert_ptr_eq (msg, text);
    ck_assert_uint_eq (len, strlen (text));
    session_rx_done (session);
}
END_TEST

START_TEST (test_rx_fragments)
{
    const char *msg = NULL;
    size_t len = 0;
    ck_assert_int_eq (session_rx (session, "abc", 3, false, 0, 100, &msg, &len),
                      SESSION_RX_PARTIAL);
    ck_assert_int_eq (session_rx (session, "def", 3, false, 4, 100, &msg, &len),
                      SESSION_RX_PARTIAL);
    ck_assert_int_eq (session_rx (session, "ghij", 4, true, 0, 100, &msg, &len),
                      SESSION_RX_COMPLETE);
    ck_assert_uint_eq (len, 10);
    ck_assert_int_eq (memcmp (msg, "abcdefghij", 10), 0);
    session_rx_done (session);
    //  The next message starts afresh.
    ck_assert_int_eq (session_rx (session, "xy", 2, true, 0, 100, &msg, &len),
                      SESSION_RX_COMPLETE);
    ck_assert_uint_eq (len, 2);
    ck_assert_int_eq (memcmp (msg, "xy", 2), 0);
    session_rx_done (session);
}
END_TEST

START_TEST (test_rx_too_large_once_then_usable)
{
    const char *msg = NULL;
    size_t len = 0;
    char chunk[8];
    memset (chunk, 'a', sizeof chunk);
    ck_assert_int_eq (session_rx (session, chunk, 8, false, 0, 20, &msg, &len),
                      SESSION_RX_PARTIAL);
    ck_assert_int_eq (session_rx (session, chunk, 8, false, 0, 20, &msg, &len),
                      SESSION_RX_PARTIAL);
    ck_assert_int_eq (session_rx (session, chunk, 8, false, 0, 20, &msg, &len),
                      SESSION_RX_TOO_LARGE);
    ck_assert_int_eq (session_rx (session, chunk, 8, false, 0, 20, &msg, &len),
                      SESSION_RX_DROPPED);
    ck_assert_int_eq (session_rx (session, chunk, 8, true, 0, 20, &msg, &len),
                      SESSION_RX_DROPPED);
    ck_assert_int_eq (session_rx (session, "ok", 2, true, 0, 20, &msg, &len),
                      SESSION_RX_COMPLETE);
    ck_assert_int_eq (memcmp (msg, "ok", 2), 0);
    session_rx_done (session);

    //  A frame header announcing too much is refused at its first piece.
    ck_assert_int_eq (
        session_rx (session, chunk, 8, false, 1000, 20, &msg, &len),
        SESSION_RX_TOO_LARGE);
    ck_assert_int_eq (session_rx (session, chunk, 8, true, 0, 20, &msg, &len),
                      SESSION_RX_DROPPED);
    //  A single piece over the limit: refused, nothing left to drop.
    char big[30];
    memset (big, 'b', sizeof big);
    ck_assert_int_eq (session_rx (session, big, 30, true, 0, 20, &msg, &len),
                      SESSION_RX_TOO_LARGE);
    ck_assert_int_eq (session_rx (session, "ok", 2, true, 0, 20, &msg, &len),
                      SESSION_RX_COMPLETE);
    session_rx_done (session);
    //  Exactly the limit is accepted.
    ck_assert_int_eq (session_rx (session, big, 20, true, 0, 20, &msg, &len),
                      SESSION_RX_COMPLETE);
    ck_assert_uint_eq (len, 20);
    session_rx_done (session);
}
END_TEST

START_TEST (test_rx_skip)
{
    ck_assert (session_rx_skip (session, false));
    ck_assert (!session_rx_skip (session, false));
    ck_assert (!session_rx_skip (session, true));
    ck_assert (session_rx_skip (session, true)); //  a new binary message
    const char *msg = NULL;
    size_t len = 0;
    ck_assert_int_eq (session_rx (session, "ok", 2, true, 0, 20, &msg, &len),
                      SESSION_RX_COMPLETE);
    session_rx_done (session);
}
END_TEST

START_TEST (test_queue_fifo)
{
    size_t len = 0;
    ck_assert_ptr_null (session_peek (session, &len));
    uint8_t *a = s_message ("first", &len);
    ck_assert_int_eq (session_push (session, &a, PRE, len), 0);
    ck_assert_ptr_null (a);
    uint8_t *b = s_message ("second", &len);
    ck_assert_int_eq (session_push (session, &b, PRE, len), 0);
    ck_assert_uint_eq (session_queued (session), 2);
    ck_assert_uint_eq (session_queued_bytes (session), 11);
    uint8_t *text = session_peek (session, &len);
    ck_assert_uint_eq (len, 5);
    ck_assert_int_eq (memcmp (text, "first", 5), 0);
    session_pop (session);
    text = session_peek (session, &len);
    ck_assert_uint_eq (len, 6);
    ck_assert_int_eq (memcmp (text, "second", 6), 0);
    session_pop (session);
    ck_assert_ptr_null (session_peek (session, &len));
    session_pop (session); //  no-op on empty
    ck_assert_uint_eq (session_queued (session), 0);
    ck_assert (!session_overflowed (session));
    //  Messages still queued are freed with the session (ASan checks).
    uint8_t *c = s_message ("left behind", &len);
    ck_assert_int_eq (session_push (session, &c, PRE, len), 0);
}
END_TEST

START_TEST (test_queue_bound_messages)
{
    size_t len = 0;
    for (int i = 0; i < SESSION_QUEUE_MAX_MESSAGES; i++) {
        uint8_t *m = s_message ("x", &len);
        ck_assert_int_eq (session_push (session, &m, PRE, len), 0);
    }
    uint8_t *m = s_message ("one too many", &len);
    ck_assert_int_eq (session_push (session, &m, PRE, len), -1);
    ck_assert_ptr_null (m);
    ck_assert (session_overflowed (session));
    //  Once overflowed, it stays refused even after draining.
    session_pop (session);
    m = s_message ("y", &len);
    ck_assert_int_eq (session_push (session, &m, PRE, len), -1);
}
END_TEST

START_TEST (test_queue_bound_bytes)
{
    size_t len = SESSION_QUEUE_MAX_BYTES / 2 + 1;
    uint8_t *a = calloc (1, PRE + len);
    uint8_t *b = calloc (1, PRE + len);
    ck_assert_int_eq (session_push (session, &a, PRE, len), 0);
    ck_assert_int_eq (session_push (session, &b, PRE, len), -1);
    ck_assert (session_overflowed (session));
    uint8_t *none = NULL;
    ck_assert_int_eq (session_push (session, &none, PRE, 0), -1);
}
END_TEST

//  Pushes and pops interleaved keep the order (the queue is circular).
START_TEST (test_queue_interleaved)
{
    size_t len = 0;
    char text[16];
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < round % 4 + 1; i++) {
            snprintf (text, sizeof text, "m%d", next_in++);
            uint8_t *m = s_message (text, &len);
            ck_assert_int_eq (session_push (session, &m, PRE, len), 0);
        }
        for (int i = 0; i < round % 3 + 1 && session_queued (session); i++) {
            snprintf (text, sizeof text, "m%d", next_out++);
            uint8_t *got = session_peek (session, &len);
            ck_assert_ptr_nonnull (got);
            ck_assert_uint_eq (len, strlen (text));
            ck_assert_int_eq (memcmp (got, text, len), 0);
            session_pop (session);
        }
    }
    ck_assert_uint_eq (session_queued (session), (size_t) (next_in - next_out));
}
END_TEST

//  A session made in the caller's memory: same behaviour; destroy frees
//  what it holds (ASan checks) but not the memory, and nulls the pointer.
START_TEST (test_embedded)
{
    ck_assert_uint_le (session_sizeof (), 128);
    uint64_t mem[32]; //  256 bytes, 8-byte aligned
    ck_assert_uint_le (session_sizeof (), sizeof mem);
    session_t *e = session_init (mem, (void *) mem);
    ck_assert_ptr_eq (e, (void *) mem);
    ck_assert_ptr_eq (session_conn (e), (void *) mem);
    ck_assert (id_valid (session_id (e), ID_STRLEN));
    ck_assert_int_eq (*session_pin (e), -1);
    ck_assert_str_eq (session_ip_hash (e), "");
    session_set_ip_hash (e, "abc");
    session_set_ip_hash (e, session_ip_hash (e)); //  its own: unchanged
    ck_assert_str_eq (session_ip_hash (e), "abc");
    ck_assert_int_eq (session_set_partner (e, "p", "m"), 0);
    const char *msg = NULL;
    size_t len = 0;
    ck_assert_int_eq (session_rx (e, "ab", 2, false, 0, 100, &msg, &len),
                      SESSION_RX_PARTIAL);
    uint8_t *m = s_message ("queued", &len);
    ck_assert_int_eq (session_push (e, &m, PRE, len), 0);
    session_t *p = e;
    session_destroy (&p);
    ck_assert_ptr_null (p);
    //  The memory is still ours, and keeps the address hash for the caller.
    ck_assert_str_eq (session_ip_hash (e), "abc");
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("session");
    TCase *tc = tcase_create ("core");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_new_ids);
    tcase_add_test (tc, test_partner);
    tcase_add_test (tc, test_rx_whole_is_not_copied);
    tcase_add_test (tc, test_rx_fragments);
    tcase_add_test (tc, test_rx_too_large_once_then_usable);
    tcase_add_test (tc, test_rx_skip);
    tcase_add_test (tc, test_queue_fifo);
    tcase_add_test (tc, test_queue_bound_messages);
    tcase_add_test (tc, test_queue_bound_bytes);
    tcase_add_test (tc, test_queue_interleaved);
    tcase_add_test (tc, test_embedded);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
