//  test_log - the JSON line logger: escaping, levels, line cap, lws sink,
//  structured events and their fields, and the clocks it depends on.

#include "clock.h"
#include "log.h"
#include "check_main.h"

#include <cjson/cJSON.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_pipe[2];
static int s_saved_stderr;

//  Route stderr into a pipe for the test's duration.
static void
s_capture (void)
{
    ck_assert_int_eq (pipe (s_pipe), 0);
    s_saved_stderr = dup (STDERR_FILENO);
    ck_assert_int_ge (s_saved_stderr, 0);
    ck_assert_int_ge (dup2 (s_pipe[1], STDERR_FILENO), 0);
    close (s_pipe[1]);
}

//  Restore stderr and return everything written meanwhile (caller frees).
static char *
s_captured (void)
{
    dup2 (s_saved_stderr, STDERR_FILENO);
    close (s_saved_stderr);
    size_t cap = 65536, len = 0;
    char *buf = malloc (cap);
    ck_assert_ptr_nonnull (buf);
    ssize_t n;
    while ((n = read (s_pipe[0], buf + len, cap - 1 - len)) > 0)
        len += (size_t) n;
    close (s_pipe[0]);
    buf[len] = '\0';
    return buf;
}

static int
s_count_lines (const char *text)
{
    int lines = 0;
    for (; *text; text++)
        lines += *text == '\n';
    return lines;
}

//  Parse one line as JSON and return its "msg" (caller frees the cJSON).
static cJSON *
s_parse (const char *line, const char **msg)
{
    cJSON *json = cJSON_Parse (line);
    ck_assert_msg (json != NULL, "not JSON: %s", line);
    cJSON *item = cJSON_GetObjectItemCaseSensitive (json, "msg");
    ck_assert (cJSON_IsString (item));
    *msg = item->valuestring;
    return json;
}

static int s_evaluated;

static int
s_side_effect (void)
{
    return ++s_evaluated;
}

START_TEST (test_line_shape_and_escaping)
{
    log_init ("test", MEGLE_LOG_INFO);
    s_capture ();
    log_info ("say \"%s\" \\ tab\there\nnew %d\x01", "hi", 42);
    char *out = s_captured ();
    ck_assert_int_eq (s_count_lines (out), 1);
    ck_assert_msg (strncmp (out, "{\"ts\":\"", 7) == 0, "%s", out);
    //  2026-11-28T22:40:01.123Z
    ck_assert_int_eq (out[7 + 4], '-');
    ck_assert_int_eq (out[7 + 10], 'T');
    ck_assert_int_eq (out[7 + 19], '.');
    ck_assert_int_eq (out[7 + 23], 'Z');
    ck_assert_ptr_nonnull (
        strstr (out, "\"level\":\"info\",\"proc\":\"test\",\"event\":"
                     "\"log\",\"msg\":\"say "
                     "\\\"hi\\\" \\\\ tab\\u0009here\\u000anew "
                     "42\\u0001\"}\n"));
    const char *msg;
    cJSON *json = s_parse (out, &msg);
    ck_assert_str_eq (msg, "say \"hi\" \\ tab\there\nnew 42\x01");
    cJSON_Delete (json);
    free (out);
}
END_TEST

START_TEST (test_levels)
{
    log_init ("test", MEGLE_LOG_INFO);
    ck_assert (!log_enabled (MEGLE_LOG_DEBUG));
    ck_assert (log_enabled (MEGLE_LOG_INFO));
    ck_assert (log_enabled (MEGLE_LOG_ERROR));
    s_capture ();
    s_evaluated = 0;
    log_debug ("hidden %d", s_side_effect ());
    log_warn ("shown %d", 1);
    log_error ("shown %d", 2);
    char *out = s_captured ();
    ck_assert_int_eq (s_evaluated, 0); //  arguments not evaluated
    ck_assert_int_eq (s_count_lines (out), 2);
    ck_assert_ptr_null (strstr (out, "hidden"));
    ck_assert_ptr_nonnull (strstr (out, "\"level\":\"warn\""));
    ck_assert_ptr_nonnull (strstr (out, "\"level\":\"error\""));
    free (out);

    log_init ("test", MEGLE_LOG_DEBUG);
    s_capture ();
    log_debug ("visible %d", s_side_effect ());
    out = s_captured ();
    ck_assert_int_eq (s_evaluated, 1);
    ck_assert_ptr_nonnull (strstr (out, "\"level\":\"debug\""));
    free (out);
}
END_TEST

START_TEST (test_long_line_capped)
{
    log_init ("test", MEGLE_LOG_INFO);
    size_t big = 20000;
    char *text = malloc (big + 1);
    ck_assert_ptr_nonnull (text);
    //  Quotes double in size when escaped; mix them with 2-byte UTF-8 so
    //  the cut has to land on a character boundary.
    for (size_t i = 0; i < big; i += 4)
        memcpy (text + i, "a\"\xc3\xa9", 4);
    text[big] = '\0';
    s_capture ();
    log_info ("%s", text);
    char *out = s_captured ();
    ck_assert_int_eq (s_count_lines (out), 1);
    ck_assert_uint_le (strlen (out), 4096);
    ck_assert_uint_ge (strlen (out), 4000);
    const char *msg;
    cJSON *json = s_parse (out, &msg);
    size_t len = strlen (msg);
    ck_assert_str_eq (msg + len - 3, "...");
    cJSON_Delete (json);
    free (out);
    free (text);
}
END_TEST

START_TEST (test_invalid_utf8_replaced)
{
    log_init ("test", MEGLE_LOG_INFO);
    s_capture ();
    log_info ("bad \xff\xc3 ok \xc3\xa9 surrogate \xed\xa0\x80 end");
    char *out = s_captured ();
    const char *msg;
    cJSON *json = s_parse (out, &msg);
    ck_assert_ptr_nonnull (strstr (out, "bad \\ufffd\\ufffd ok \xc3\xa9"));
    ck_assert_ptr_nonnull (strstr (msg, "\xef\xbf\xbd"));
    cJSON_Delete (json);
    free (out);
}
END_TEST

START_TEST (test_lws_sink)
{
    log_init ("gw", MEGLE_LOG_INFO);
    s_capture ();
    log_lws_sink (1, "boom\n");
    log_lws_sink (2, "careful");
    log_lws_sink (4, "notice\n");
    log_lws_sink (8, "info\n");
    log_lws_sink (16, "debug, hidden\n");
    log_lws_sink (64, "parser, hidden\n");
    char *out = s_captured ();
    ck_assert_int_eq (s_count_lines (out), 4);
    ck_assert_ptr_nonnull (strstr (out, "\"level\":\"error\",\"proc\":\"gw\","
                                        "\"event\":\"log\","
                                        "\"msg\":\"lws: boom\"}\n"));
    ck_assert_ptr_nonnull (strstr (out, "\"level\":\"warn\",\"proc\":\"gw\","
                                        "\"event\":\"log\","
                                        "\"msg\":\"lws: careful\"}\n"));
    ck_assert_ptr_nonnull (strstr (out, "\"level\":\"info\",\"proc\":\"gw\","
                                        "\"event\":\"log\","
                                        "\"msg\":\"lws: notice\"}\n"));
    ck_assert_ptr_null (strstr (out, "hidden"));
    free (out);
}
END_TEST

//  A string field of a parsed line, or NULL.
static const char *
s_field (cJSON *json, const char *key)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive (json, key);
    return cJSON_IsString (item) ? item->valuestring : NULL;
}

START_TEST (test_event_fields)
{
    log_init ("test", MEGLE_LOG_INFO);
    s_capture ();
    log_ev_info ("match_made", "match", "m1", "mode", "video", NULL);
    log_ev_warn ("quoted", "value", "say \"hi\" \\ \n\x01 \xff end", NULL);
    log_info ("plain %d", 1);
    log_ev_text (MEGLE_LOG_INFO, "zap_refused", "zap: refused CURVE client",
                 "refused", "3", NULL);
    char *out = s_captured ();
    ck_assert_int_eq (s_count_lines (out), 4);
    ck_assert_msg (strstr (out, "\"proc\":\"test\",\"event\":\"match_made\","
                                "\"msg\":\"match_made match=m1 mode=video\","
                                "\"match\":\"m1\",\"mode\":\"video\"}\n"),
                   "%s", out);

    char *line = strtok (out, "\n");
    const char *msg;
    cJSON *json = s_parse (line, &msg);
    ck_assert_str_eq (s_field (json, "event"), "match_made");
    ck_assert_str_eq (s_field (json, "level"), "info");
    ck_assert_str_eq (msg, "match_made match=m1 mode=video");
    ck_assert_str_eq (s_field (json, "match"), "m1");
    ck_assert_str_eq (s_field (json, "mode"), "video");
    cJSON_Delete (json);

    json = s_parse (strtok (NULL, "\n"), &msg);
    ck_assert_str_eq (s_field (json, "level"), "warn");
    ck_assert_str_eq (s_field (json, "value"),
                      "say \"hi\" \\ \n\x01 \xef\xbf\xbd end");
    ck_assert_str_eq (msg,
                      "quoted value=say \"hi\" \\ \n\x01 \xef\xbf\xbd end");
    cJSON_Delete (json);

    json = s_parse (strtok (NULL, "\n"), &msg);
    ck_assert_str_eq (s_field (json, "event"), "log");
    ck_assert_str_eq (msg, "plain 1");
    cJSON_Delete (json);

    json = s_parse (strtok (NULL, "\n"), &msg);
    ck_assert_str_eq (s_field (json, "event"), "zap_refused");
    ck_assert_str_eq (msg, "zap: refused CURVE client refused=3");
    ck_assert_str_eq (s_field (json, "refused"), "3");
    cJSON_Delete (json);
    free (out);
}
END_TEST

START_TEST (test_event_bad_keys_refused)
{
    log_init ("test", MEGLE_LOG_INFO);
    s_capture ();
    log_ev_info ("keys", "ts", "x", "level", "x", "proc", "x", "event", "x",
                 "msg", "x", "Upper", "x", "has space", "x", "", "x", "q\"uote",
                 "x", "abcdefghijklmnopqrstuvwxyz0123456", "x",
                 "abcdefghijklmnopqrstuvwxyz012345", "32", "ok_1", "yes",
                 "ok_1", "again", NULL);
    char *out = s_captured ();
    ck_assert_int_eq (s_count_lines (out), 1);
    const char *msg;
    cJSON *json = s_parse (out, &msg);
    ck_assert_str_eq (s_field (json, "event"), "keys");
    ck_assert_str_eq (s_field (json, "level"), "info");
    ck_assert_str_eq (s_field (json, "proc"), "test");
    ck_assert_str_eq (msg, "keys abcdefghijklmnopqrstuvwxyz012345=32 ok_1=yes");
    ck_assert_str_eq (s_field (json, "ok_1"), "yes");
    ck_assert_str_eq (s_field (json, "abcdefghijklmnopqrstuvwxyz012345"), "32");
    //  ts, level, proc, event, msg and the two kept fields: nothing else.
    ck_assert_int_eq (cJSON_GetArraySize (json), 7);
    cJSON_Delete (json);
    free (out);
}
END_TEST

START_TEST (test_event_capped)
{
    log_init ("test", MEGLE_LOG_INFO);
    size_t big = 20000;
    char *text = malloc (big + 1);
    ck_assert_ptr_nonnull (text);
    for (size_t i = 0; i < big; i += 4)
        memcpy (text + i, "a\"\xc3\xa9", 4);
    text[big] = '\0';
    s_capture ();
    log_ev_info ("big", "first", "short", "huge", text, "after", text, NULL);
    log_event_text (MEGLE_LOG_INFO, "big_text", text, "small", "kept", NULL);
    char *out = s_captured ();
    ck_assert_int_eq (s_count_lines (out), 2);

    char *line = strtok (out, "\n");
    ck_assert_uint_le (strlen (line) + 1, 4096);
    ck_assert_uint_ge (strlen (line) + 1, 4000);
    const char *msg;
    cJSON *json = s_parse (line, &msg);
    ck_assert_str_eq (s_field (json, "event"), "big");
    ck_assert_str_eq (msg + strlen (msg) - 3, "...");
    ck_assert_str_eq (s_field (json, "first"), "short");
    const char *huge = s_field (json, "huge");
    ck_assert_ptr_nonnull (huge);
    ck_assert_str_eq (huge + strlen (huge) - 3, "...");
    cJSON_Delete (json);

    line = strtok (NULL, "\n");
    ck_assert_uint_le (strlen (line) + 1, 4096);
    json = s_parse (line, &msg);
    ck_assert_str_eq (msg + strlen (msg) - 3, "...");
    //  A long message still leaves the fields their room.
    ck_assert_str_eq (s_field (json, "small"), "kept");
    cJSON_Delete (json);
    free (out);
    free (text);
}
END_TEST

static const char *
s_side_effect_str (void)
{
    s_evaluated++;
    return "x";
}

START_TEST (test_event_levels)
{
    log_init ("test", MEGLE_LOG_WARN);
    s_capture ();
    s_evaluated = 0;
    log_ev_info ("hidden", "k", s_side_effect_str (), NULL);
    log_ev_debug ("hidden", "k", s_side_effect_str (), NULL);
    log_ev_text (MEGLE_LOG_INFO, "hidden", s_side_effect_str (), NULL);
    log_ev_error ("shown", "k", s_side_effect_str (), NULL);
    char *out = s_captured ();
    ck_assert_int_eq (s_evaluated, 1); //  only the error's arguments
    ck_assert_int_eq (s_count_lines (out), 1);
    ck_assert_ptr_null (strstr (out, "hidden"));
    ck_assert_ptr_nonnull (strstr (out, "\"level\":\"error\""));
    free (out);
}
END_TEST

START_TEST (test_clocks)
{
    uint64_t wall = clock_wall_ms ();
    ck_assert_uint_gt (wall, 1600000000000ull); //  after 2020
    uint64_t ms = clock_mono_ms ();
    uint64_t us = clock_mono_us ();
    ck_assert_uint_ge (us / 1000, ms);
    uint64_t later = clock_mono_us ();
    ck_assert_uint_ge (later, us);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("log");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_line_shape_and_escaping);
    tcase_add_test (tc, test_levels);
    tcase_add_test (tc, test_long_line_capped);
    tcase_add_test (tc, test_invalid_utf8_replaced);
    tcase_add_test (tc, test_lws_sink);
    tcase_add_test (tc, test_event_fields);
    tcase_add_test (tc, test_event_bad_keys_refused);
    tcase_add_test (tc, test_event_capped);
    tcase_add_test (tc, test_event_levels);
    tcase_add_test (tc, test_clocks);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
