//  test_tap_filter - Check suite of megle-tap's pieces without network:
//  filter option parsing (good and bad values) and matching, the record
//  file round trip, and the reader's refusal of bad or truncated files.

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter.h"
#include "proto/frame.h"
#include "record.h"
#include "show.h"
#include "check_main.h"

#define SID_A "0123456789abcdef0123456789abcdef"
#define SID_B "fedcba9876543210fedcba9876543210"

static filter_t *filter;
static char err[640];

static void
s_setup (void)
{
    filter = filter_new ();
    ck_assert_ptr_nonnull (filter);
    err[0] = '\0';
}

static void
s_teardown (void)
{
    filter_destroy (&filter);
    ck_assert_ptr_null (filter);
}

static frame_t *
s_frame (frame_kind_t kind, const char *gw, const char *session,
         const char *peer)
{
    frame_t *f = frame_new (kind);
    ck_assert_ptr_nonnull (f);
    ck_assert_int_eq (
        frame_set_str (f->gateway, sizeof f->gateway, gw, strlen (gw)), 0);
    ck_assert_int_eq (frame_set_str (f->session, sizeof f->session, session,
                                     strlen (session)),
                      0);
    ck_assert_int_eq (
        frame_set_str (f->peer, sizeof f->peer, peer, strlen (peer)), 0);
    return f;
}

START_TEST (test_empty_filter_passes_all)
{
    frame_t *f = s_frame (FRAME_SIGNAL, "gw-a", SID_A, SID_B);
    ck_assert (filter_match (filter, RECORD_IN, f));
    ck_assert (filter_match (filter, RECORD_OUT, f));
    ck_assert (filter_match (filter, RECORD_IN, NULL));
    ck_assert_int_eq (filter_direction (filter), 0);
    frame_destroy (&f);
}
END_TEST

START_TEST (test_types)
{
    ck_assert_int_eq (
        filter_set_types (filter, "signal,deliver", err, sizeof err), 0);
    frame_t *signal = s_frame (FRAME_SIGNAL, "gw-a", SID_A, SID_B);
    frame_t *deliver = s_frame (FRAME_DELIVER, "gw-b", SID_B, SID_A);
    frame_t *find = s_frame (FRAME_FIND, "gw-a", SID_A, "");
    ck_assert (filter_match (filter, RECORD_IN, signal));
    ck_assert (filter_match (filter, RECORD_OUT, deliver));
    ck_assert (!filter_match (filter, RECORD_IN, find));
    ck_assert (!filter_match (filter, RECORD_IN, NULL));
    ck_assert_int_eq (filter_set_types (filter, "corrupt", err, sizeof err), 0);
    ck_assert (filter_match (filter, RECORD_IN, NULL));
    ck_assert (!filter_match (filter, RECORD_IN, signal));
    frame_destroy (&signal);
    frame_destroy (&deliver);
    frame_destroy (&find);
}
END_TEST

START_TEST (test_bad_types)
{
    ck_assert_int_eq (filter_set_types (filter, "signal", err, sizeof err), 0);
    const char *bad[] = {"",           "sig",          "signal,",
                         ",signal",    "signal,,find", "SIGNAL",
                         "signal,nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_int_eq (filter_set_types (filter, bad[i], err, sizeof err),
                          -1);
        ck_assert_msg (strstr (err, "--type"), "no reason for '%s'", bad[i]);
    }
    ck_assert (strstr (err, "nope"));
    //  A refused value leaves the filter as it was.
    frame_t *signal = s_frame (FRAME_SIGNAL, "gw-a", SID_A, SID_B);
    frame_t *find = s_frame (FRAME_FIND, "gw-a", SID_A, "");
    ck_assert (filter_match (filter, RECORD_IN, signal));
    ck_assert (!filter_match (filter, RECORD_IN, find));
    frame_destroy (&signal);
    frame_destroy (&find);
}
END_TEST

START_TEST (test_sessions)
{
    frame_t *mine = s_frame (FRAME_SIGNAL, "gw-a", SID_A, SID_B);
    frame_t *to_me = s_frame (FRAME_DELIVER, "gw-b", SID_B, SID_A);
    frame_t *other = s_frame (FRAME_FIND, "gw-a", SID_B, "");
    frame_t *pulse = s_frame (FRAME_PULSE, "*", "", "m-1");
    ck_assert_int_eq (filter_set_sessions (filter, SID_A, err, sizeof err), 0);
    ck_assert (filter_match (filter, RECORD_IN, mine));
    ck_assert (filter_match (filter, RECORD_OUT, to_me));
    ck_assert (!filter_match (filter, RECORD_IN, other));
    ck_assert (!filter_match (filter, RECORD_OUT, pulse));
    ck_assert (!filter_match (filter, RECORD_IN, NULL));
    //  A short id (as printed) is a prefix.
    ck_assert_int_eq (filter_set_sessions (filter, "01234567", err, sizeof err),
                      0);
    ck_assert (filter_match (filter, RECORD_IN, mine));
    ck_assert (!filter_match (filter, RECORD_IN, other));
    ck_assert_int_eq (
        filter_set_sessions (filter, "01234567,fedc", err, sizeof err), 0);
    ck_assert (filter_match (filter, RECORD_IN, other));
    const char *bad[] = {"",        "xyz",   "0123456789ABCDEF",
                         SID_A "0", "12 34", "a,,b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq (filter_set_sessions (filter, bad[i], err, sizeof err),
                          -1);
    ck_assert (strstr (err, "--session"));
    frame_destroy (&mine);
    frame_destroy (&to_me);
    frame_destroy (&other);
    frame_destroy (&pulse);
}
END_TEST

START_TEST (test_gateways)
{
    frame_t *a = s_frame (FRAME_SIGNAL, "gw-1", SID_A, SID_B);
    frame_t *a10 = s_frame (FRAME_SIGNAL, "gw-10", SID_A, SID_B);
    frame_t *all = s_frame (FRAME_PULSE, "*", "", "m-1");
    ck_assert_int_eq (filter_set_gateways (filter, "gw-1", err, sizeof err), 0);
    ck_assert (filter_match (filter, RECORD_IN, a));
    ck_assert (!filter_match (filter, RECORD_IN, a10)); //  exact, no prefix
    ck_assert (!filter_match (filter, RECORD_OUT, all));
    ck_assert (!filter_match (filter, RECORD_IN, NULL));
    ck_assert_int_eq (filter_set_gateways (filter, "gw-10,*", err, sizeof err),
                      0);
    ck_assert (filter_match (filter, RECORD_IN, a10));
    ck_assert (filter_match (filter, RECORD_OUT, all));
    ck_assert_int_eq (filter_set_gateways (filter, "gw 1", err, sizeof err),
                      -1);
    ck_assert (strstr (err, "--gateway"));
    ck_assert_int_eq (filter_set_gateways (filter, "", err, sizeof err), -1);
    char longid[80];
    memset (longid, 'g', 65);
    longid[65] = '\0';
    ck_assert_int_eq (filter_set_gateways (filter, longid, err, sizeof err),
                      -1);
    frame_destroy (&a);
    frame_destroy (&a10);
    frame_destroy (&all);
}
END_TEST

START_TEST (test_direction)
{
    frame_t *f = s_frame (FRAME_SIGNAL, "gw-1", SID_A, SID_B);
    ck_assert_int_eq (filter_set_direction (filter, "out", err, sizeof err), 0);
    ck_assert_int_eq (filter_direction (filter), RECORD_OUT);
    ck_assert (!filter_match (filter, RECORD_IN, f));
    ck_assert (filter_match (filter, RECORD_OUT, f));
    ck_assert (filter_match (filter, RECORD_OUT, NULL));
    ck_assert_int_eq (filter_set_direction (filter, "in", err, sizeof err), 0);
    ck_assert (filter_match (filter, RECORD_IN, f));
    ck_assert_int_eq (filter_set_direction (filter, "both", err, sizeof err),
                      -1);
    ck_assert (strstr (err, "--direction"));
    ck_assert_int_eq (filter_direction (filter), RECORD_IN);
    frame_destroy (&f);
}
END_TEST

START_TEST (test_combined)
{
    ck_assert_int_eq (filter_set_types (filter, "signal", err, sizeof err), 0);
    ck_assert_int_eq (filter_set_gateways (filter, "gw-1", err, sizeof err), 0);
    ck_assert_int_eq (filter_set_direction (filter, "in", err, sizeof err), 0);
    frame_t *yes = s_frame (FRAME_SIGNAL, "gw-1", SID_A, SID_B);
    frame_t *wrong_gw = s_frame (FRAME_SIGNAL, "gw-2", SID_A, SID_B);
    frame_t *wrong_kind = s_frame (FRAME_FIND, "gw-1", SID_A, "");
    ck_assert (filter_match (filter, RECORD_IN, yes));
    ck_assert (!filter_match (filter, RECORD_OUT, yes));
    ck_assert (!filter_match (filter, RECORD_IN, wrong_gw));
    ck_assert (!filter_match (filter, RECORD_IN, wrong_kind));
    frame_destroy (&yes);
    frame_destroy (&wrong_gw);
    frame_destroy (&wrong_kind);
}
END_TEST

//  ---------------------------------------------------------------------
//  Record files

static char path_a[64], path_b[64];

static void
s_record_setup (void)
{
    snprintf (path_a, sizeof path_a, "/tmp/test_tap_a.%d.rec", (int) getpid ());
    snprintf (path_b, sizeof path_b, "/tmp/test_tap_b.%d.rec", (int) getpid ());
}

static void
s_record_teardown (void)
{
    unlink (path_a);
    unlink (path_b);
}

static uint8_t *
s_slurp (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    ck_assert_ptr_nonnull (file);
    uint8_t *data = (uint8_t *) malloc (1 << 20);
    ck_assert_ptr_nonnull (data);
    *size = fread (data, 1, 1 << 20, file);
    fclose (file);
    return data;
}

static void
s_spill (const char *path, const uint8_t *data, size_t size)
{
    FILE *file = fopen (path, "wb");
    ck_assert_ptr_nonnull (file);
    ck_assert_uint_eq (fwrite (data, 1, size, file), size);
    fclose (file);
}

//  Writes three records: a real frame in, a corrupt one in, an empty out.
static void
s_write_sample (const char *path)
{
    frame_t *f = s_frame (FRAME_SIGNAL, "gw-a", SID_A, SID_B);
    ck_assert_int_eq (frame_set_payload (f, "{\"sdp\":\"v=0\"}", 13), 0);
    uint8_t *data;
    size_t size;
    ck_assert_int_eq (frame_encode (f, &data, &size), 0);
    record_writer_t *w = record_writer_new (path, err, sizeof err);
    ck_assert_ptr_nonnull (w);
    ck_assert_int_eq (record_writer_put (w, RECORD_IN, 1764000000000001ull,
                                         data, size, err, sizeof err),
                      0);
    ck_assert_int_eq (record_writer_put (w, RECORD_IN, 1764000000000002ull,
                                         "\xdd\x93\x3a\x00\x7e\xff", 6, err,
                                         sizeof err),
                      0);
    ck_assert_int_eq (record_writer_put (w, RECORD_OUT, 1764000000000003ull,
                                         NULL, 0, err, sizeof err),
                      0);
    ck_assert_int_eq (record_writer_put (w, 7, 1, data, size, err, sizeof err),
                      -1);
    record_writer_destroy (&w);
    ck_assert_ptr_null (w);
    free (data);
    frame_destroy (&f);
}

START_TEST (test_record_round_trip)
{
    s_write_sample (path_a);
    record_reader_t *r = record_reader_new (path_a, err, sizeof err);
    ck_assert_msg (r != NULL, "%s", err);
    record_writer_t *w = record_writer_new (path_b, err, sizeof err);
    ck_assert_ptr_nonnull (w);
    int dir;
    uint64_t t;
    const uint8_t *data;
    size_t size;
    int n = 0, rc;
    while (
        (rc = record_reader_next (r, &dir, &t, &data, &size, err, sizeof err))
        == 1) {
        n++;
        ck_assert_uint_eq (t, 1764000000000000ull + (uint64_t) n);
        if (n == 1) {
            frame_t *f = frame_decode (data, size, NULL, 0);
            ck_assert_ptr_nonnull (f);
            ck_assert_int_eq (f->kind, FRAME_SIGNAL);
            ck_assert_str_eq (f->session, SID_A);
            ck_assert_uint_eq (f->payload_len, 13);
            frame_destroy (&f);
        } else if (n == 2) {
            ck_assert_uint_eq (size, 6);
            ck_assert (frame_decode (data, size, NULL, 0) == NULL);
        } else
            ck_assert_uint_eq (size, 0);
        ck_assert_int_eq (dir, n == 3 ? RECORD_OUT : RECORD_IN);
        ck_assert_int_eq (
            record_writer_put (w, dir, t, data, size, err, sizeof err), 0);
    }
    ck_assert_int_eq (rc, 0);
    ck_assert_int_eq (n, 3);
    record_reader_destroy (&r);
    record_writer_destroy (&w);
    size_t size_a, size_b;
    uint8_t *a = s_slurp (path_a, &size_a);
    uint8_t *b = s_slurp (path_b, &size_b);
    ck_assert_uint_eq (size_a, size_b);
    ck_assert_mem_eq (a, b, size_a);
    ck_assert_mem_eq (a, "MEGLETAP\0\0\0\1", 12);
    free (a);
    free (b);
}
END_TEST

START_TEST (test_record_refused)
{
    //  Missing file, bad magic, other version, truncated header.
    ck_assert_ptr_null (
        record_reader_new ("/nonexistent/megle.rec", err, sizeof err));
    s_spill (path_a, (const uint8_t *) "NOTATAPFILE!", 12);
    ck_assert_ptr_null (record_reader_new (path_a, err, sizeof err));
    ck_assert (strstr (err, "magic"));
    s_spill (path_a, (const uint8_t *) "MEGLETAP\0\0\0\2", 12);
    ck_assert_ptr_null (record_reader_new (path_a, err, sizeof err));
    ck_assert (strstr (err, "version"));
    s_spill (path_a, (const uint8_t *) "MEGLETAP\0\0", 10);
    ck_assert_ptr_null (record_reader_new (path_a, err, sizeof err));
    s_spill (path_a, (const uint8_t *) "", 0);
    ck_assert_ptr_null (record_reader_new (path_a, err, sizeof err));

    //  Every truncation of a good file after the header: the complete
    //  records read back, then a clean refusal (or a clean end).
    s_write_sample (path_b);
    size_t size;
    uint8_t *good = s_slurp (path_b, &size);
    for (size_t cut = RECORD_HEADER_LEN; cut < size; cut++) {
        s_spill (path_a, good, cut);
        record_reader_t *r = record_reader_new (path_a, err, sizeof err);
        ck_assert_ptr_nonnull (r);
        int dir, rc;
        uint64_t t;
        const uint8_t *data;
        size_t len;
        while ((rc = record_reader_next (r, &dir, &t, &data, &len, err,
                                         sizeof err))
               == 1)
            ;
        if (cut == RECORD_HEADER_LEN)
            ck_assert_int_eq (rc, 0);
        else if (rc == 0) //  cut exactly between records
            ck_assert (cut == size - 13 || cut == size - 13 - 6 - 13);
        else
            ck_assert (strstr (err, "truncated"));
        record_reader_destroy (&r);
    }

    //  A bad direction byte and an oversized length are refused.
    uint8_t bad[RECORD_HEADER_LEN + 13];
    memcpy (bad, good, RECORD_HEADER_LEN);
    memset (bad + RECORD_HEADER_LEN, 0, 13);
    bad[RECORD_HEADER_LEN] = 9;
    s_spill (path_a, bad, sizeof bad);
    record_reader_t *r = record_reader_new (path_a, err, sizeof err);
    int dir;
    uint64_t t;
    const uint8_t *data;
    size_t len;
    ck_assert_int_eq (
        record_reader_next (r, &dir, &t, &data, &len, err, sizeof err), -1);
    ck_assert (strstr (err, "direction"));
    record_reader_destroy (&r);
    bad[RECORD_HEADER_LEN] = RECORD_IN;
    memset (bad + RECORD_HEADER_LEN + 9, 0xff, 4); //  4 GiB - 1
    s_spill (path_a, bad, sizeof bad);
    r = record_reader_new (path_a, err, sizeof err);
    ck_assert_int_eq (
        record_reader_next (r, &dir, &t, &data, &len, err, sizeof err), -1);
    ck_assert (strstr (err, "limit"));
    record_reader_destroy (&r);
    free (good);
}
END_TEST

//  ---------------------------------------------------------------------
//  Output: --redact leaves no payload byte, in either format

START_TEST (test_show_redact)
{
    frame_t *f = s_frame (FRAME_SIGNAL, "gw-a", SID_A, SID_B);
    const char *sdp = "{\"sdp\":\"v=0 SECRETMARKER 10.1.2.3\"}";
    ck_assert_int_eq (frame_set_payload (f, sdp, strlen (sdp)), 0);
    uint8_t *raw;
    size_t raw_size;
    ck_assert_int_eq (frame_encode (f, &raw, &raw_size), 0);
    for (int json = 0; json <= 1; json++)
        for (int redact = 0; redact <= 1; redact++)
            for (int corrupt = 0; corrupt <= 1; corrupt++) {
                char *text = NULL;
                size_t len = 0;
                FILE *out = open_memstream (&text, &len);
                show_opts_t opts = {json, false, false, redact, SIZE_MAX};
                //  A corrupt frame: the same bytes with a bad version.
                if (corrupt)
                    raw[1] = 9;
                ck_assert_int_eq (show_frame (out, &opts, RECORD_IN, 1,
                                              corrupt ? NULL : f, raw, raw_size,
                                              "bad version"),
                                  0);
                raw[1] = 1;
                fclose (out);
                //  "SECRETMARKER" in hex: 5345435245544d41524b4552.
                int leaked = strstr (text, "SECRETMARKER")
                             || strstr (text, "5345435245544d41524b4552");
                ck_assert_msg (leaked == !redact,
                               "json=%d redact=%d corrupt=%d: %s", json, redact,
                               corrupt, text);
                free (text);
            }
    free (raw);
    frame_destroy (&f);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("tap");
    TCase *tc = tcase_create ("filter");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_empty_filter_passes_all);
    tcase_add_test (tc, test_types);
    tcase_add_test (tc, test_bad_types);
    tcase_add_test (tc, test_sessions);
    tcase_add_test (tc, test_gateways);
    tcase_add_test (tc, test_direction);
    tcase_add_test (tc, test_combined);
    suite_add_tcase (suite, tc);
    tc = tcase_create ("record");
    tcase_add_checked_fixture (tc, s_record_setup, s_record_teardown);
    tcase_add_test (tc, test_record_round_trip);
    tcase_add_test (tc, test_record_refused);
    suite_add_tcase (suite, tc);
    tc = tcase_create ("show");
    tcase_add_test (tc, test_show_redact);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
