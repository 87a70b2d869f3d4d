//  test_admission - the WebSocket admission rules: Origin against Host or
//  an allow-list, the client address behind trusted proxies
//  (X-Forwarded-For, IPv4 and IPv6 CIDRs), and the per-gateway and
//  per-address connection caps with their hash table.

#include "admission.h"
#include "check_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char s_err[256];

static admission_t *
s_new (const char *proxies, const char *origins, size_t max_conns,
       size_t max_per_ip)
{
    s_err[0] = '\0';
    return admission_new (proxies, origins, max_conns, max_per_ip, s_err,
                          sizeof s_err);
}

START_TEST (test_origin_same_host)
{
    admission_t *a = s_new ("", "", 0, 0);
    ck_assert_ptr_nonnull (a);
    //  No Origin: not a browser, allowed.
    ck_assert (admission_origin_ok (a, NULL, "example.com"));
    ck_assert (admission_origin_ok (a, "", NULL));
    ck_assert (admission_origin_ok (a, "http://example.com", "example.com"));
    ck_assert (admission_origin_ok (a, "http://Example.COM", "example.com"));
    ck_assert (
        admission_origin_ok (a, "http://127.0.0.1:8080", "127.0.0.1:8080"));
    ck_assert (admission_origin_ok (a, "http://[::1]:8080", "[::1]:8080"));
    //  Default ports count as absent, on either side.
    ck_assert (admission_origin_ok (a, "http://example.com:80", "example.com"));
    ck_assert (admission_origin_ok (a, "http://example.com", "example.com:80"));
    ck_assert (admission_origin_ok (a, "https://example.com", "example.com"));
    ck_assert (
        admission_origin_ok (a, "https://example.com", "example.com:443"));
    ck_assert (admission_origin_ok (a, "https://example.com/", "example.com"));
    //  Other hosts, ports, schemes' default ports, garbage.
    ck_assert (!admission_origin_ok (a, "http://evil.example", "example.com"));
    ck_assert (
        !admission_origin_ok (a, "http://example.com.evil", "example.com"));
    ck_assert (
        !admission_origin_ok (a, "http://127.0.0.1:8081", "127.0.0.1:8080"));
    ck_assert (
        !admission_origin_ok (a, "https://example.com", "example.com:80"));
    ck_assert (!admission_origin_ok (a, "http://example.com", NULL));
    ck_assert (!admission_origin_ok (a, "null", "example.com"));
    ck_assert (!admission_origin_ok (a, "example.com", "example.com"));
    ck_assert (!admission_origin_ok (a, "http://", "example.com"));
    ck_assert (!admission_origin_ok (a, "://example.com", "example.com"));
    admission_destroy (&a);
    ck_assert_ptr_null (a);
    admission_destroy (&a);
}
END_TEST

START_TEST (test_origin_list)
{
    admission_t *a =
        s_new ("", " https://megle.example , http://localhost:8080/", 0, 0);
    ck_assert_ptr_nonnull (a);
    ck_assert (admission_origin_ok (a, "https://megle.example", "x"));
    ck_assert (admission_origin_ok (a, "HTTPS://MEGLE.EXAMPLE/", "x"));
    ck_assert (admission_origin_ok (a, "http://localhost:8080", "y"));
    ck_assert (admission_origin_ok (a, NULL, "y"));
    //  The list replaces the same-host rule.
    ck_assert (!admission_origin_ok (a, "http://x", "x"));
    ck_assert (!admission_origin_ok (a, "https://megle.example:444", "x"));
    admission_destroy (&a);

    a = s_new ("", "*", 0, 0);
    ck_assert_ptr_nonnull (a);
    ck_assert (admission_origin_ok (a, "http://anything", "else"));
    admission_destroy (&a);
}
END_TEST

START_TEST (test_bad_lists)
{
    const char *bad[] = {"1.2.3",          "1.2.3.4/33", "::1/129",
                         "1.2.3.4/",       "1.2.3.4/x",  "host.example",
                         "1.2.3.4 5.6.7.8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        admission_t *a = s_new (bad[i], "", 0, 0);
        ck_assert_msg (a == NULL, "%s accepted", bad[i]);
        ck_assert_ptr_nonnull (strstr (s_err, "trusted proxies"));
    }
    //  Blank items are ignored.
    admission_t *a = s_new (" , 10.0.0.0/8,, ::1 ,", "", 0, 0);
    ck_assert_ptr_nonnull (a);
    admission_destroy (&a);
}
END_TEST

static const char *
s_ip (admission_t *a, const char *peer, const char *xff)
{
    static char out[ADMISSION_IP_MAX];
    admission_client_ip (a, peer, xff, out, sizeof out);
    return out;
}

START_TEST (test_client_ip_untrusted)
{
    admission_t *a = s_new ("", "", 0, 0);
    ck_assert_ptr_nonnull (a);
    //  No trusted proxy: X-Forwarded-For is ignored.
    ck_assert_str_eq (s_ip (a, "127.0.0.1", "1.2.3.4"), "127.0.0.1");
    ck_assert_str_eq (s_ip (a, "::ffff:10.1.2.3", NULL), "10.1.2.3");
    ck_assert_str_eq (s_ip (a, "2001:db8::1", "1.2.3.4"), "2001:db8::1");
    ck_assert_str_eq (s_ip (a, "", "1.2.3.4"), "");
    admission_destroy (&a);
}
END_TEST

START_TEST (test_client_ip_trusted)
{
    admission_t *a = s_new ("127.0.0.1, 10.0.0.0/8, fd00::/8", "", 0, 0);
    ck_assert_ptr_nonnull (a);
    ck_assert_str_eq (s_ip (a, "127.0.0.1", "1.2.3.4"), "1.2.3.4");
    ck_assert_str_eq (s_ip (a, "::ffff:127.0.0.1", "1.2.3.4"), "1.2.3.4");
    //  Right-most untrusted: the client's own claims (left) are skipped.
    ck_assert_str_eq (s_ip (a, "127.0.0.1", "6.6.6.6, 1.2.3.4"), "1.2.3.4");
    ck_assert_str_eq (s_ip (a, "127.0.0.1", "6.6.6.6,1.2.3.4, 10.9.8.7"),
                      "1.2.3.4");
    ck_assert_str_eq (s_ip (a, "10.0.0.5", "2001:db8::7, fd12::1"),
                      "2001:db8::7");
    ck_assert_str_eq (s_ip (a, "fd00::1", "[2001:db8::8]"), "2001:db8::8");
    //  All trusted: the left-most.
    ck_assert_str_eq (s_ip (a, "127.0.0.1", "10.1.1.1, 10.2.2.2"), "10.1.1.1");
    //  No header or an empty one: the peer.
    ck_assert_str_eq (s_ip (a, "127.0.0.1", NULL), "127.0.0.1");
    ck_assert_str_eq (s_ip (a, "127.0.0.1", " , "), "127.0.0.1");
    //  Garbage where the proxy should have written an address: keep the
    //  last trusted hop rather than believe it.
    ck_assert_str_eq (s_ip (a, "127.0.0.1", "1.2.3.4, junk"), "127.0.0.1");
    ck_assert_str_eq (s_ip (a, "127.0.0.1", "junk, 10.3.3.3"), "10.3.3.3");
    //  A peer outside the trusted nets: ignored.
    ck_assert_str_eq (s_ip (a, "11.0.0.1", "1.2.3.4"), "11.0.0.1");
    ck_assert_str_eq (s_ip (a, "fe80::1", "1.2.3.4"), "fe80::1");
    admission_destroy (&a);
}
END_TEST

START_TEST (test_cidr_edges)
{
    admission_t *a = s_new ("192.168.1.128/25, 0.0.0.0/0", "", 0, 0);
    ck_assert_ptr_nonnull (a);
    ck_assert_str_eq (s_ip (a, "8.8.8.8", "1.1.1.1"), "1.1.1.1");
    admission_destroy (&a);
    a = s_new ("192.168.1.128/25", "", 0, 0);
    ck_assert_str_eq (s_ip (a, "192.168.1.200", "1.1.1.1"), "1.1.1.1");
    ck_assert_str_eq (s_ip (a, "192.168.1.127", "1.1.1.1"), "192.168.1.127");
    admission_destroy (&a);
    a = s_new ("2001:db8:abcd::/49", "", 0, 0);
    ck_assert_str_eq (s_ip (a, "2001:db8:abcd:7fff::1", "1.1.1.1"), "1.1.1.1");
    ck_assert_str_eq (s_ip (a, "2001:db8:abcd:8000::1", "1.1.1.1"),
                      "2001:db8:abcd:8000::1");
    admission_destroy (&a);
}
END_TEST

START_TEST (test_caps)
{
    admission_t *a = s_new ("", "", 3, 2);
    ck_assert_ptr_nonnull (a);
    ck_assert_int_eq (admission_check (a, "aa", 0), ADMISSION_OK);
    ck_assert_int_eq (admission_acquire (a, "aa"), 0);
    ck_assert_int_eq (admission_acquire (a, "aa"), 0);
    ck_assert_uint_eq (admission_count (a, "aa"), 2);
    ck_assert_int_eq (admission_check (a, "aa", 2), ADMISSION_PER_IP);
    ck_assert_int_eq (admission_check (a, "bb", 2), ADMISSION_OK);
    ck_assert_int_eq (admission_check (a, "bb", 3), ADMISSION_FULL);
    admission_release (a, "aa");
    ck_assert_int_eq (admission_check (a, "aa", 1), ADMISSION_OK);
    admission_release (a, "aa");
    ck_assert_uint_eq (admission_addresses (a), 0);
    admission_release (a, "aa"); //  unknown: harmless
    ck_assert_uint_eq (admission_count (a, "aa"), 0);
    admission_destroy (&a);

    //  No per-address cap: nothing is tracked.
    a = s_new ("", "", 0, 0);
    ck_assert_int_eq (admission_acquire (a, "aa"), 0);
    ck_assert_uint_eq (admission_addresses (a), 0);
    ck_assert_int_eq (admission_check (a, "aa", 1000000), ADMISSION_OK);
    admission_destroy (&a);
}
END_TEST

START_TEST (test_table_growth)
{
    admission_t *a = s_new ("", "", 0, 5);
    ck_assert_ptr_nonnull (a);
    char key[40];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 20000; i++) {
            snprintf (key, sizeof key, "%032x", i * 2654435761u);
            ck_assert_int_eq (admission_acquire (a, key), 0);
        }
        ck_assert_uint_eq (admission_addresses (a), 20000);
        for (int i = 0; i < 20000; i++) {
            snprintf (key, sizeof key, "%032x", i * 2654435761u);
            ck_assert_uint_eq (admission_count (a, key), 1);
            admission_release (a, key);
        }
        ck_assert_uint_eq (admission_addresses (a), 0);
    }
    admission_destroy (&a);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("admission");
    TCase *tc = tcase_create ("core");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_origin_same_host);
    tcase_add_test (tc, test_origin_list);
    tcase_add_test (tc, test_bad_lists);
    tcase_add_test (tc, test_client_ip_untrusted);
    tcase_add_test (tc, test_client_ip_trusted);
    tcase_add_test (tc, test_cidr_edges);
    tcase_add_test (tc, test_caps);
    tcase_add_test (tc, test_table_growth);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
