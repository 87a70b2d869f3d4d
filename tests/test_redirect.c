//  test_redirect - the parser of Redis Cluster MOVED/ASK/retry error
//  replies (matcher/redirect.c), with no network.

#include "redirect.h"
#include "check_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static redirect_t s_r;

static redirect_kind_t
s_parse (const char *text)
{
    //  an exactly-sized, unterminated copy: the parser must honour len
    size_t len = strlen (text);
    char *copy = (char *) malloc (len ? len : 1);
    ck_assert_ptr_nonnull (copy);
    memcpy (copy, text, len);
    redirect_kind_t kind = redirect_parse (copy, len, &s_r);
    free (copy);
    return kind;
}

START_TEST (test_moved)
{
    ck_assert_int_eq (s_parse ("MOVED 3999 127.0.0.1:6381"), REDIRECT_MOVED);
    ck_assert_int_eq (s_r.slot, 3999);
    ck_assert_str_eq (s_r.host, "127.0.0.1");
    ck_assert_int_eq (s_r.port, 6381);
    ck_assert_int_eq (s_parse ("MOVED 0 redis-1.example:1"), REDIRECT_MOVED);
    ck_assert_int_eq (s_r.slot, 0);
    ck_assert_str_eq (s_r.host, "redis-1.example");
    ck_assert_int_eq (s_r.port, 1);
    ck_assert_int_eq (s_parse ("MOVED 16383 h:65535"), REDIRECT_MOVED);
    ck_assert_int_eq (s_r.slot, 16383);
    ck_assert_int_eq (s_r.port, 65535);
}
END_TEST

START_TEST (test_ask)
{
    ck_assert_int_eq (s_parse ("ASK 12182 10.0.0.7:7002"), REDIRECT_ASK);
    ck_assert_int_eq (s_r.slot, 12182);
    ck_assert_str_eq (s_r.host, "10.0.0.7");
    ck_assert_int_eq (s_r.port, 7002);
}
END_TEST

START_TEST (test_ipv6_and_empty_host)
{
    //  Redis writes IPv6 without brackets: the port follows the last colon
    ck_assert_int_eq (s_parse ("MOVED 5 ::1:7000"), REDIRECT_MOVED);
    ck_assert_str_eq (s_r.host, "::1");
    ck_assert_int_eq (s_r.port, 7000);
    ck_assert_int_eq (s_parse ("ASK 5 fe80::1:2:7000"), REDIRECT_ASK);
    ck_assert_str_eq (s_r.host, "fe80::1:2");
    //  an empty host: the node that answered
    ck_assert_int_eq (s_parse ("MOVED 5 :7000"), REDIRECT_MOVED);
    ck_assert_str_eq (s_r.host, "");
    ck_assert_int_eq (s_r.port, 7000);
}
END_TEST

START_TEST (test_retry)
{
    const char *retry[] = {
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "CLUSTERDOWN The cluster is down",
        "CLUSTERDOWN Hash slot not served",
        "LOADING Redis is loading the dataset in memory",
        "MASTERDOWN Link with MASTER is down",
        "TRYAGAIN",
    };
    for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++) {
        ck_assert_int_eq (s_parse (retry[i]), REDIRECT_RETRY);
        ck_assert_int_eq (s_r.slot, -1);
        ck_assert_int_eq (s_r.port, 0);
        ck_assert_str_eq (s_r.host, "");
    }
}
END_TEST

START_TEST (test_refused)
{
    const char *none[] = {
        "",
        "NOSCRIPT No matching script. Please use EVAL.",
        "ERR unknown command",
        "MOVED",
        "MOVED ",
        "MOVED 1",
        "MOVED 1 ",
        "MOVED 1 host",
        "MOVED 1 host:",
        "MOVED 1 host:0",
        "MOVED 1 host:65536",
        "MOVED 1 host:123456",
        "MOVED 1 host:+80",
        "MOVED 1 host:080",
        "MOVED 16384 host:80",
        "MOVED 01 host:80",
        "MOVED -1 host:80",
        "MOVED  1 host:80",
        "MOVED 1  host:80",
        "MOVED 1 host:80 ",
        "MOVED 1 host:80\n",
        "MOVED 1 ?:80",
        "MOVED 1 ho st:80",
        "MOVED 1 host:80x",
        "moved 1 host:80",
        "MOVEDX 1 host:80",
        "ASK",
        "ASK 1 host",
        "ASKING",
        "TRYAGAINX",
        "LOADINGS",
        "CLUSTER DOWN",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        ck_assert_msg (s_parse (none[i]) == REDIRECT_NONE, "accepted: %s",
                       none[i]);
        ck_assert_int_eq (s_r.slot, -1);
        ck_assert_int_eq (s_r.port, 0);
    }
    ck_assert_int_eq (redirect_parse (NULL, 0, &s_r), REDIRECT_NONE);
}
END_TEST

START_TEST (test_host_length)
{
    char text[REDIRECT_HOST_MAX + 32];
    char host[REDIRECT_HOST_MAX + 2];
    memset (host, 'h', sizeof host - 1);
    host[REDIRECT_HOST_MAX] = '\0'; //  the longest accepted
    snprintf (text, sizeof text, "MOVED 7 %s:80", host);
    ck_assert_int_eq (s_parse (text), REDIRECT_MOVED);
    ck_assert_int_eq (strlen (s_r.host), REDIRECT_HOST_MAX);
    host[REDIRECT_HOST_MAX] = 'h'; //  one too many
    host[REDIRECT_HOST_MAX + 1] = '\0';
    snprintf (text, sizeof text, "MOVED 7 %s:80", host);
    ck_assert_int_eq (s_parse (text), REDIRECT_NONE);
}
END_TEST

START_TEST (test_embedded_nul)
{
    //  len, not the NUL, ends the text
    const char text[] = "MOVED 7 a\0b:80";
    ck_assert_int_eq (redirect_parse (text, sizeof text - 1, &s_r),
                      REDIRECT_NONE);
    ck_assert_int_eq (redirect_parse ("MOVED 7 a:80 trailing", 12, &s_r),
                      REDIRECT_MOVED);
    ck_assert_int_eq (s_r.port, 80);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("redirect");
    TCase *tc = tcase_create ("parse");
    tcase_add_test (tc, test_moved);
    tcase_add_test (tc, test_ask);
    tcase_add_test (tc, test_ipv6_and_empty_host);
    tcase_add_test (tc, test_retry);
    tcase_add_test (tc, test_refused);
    tcase_add_test (tc, test_host_length);
    tcase_add_test (tc, test_embedded_nul);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
