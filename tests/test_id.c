//  test_id - random ids, their validation, gateway ids and the salted hash.

#include "id.h"
#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define MANY 10000

static int
s_compare (const void *a, const void *b)
{
    return memcmp (a, b, ID_STRLEN + 1);
}

START_TEST (test_many_ids_valid_and_distinct)
{
    char (*ids)[ID_STRLEN + 1] = calloc (MANY, sizeof *ids);
    ck_assert_ptr_nonnull (ids);
    for (int i = 0; i < MANY; i++) {
        ck_assert_int_eq (id_new (ids[i]), 0);
        ck_assert_int_eq (strlen (ids[i]), ID_STRLEN);
        ck_assert (id_valid (ids[i], strlen (ids[i])));
    }
    qsort (ids, MANY, sizeof *ids, s_compare);
    for (int i = 1; i < MANY; i++)
        ck_assert_str_ne (ids[i - 1], ids[i]);
    free (ids);
}
END_TEST

START_TEST (test_id_valid_rejects)
{
    const char *good = "0123456789abcdef0123456789abcdef";
    ck_assert (id_valid (good, 32));
    ck_assert (!id_valid (good, 31));
    ck_assert (!id_valid ("0123456789abcdef0123456789abcdef0", 33));
    ck_assert (!id_valid ("0123456789ABCDEF0123456789abcdef", 32));
    ck_assert (!id_valid ("0123456789abcdeg0123456789abcdef", 32));
    ck_assert (!id_valid ("0123456789abcde 0123456789abcdef", 32));
    ck_assert (!id_valid ("", 0));
    ck_assert (!id_valid (NULL, 32));
    //  An embedded NUL counts as a bad character, not as an end.
    ck_assert (!id_valid ("0123456789abcdef\0"
                          "123456789abcdef",
                          32));
    //  Every byte value, at the first and the last position: only 0-9 and
    //  a-f pass (bytes >= 0x80 included: no sign trouble).
    for (int c = 0; c < 256; c++) {
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        char id[33];
        memcpy (id, good, 33);
        id[0] = (char) c;
        ck_assert_int_eq (id_valid (id, 32), hex);
        memcpy (id, good, 33);
        id[31] = (char) c;
        ck_assert_int_eq (id_valid (id, 32), hex);
    }
}
END_TEST

START_TEST (test_gateway_valid)
{
    ck_assert (id_gateway_valid ("gw-1", 4));
    ck_assert (id_gateway_valid ("A.b_c-9", 7));
    ck_assert (!id_gateway_valid ("", 0));
    ck_assert (!id_gateway_valid ("*", 1));
    ck_assert (!id_gateway_valid ("gw 1", 4));
    ck_assert (!id_gateway_valid ("gw\0"
                                  "1",
                                  4));
    char name[ID_GATEWAY_MAX + 2];
    memset (name, 'g', sizeof name);
    ck_assert (id_gateway_valid (name, ID_GATEWAY_MAX));
    ck_assert (!id_gateway_valid (name, ID_GATEWAY_MAX + 1));
}
END_TEST

START_TEST (test_random_fills)
{
    unsigned char zero[4096] = {0};
    unsigned char buf[4096] = {0};
    ck_assert_int_eq (id_random (buf, sizeof buf), 0);
    ck_assert (memcmp (buf, zero, sizeof buf) != 0);
    ck_assert_int_eq (id_random (buf, 0), 0);
}
END_TEST

START_TEST (test_salted_hash)
{
    char a[ID_STRLEN + 1], b[ID_STRLEN + 1], c[ID_STRLEN + 1];
    ck_assert_int_eq (id_salted_hash ("salt-1", "203.0.113.7", a), 0);
    ck_assert_int_eq (id_salted_hash ("salt-1", "203.0.113.7", b), 0);
    ck_assert_str_eq (a, b);
    ck_assert (id_valid (a, strlen (a)));
    ck_assert_int_eq (id_salted_hash ("salt-2", "203.0.113.7", c), 0);
    ck_assert_str_ne (a, c);
    ck_assert_int_eq (id_salted_hash ("salt-1", "203.0.113.8", c), 0);
    ck_assert_str_ne (a, c);
    ck_assert_int_eq (id_salted_hash ("", "", c), 0);
    ck_assert (id_valid (c, strlen (c)));
}
END_TEST

START_TEST (test_salted_hash_rfc4231)
{
    //  RFC 4231 test case 2; HMAC-SHA256 = 5bdcc146bf60754e6a042426089575c7
    //  5a003f089d2739839dec58b964ec3843, of which we keep 16 bytes.
    char out[ID_STRLEN + 1];
    ck_assert_int_eq (
        id_salted_hash ("Jefe", "what do ya want for nothing?", out), 0);
    ck_assert_str_eq (out, "5bdcc146bf60754e6a042426089575c7");
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("id");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_many_ids_valid_and_distinct);
    tcase_add_test (tc, test_id_valid_rejects);
    tcase_add_test (tc, test_gateway_valid);
    tcase_add_test (tc, test_random_fills);
    tcase_add_test (tc, test_salted_hash);
    tcase_add_test (tc, test_salted_hash_rfc4231);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
