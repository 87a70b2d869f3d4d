//  test_metrics - Prometheus text helpers (common/metrics.h): histogram
//  bucketing and the exact text of each writer.

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "check_main.h"

//  Capture what fn writes.
typedef struct {
    char *text;
    size_t len;
    FILE *out;
} s_capture_t;

static void
s_open (s_capture_t *c)
{
    c->text = NULL;
    c->len = 0;
    c->out = open_memstream (&c->text, &c->len);
    ck_assert_ptr_nonnull (c->out);
}

static char *
s_close (s_capture_t *c)
{
    ck_assert_int_eq (fclose (c->out), 0);
    return c->text;
}

START_TEST (test_hist_buckets)
{
    metrics_hist_t h;
    const double bounds[] = {0.1, 1, 10};
    ck_assert_int_eq (metrics_hist_init (&h, bounds, 3), 0);
    metrics_hist_observe (&h, 0.05);
    metrics_hist_observe (&h, 0.1); //  le is inclusive
    metrics_hist_observe (&h, 0.5);
    metrics_hist_observe (&h, 10);
    metrics_hist_observe (&h, 11);
    metrics_hist_observe (&h, -3);  //  counts as 0
    metrics_hist_observe (&h, NAN); //  counts as 0
    ck_assert_uint_eq (h.count[0], 4);
    ck_assert_uint_eq (h.count[1], 1);
    ck_assert_uint_eq (h.count[2], 1);
    ck_assert_uint_eq (h.count[3], 1);
    ck_assert_uint_eq (h.total, 7);
    ck_assert (fabs (h.sum - 21.65) < 1e-9);
}
END_TEST

START_TEST (test_hist_init_refuses)
{
    metrics_hist_t h;
    const double down[] = {1, 0.5};
    ck_assert_int_eq (metrics_hist_init (&h, down, 2), -1);
    ck_assert_uint_eq (h.buckets, 0);
    metrics_hist_observe (&h, 3); //  +Inf only
    ck_assert_uint_eq (h.count[0], 1);
    const double inf[] = {1, INFINITY};
    ck_assert_int_eq (metrics_hist_init (&h, inf, 2), -1);
    double many[METRICS_BUCKETS_MAX + 5];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
        many[i] = (double) i + 1;
    ck_assert_int_eq (
        metrics_hist_init (&h, many, sizeof many / sizeof many[0]), 0);
    ck_assert_uint_eq (h.buckets, METRICS_BUCKETS_MAX);
    //  the ready-made bounds are valid
    ck_assert_int_eq (
        metrics_hist_init (&h, metrics_buckets_match, metrics_buckets_match_n),
        0);
    ck_assert_int_eq (metrics_hist_init (&h, metrics_buckets_latency,
                                         metrics_buckets_latency_n),
                      0);
}
END_TEST

START_TEST (test_histogram_text)
{
    metrics_hist_t h;
    const double bounds[] = {0.005, 0.25, 2.5};
    metrics_hist_init (&h, bounds, 3);
    metrics_hist_observe (&h, 0.001);
    metrics_hist_observe (&h, 0.2);
    metrics_hist_observe (&h, 0.3);
    metrics_hist_observe (&h, 100);
    s_capture_t c;
    s_open (&c);
    metrics_histogram (c.out, "megle_x_seconds", "Some time.", &h);
    char *text = s_close (&c);
    ck_assert_str_eq (text, "# HELP megle_x_seconds Some time.\n"
                            "# TYPE megle_x_seconds histogram\n"
                            "megle_x_seconds_bucket{le=\"0.005\"} 1\n"
                            "megle_x_seconds_bucket{le=\"0.25\"} 2\n"
                            "megle_x_seconds_bucket{le=\"2.5\"} 3\n"
                            "megle_x_seconds_bucket{le=\"+Inf\"} 4\n"
                            "megle_x_seconds_sum 100.501\n"
                            "megle_x_seconds_count 4\n");
    free (text);
}
END_TEST

START_TEST (test_counter_gauge_text)
{
    s_capture_t c;
    s_open (&c);
    metrics_counter (c.out, "megle_a_total", "Line one\nback\\slash.",
                     18446744073709551615ull);
    metrics_gauge (c.out, "megle_b", "A gauge.", 0.5);
    metrics_gauge (c.out, "megle_c", "Inf.", INFINITY);
    char *text = s_close (&c);
    ck_assert_str_eq (text, "# HELP megle_a_total Line one\\nback\\\\slash.\n"
                            "# TYPE megle_a_total counter\n"
                            "megle_a_total 18446744073709551615\n"
                            "# HELP megle_b A gauge.\n"
                            "# TYPE megle_b gauge\n"
                            "megle_b 0.5\n"
                            "# HELP megle_c Inf.\n"
                            "# TYPE megle_c gauge\n"
                            "megle_c +Inf\n");
    free (text);
}
END_TEST

START_TEST (test_labels)
{
    char buf[64];
    ck_assert_str_eq (metrics_label (buf, sizeof buf, "event", "find_match"),
                      "event=\"find_match\"");
    ck_assert_str_eq (metrics_label (buf, sizeof buf, "k", "a\"b\\c\nd"),
                      "k=\"a\\\"b\\\\c\\nd\"");
    //  truncation never splits an escape and always ends the string
    char small[8];
    metrics_label (small, sizeof small, "k", "\"\"\"\"");
    ck_assert_uint_lt (strlen (small), sizeof small);
    ck_assert_str_eq (small, "k=\"\\\"\"");
    s_capture_t c;
    s_open (&c);
    metrics_header (c.out, "megle_m_total", "counter", "By kind.");
    metrics_sample_u64 (c.out, "megle_m_total",
                        metrics_label (buf, sizeof buf, "kind", "find"), 3);
    metrics_sample (c.out, "megle_m_total", NULL, 2);
    metrics_sample (c.out, "megle_m_total", "", 1.25);
    char *text = s_close (&c);
    ck_assert_str_eq (text, "# HELP megle_m_total By kind.\n"
                            "# TYPE megle_m_total counter\n"
                            "megle_m_total{kind=\"find\"} 3\n"
                            "megle_m_total 2\n"
                            "megle_m_total 1.25\n");
    free (text);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *s = suite_create ("metrics");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_hist_buckets);
    tcase_add_test (tc, test_hist_init_refuses);
    tcase_add_test (tc, test_histogram_text);
    tcase_add_test (tc, test_counter_gauge_text);
    tcase_add_test (tc, test_labels);
    suite_add_tcase (s, tc);
    return s;
}

MEGLE_CHECK_MAIN (s_suite)
