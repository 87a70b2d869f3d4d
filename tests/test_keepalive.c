//  test_keepalive - the gateway's ping / idle-timeout policy and the size
//  of its sweep's slices.

#include "keepalive.h"
#include "check_main.h"

#include <check.h>
#include <stdint.h>

#define PING 25000u
#define IDLE 60000u

START_TEST (test_quiet_then_ping_then_close)
{
    uint32_t rx = 1000;
    ck_assert_int_eq (keepalive_check (rx, rx, false, PING, IDLE),
                      KEEPALIVE_OK);
    ck_assert_int_eq (keepalive_check (rx + PING - 1, rx, false, PING, IDLE),
                      KEEPALIVE_OK);
    ck_assert_int_eq (keepalive_check (rx + PING, rx, false, PING, IDLE),
                      KEEPALIVE_PING);
    //  One ping per quiet stretch.
    ck_assert_int_eq (keepalive_check (rx + PING + 5, rx, true, PING, IDLE),
                      KEEPALIVE_OK);
    ck_assert_int_eq (keepalive_check (rx + IDLE - 1, rx, true, PING, IDLE),
                      KEEPALIVE_OK);
    //  Nothing came back for the idle timeout: closed, pinged or not.
    ck_assert_int_eq (keepalive_check (rx + IDLE, rx, true, PING, IDLE),
                      KEEPALIVE_CLOSE);
    ck_assert_int_eq (keepalive_check (rx + IDLE, rx, false, PING, IDLE),
                      KEEPALIVE_CLOSE);
}
END_TEST

START_TEST (test_clock_wrap)
{
    //  The 32-bit clock wraps between the input and the check.
    uint32_t rx = UINT32_MAX - 100;
    ck_assert_int_eq (keepalive_check (rx + 50, rx, false, PING, IDLE),
                      KEEPALIVE_OK);
    ck_assert_int_eq (keepalive_check (rx + PING, rx, false, PING, IDLE),
                      KEEPALIVE_PING);
    ck_assert_int_eq (keepalive_check (rx + IDLE, rx, true, PING, IDLE),
                      KEEPALIVE_CLOSE);
}
END_TEST

START_TEST (test_input_after_now)
{
    //  Input stamped just after the sweep read its clock: not quiet.
    ck_assert_int_eq (keepalive_check (5000, 5003, false, PING, IDLE),
                      KEEPALIVE_OK);
    ck_assert_int_eq (keepalive_check (5000, 5003, true, PING, IDLE),
                      KEEPALIVE_OK);
}
END_TEST

START_TEST (test_slice)
{
    //  200 ms ticks, one round a second: a fifth of the table per tick.
    ck_assert_uint_eq (keepalive_slice (16, 200, 1000), 4);
    ck_assert_uint_eq (keepalive_slice (65536, 200, 1000), 13108);
    ck_assert_uint_eq (keepalive_slice (5, 200, 1000), 1);
    ck_assert_uint_eq (keepalive_slice (1, 200, 1000), 1);
    ck_assert_uint_eq (keepalive_slice (0, 200, 1000), 0);
    //  A tick as long as the period, or longer: the whole table.
    ck_assert_uint_eq (keepalive_slice (64, 1000, 1000), 64);
    ck_assert_uint_eq (keepalive_slice (64, 5000, 1000), 64);
    ck_assert_uint_eq (keepalive_slice (64, 0, 0), 64);
    //  Ticks that do not divide the period: rounded so a round is never
    //  longer than the period.
    for (uint32_t tick = 1; tick <= 1000; tick += 37) {
        size_t slots = 1024;
        size_t slice = keepalive_slice (slots, tick, 1000);
        size_t ticks = (slots + slice - 1) / slice;
        ck_assert_uint_le (ticks * tick, 1000 + tick);
        ck_assert_uint_ge (slice, 1);
    }
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("keepalive");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_quiet_then_ping_then_close);
    tcase_add_test (tc, test_clock_wrap);
    tcase_add_test (tc, test_input_after_now);
    tcase_add_test (tc, test_slice);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
