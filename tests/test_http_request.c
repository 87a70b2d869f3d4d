//  test_http_request - the HTTP/1.x request-head decoder of the matcher's
//  endpoint (common/http_request.h): what probes, scrapers and curl send
//  is accepted; partial heads wait; malformed and oversized ones are
//  refused.

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "http_request.h"
#include "check_main.h"

static int
s_parse (const char *text, http_request_t *req)
{
    return http_request_parse (text, strlen (text), 0, req);
}

START_TEST (test_probe_request)
{
    //  what compose/check.sh sends
    const char *text = "GET /readyz HTTP/1.1\r\nHost: localhost\r\n"
                       "Connection: close\r\n\r\n";
    http_request_t req;
    ck_assert_int_eq (s_parse (text, &req), HTTP_REQUEST_DONE);
    ck_assert_str_eq (req.method, "GET");
    ck_assert_str_eq (req.path, "/readyz");
    ck_assert_int_eq (req.minor, 1);
    ck_assert_uint_eq (req.head_len, strlen (text));
}
END_TEST

START_TEST (test_scraper_request)
{
    const char *text =
        "GET /metrics?x=1 HTTP/1.0\r\n"
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;"
        "version=0.0.4;q=0.5,*/*;q=0.1\r\n"
        "User-Agent: Prometheus/2.45\r\nX-Empty:\r\nX-Tab:\tv \xc3\xa9\r\n"
        "\r\nbody bytes are not looked at";
    http_request_t req;
    ck_assert_int_eq (s_parse (text, &req), HTTP_REQUEST_DONE);
    ck_assert_str_eq (req.path, "/metrics");
    ck_assert_int_eq (req.minor, 0);
    ck_assert_uint_eq (req.head_len, strlen (text) - 28);
    ck_assert_int_eq (s_parse ("HEAD / HTTP/1.1\r\n\r\n", &req),
                      HTTP_REQUEST_DONE);
    ck_assert_str_eq (req.method, "HEAD");
    ck_assert_str_eq (req.path, "/");
}
END_TEST

START_TEST (test_partial)
{
    const char *text = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t len = strlen (text);
    http_request_t req;
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_eq (http_request_parse (text, cut, 0, &req),
                          HTTP_REQUEST_PARTIAL);
    ck_assert_int_eq (http_request_parse (text, len, 0, &req),
                      HTTP_REQUEST_DONE);
}
END_TEST

START_TEST (test_bad)
{
    static const char *bad[] = {
        " / HTTP/1.1\r\n\r\n",                  //  no method
        "GET  / HTTP/1.1\r\n\r\n",              //  empty target
        "GET metrics HTTP/1.1\r\n\r\n",         //  not origin-form
        "GET http://x/ HTTP/1.1\r\n\r\n",       //  absolute form
        "GET / HTTP/2.0\r\n\r\n",               //  not HTTP/1.x
        "GET / HTTP/1.2\r\n\r\n",               //  unknown minor
        "GET / HTTP/1.1\n\n",                   //  bare LF
        "GET / HTTP/1.1\r\nHost: x\n\r\n",      //  bare LF in a header
        "GET / HTTP/1.1\r\nHost: x\rY\r\n\r\n", //  bare CR
        "GET / HTTP/1.1\r\n folded\r\n\r\n",    //  obs-fold / no name
        "GET / HTTP/1.1\r\n: v\r\n\r\n",        //  empty name
        "GET / HTTP/1.1\r\nHo st: x\r\n\r\n",   //  blank in a name
        "GET / HTTP/1.1\r\nHost: \x01\r\n\r\n", //  control byte
        "GET /a\x7f HTTP/1.1\r\n\r\n",          //  DEL in the target
        "G(T / HTTP/1.1\r\n\r\n",               //  not a token
        "GETTINGTOOLONGMETHOD / HTTP/1.1\r\n\r\n",
        "\r\n\r\n",
    };
    http_request_t req;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg (s_parse (bad[i], &req) == HTTP_REQUEST_BAD, "case %zu",
                       i);
    //  a NUL is refused too (strlen would stop at it)
    ck_assert_int_eq (
        http_request_parse ("GET /\0 HTTP/1.1\r\n\r\n", 20, 0, &req),
        HTTP_REQUEST_BAD);
    //  refused early: no need to wait for the rest
    ck_assert_int_eq (s_parse ("GET /a b", &req), HTTP_REQUEST_BAD);
}
END_TEST

START_TEST (test_limits)
{
    char path[HTTP_REQUEST_PATH_MAX + 64];
    http_request_t req;
    //  the longest path fits, one more is refused
    char text[HTTP_REQUEST_PATH_MAX + 128];
    memset (path, 'a', sizeof path);
    path[0] = '/';
    snprintf (text, sizeof text, "GET %.*s HTTP/1.1\r\n\r\n",
              HTTP_REQUEST_PATH_MAX, path);
    ck_assert_int_eq (s_parse (text, &req), HTTP_REQUEST_DONE);
    ck_assert_uint_eq (strlen (req.path), HTTP_REQUEST_PATH_MAX);
    snprintf (text, sizeof text, "GET %.*s HTTP/1.1\r\n\r\n",
              HTTP_REQUEST_PATH_MAX + 1, path);
    ck_assert_int_eq (s_parse (text, &req), HTTP_REQUEST_BAD);

    //  a head without its end within the cap is too large
    char big[HTTP_REQUEST_MAX + 16];
    size_t n = (size_t) snprintf (big, sizeof big, "GET / HTTP/1.1\r\nX: ");
    memset (big + n, 'v', sizeof big - n);
    ck_assert_int_eq (http_request_parse (big, HTTP_REQUEST_MAX - 1, 0, &req),
                      HTTP_REQUEST_PARTIAL);
    ck_assert_int_eq (http_request_parse (big, HTTP_REQUEST_MAX, 0, &req),
                      HTTP_REQUEST_TOO_LARGE);
    ck_assert_int_eq (http_request_parse (big, sizeof big, 0, &req),
                      HTTP_REQUEST_TOO_LARGE);
    //  a custom cap
    const char *ok = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ck_assert_int_eq (http_request_parse (ok, strlen (ok), 10, &req),
                      HTTP_REQUEST_TOO_LARGE);
    ck_assert_int_eq (http_request_parse (ok, 5, 10, &req),
                      HTTP_REQUEST_PARTIAL);
    ck_assert_int_eq (http_request_parse (ok, strlen (ok), strlen (ok), &req),
                      HTTP_REQUEST_DONE);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *s = suite_create ("http_request");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_probe_request);
    tcase_add_test (tc, test_scraper_request);
    tcase_add_test (tc, test_partial);
    tcase_add_test (tc, test_bad);
    tcase_add_test (tc, test_limits);
    suite_add_tcase (s, tc);
    return s;
}

MEGLE_CHECK_MAIN (s_suite)
