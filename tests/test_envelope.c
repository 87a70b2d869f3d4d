//  test_envelope - Check suite for gateway/envelope: client message parsing
//  (fields, exact raw spans, every error code) and the server's builders.
//
//  `test_envelope --bench` instead prints the cost of parsing a ~3 KB SDP
//  signal and building the relayed envelope (run by hand; not asserted).

#include "envelope.h"
#include "json_text.h"
#include "check_main.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  libwebsockets' LWS_PRE is 16 on this build; any headroom will do here.
#define LWS_PRE_FOR_TEST 16
//  The chat limit the parses below use (MEGLE_CHAT_MAX's default).
#define CHAT_MAX 2000

//  One parse of a private, exactly-sized copy of the text (so that a read
//  past len is an ASan error); the spans point into that copy.
typedef struct {
    char *buf;
    envelope_t env;
    const char *code;
    char msg[128];
    int rc;
} parsed_t;

static parsed_t *
s_parse_len (const char *text, size_t len)
{
    parsed_t *self = calloc (1, sizeof *self);
    ck_assert_ptr_nonnull (self);
    self->buf = malloc (len ? len : 1);
    ck_assert_ptr_nonnull (self->buf);
    memcpy (self->buf, text, len);
    self->code = NULL;
    self->rc = envelope_parse (self->buf, len, CHAT_MAX, &self->env,
                               &self->code, self->msg, sizeof self->msg);
    return self;
}

static parsed_t *
s_parse (const char *text)
{
    return s_parse_len (text, strlen (text));
}

static void
s_parsed_destroy (parsed_t **self_p)
{
    parsed_t *self = *self_p;
    if (self) {
        envelope_clear (&self->env);
        free (self->buf);
        free (self);
        *self_p = NULL;
    }
}

static void
s_span_eq (const char *span, size_t span_len, const char *expected)
{
    ck_assert_ptr_nonnull (span);
    ck_assert_uint_eq (span_len, strlen (expected));
    ck_assert_msg (memcmp (span, expected, span_len) == 0,
                   "span '%.*s' != '%s'", (int) span_len, span, expected);
}

//  Parses text, expects success and the event; caller destroys.
static parsed_t *
s_ok (const char *text, envelope_event_t event)
{
    parsed_t *p = s_parse (text);
    ck_assert_msg (p->rc == 0, "refused %s: %s %s", text,
                   p->code ? p->code : "?", p->msg);
    ck_assert_int_eq (p->env.event, event);
    //  the spans lie inside the text
    ck_assert (p->env.data >= p->buf);
    ck_assert (p->env.data + p->env.data_len <= p->buf + strlen (text));
    if (event == ENVELOPE_SIGNAL) {
        ck_assert (p->env.payload >= p->env.data);
        ck_assert (p->env.payload + p->env.payload_len
                   <= p->env.data + p->env.data_len);
    } else {
        ck_assert_ptr_null (p->env.payload);
    }
    return p;
}

static void
s_err_len (const char *text, size_t len, const char *code)
{
    parsed_t *p = s_parse_len (text, len);
    ck_assert_msg (p->rc == -1, "accepted %.*s", (int) len, text);
    ck_assert_ptr_nonnull (p->code);
    ck_assert_msg (strcmp (p->code, code) == 0, "%.*s: got %s (%s), want %s",
                   (int) len, text, p->code, p->msg, code);
    ck_assert_uint_gt (strlen (p->msg), 0);
    s_parsed_destroy (&p);
}

static void
s_err (const char *text, const char *code)
{
    s_err_len (text, strlen (text), code);
}

//  A signal whose payload is the given JSON text.
static char *
s_signal_with (const char *payload)
{
    static const char head[] =
        "{\"event\":\"signal\",\"data\":{\"target_id\":\"abc\","
        "\"type\":\"offer\",\"payload\":";
    size_t n = strlen (head) + strlen (payload) + 3;
    char *text = malloc (n);
    ck_assert_ptr_nonnull (text);
    snprintf (text, n, "%s%s}}", head, payload);
    return text;
}

static void
s_payload_roundtrip (const char *payload)
{
    char *text = s_signal_with (payload);
    parsed_t *p = s_ok (text, ENVELOPE_SIGNAL);
    ck_assert_str_eq (p->env.target_id, "abc");
    ck_assert_str_eq (p->env.type, "offer");
    s_span_eq (p->env.payload, p->env.payload_len, payload);
    s_parsed_destroy (&p);
    free (text);
}

// --------------------------------------------------------------------------
//  find_match, leave

START_TEST (test_find_match)
{
    parsed_t *p =
        s_ok ("{\"event\":\"find_match\",\"data\":{}}", ENVELOPE_FIND_MATCH);
    s_span_eq (p->env.data, p->env.data_len, "{}");
    ck_assert_str_eq (p->env.target_id, "");
    s_parsed_destroy (&p);

    p = s_ok ("{\"event\":\"find_match\",\"data\":{\"tag\":\"x\"}}",
              ENVELOPE_FIND_MATCH);
    s_span_eq (p->env.data, p->env.data_len, "{\"tag\":\"x\"}");
    s_parsed_destroy (&p);

    //  Go-megle style: spaces, data before event, extra members anywhere
    p = s_ok (" { \"data\" : { \"tag\" : \"music\", \"interests\": [\"a\"] } ,"
              "\"event\":\"find_match\", \"v\": 1 }\r\n",
              ENVELOPE_FIND_MATCH);
    s_span_eq (p->env.data, p->env.data_len,
               "{ \"tag\" : \"music\", \"interests\": [\"a\"] }");
    s_parsed_destroy (&p);
}
END_TEST

//  Parses a find_match with the given data; expects the mode and the
//  interests joined by "\n".
static void
s_find_eq (const char *data, envelope_mode_t mode, const char *joined)
{
    char text[1024];
    snprintf (text, sizeof text, "{\"event\":\"find_match\",\"data\":%s}",
              data);
    parsed_t *p = s_ok (text, ENVELOPE_FIND_MATCH);
    ck_assert_int_eq (p->env.mode, mode);
    char buf[ENVELOPE_INTERESTS_TEXT];
    size_t n = envelope_interests_join (&p->env, buf, sizeof buf);
    ck_assert_uint_eq (n, strlen (buf));
    ck_assert_msg (strcmp (buf, joined) == 0, "%s: got '%s' want '%s'", data,
                   buf, joined);
    s_parsed_destroy (&p);
}

static void
s_find_err (const char *data, const char *code)
{
    char text[1024];
    snprintf (text, sizeof text, "{\"event\":\"find_match\",\"data\":%s}",
              data);
    s_err (text, code);
}

START_TEST (test_find_match_options)
{
    //  Go-megle's find_match {}: video, no interests
    s_find_eq ("{}", ENVELOPE_MODE_VIDEO, "");
    s_find_eq ("{\"mode\":\"video\"}", ENVELOPE_MODE_VIDEO, "");
    s_find_eq ("{\"mode\":\"text\"}", ENVELOPE_MODE_TEXT, "");
    s_find_eq ("{\"mode\":null,\"interests\":null,\"tag\":null}",
               ENVELOPE_MODE_VIDEO, "");
    ck_assert_str_eq (envelope_mode_name (ENVELOPE_MODE_TEXT), "text");
    ck_assert_str_eq (envelope_mode_name (ENVELOPE_MODE_VIDEO), "video");
    //  normalised: trimmed, lower case, inner blanks collapsed; empty ones
    //  and repeats dropped; order kept; Go-megle's tag is one more
    s_find_eq ("{\"interests\":[\"  Music \",\"CHESS\",\"lo-fi \\t\\n Beats\","
               "\"\",\"   \",\"music\",\"Chess\"]}",
               ENVELOPE_MODE_VIDEO, "music\nchess\nlo-fi beats");
    s_find_eq ("{\"tag\":\"X\"}", ENVELOPE_MODE_VIDEO, "x");
    //  a tag alone is Go-megle's: no interest wait; with interests it is
    //  one more interest
    parsed_t *p = s_ok ("{\"event\":\"find_match\",\"data\":{\"tag\":\"X\"}}",
                        ENVELOPE_FIND_MATCH);
    ck_assert (p->env.tag_only);
    s_parsed_destroy (&p);
    p = s_ok ("{\"event\":\"find_match\",\"data\":{\"tag\":\"X\","
              "\"interests\":[\"y\"]}}",
              ENVELOPE_FIND_MATCH);
    ck_assert (!p->env.tag_only);
    s_parsed_destroy (&p);
    p = s_ok ("{\"event\":\"find_match\",\"data\":{\"interests\":[\"y\"]}}",
              ENVELOPE_FIND_MATCH);
    ck_assert (!p->env.tag_only);
    s_parsed_destroy (&p);
    p = s_ok ("{\"event\":\"find_match\",\"data\":{\"tag\":\" \"}}",
              ENVELOPE_FIND_MATCH);
    ck_assert (!p->env.tag_only);
    s_parsed_destroy (&p);
    s_find_eq ("{\"tag\":\"\"}", ENVELOPE_MODE_VIDEO, "");
    s_find_eq ("{\"interests\":[\"a\",\"b\"],\"tag\":\"B\",\"mode\":\"text\"}",
               ENVELOPE_MODE_TEXT, "a\nb");
    s_find_eq ("{\"interests\":[\"caf\\u00e9\",\"\xc3\x89t\xc3\xa9\"]}",
               ENVELOPE_MODE_VIDEO, "caf\xc3\xa9\n\xc3\x89t\xc3\xa9");
    //  32 bytes is the most; 10 interests are the most (after dropping
    //  repeats)
    s_find_eq ("{\"interests\":[\"  0123456789abcdef0123456789ABCDEF  \"]}",
               ENVELOPE_MODE_VIDEO, "0123456789abcdef0123456789abcdef");
    s_find_eq ("{\"interests\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
               "\"8\",\"9\",\"10\",\"1\",\" 2 \",\"\"]}",
               ENVELOPE_MODE_VIDEO, "1\n2\n3\n4\n5\n6\n7\n8\n9\n10");
    s_find_eq ("{\"interests\":[\"a    b\"]}", ENVELOPE_MODE_VIDEO, "a b");
    //  the 32-byte limit counts bytes after collapsing
    s_find_eq ("{\"interests\":[\"0123456789abcdef0123456789abcd  e\"]}",
               ENVELOPE_MODE_VIDEO, "0123456789abcdef0123456789abcd e");

    s_find_err ("{\"mode\":\"audio\"}", "bad_field");
    s_find_err ("{\"mode\":\"Video\"}", "bad_field");
    s_find_err ("{\"mode\":1}", "bad_field");
    s_find_err ("{\"mode\":true}", "bad_field");
    s_find_err ("{\"interests\":\"music\"}", "bad_field");
    s_find_err ("{\"interests\":{}}", "bad_field");
    s_find_err ("{\"interests\":[1]}", "bad_field");
    s_find_err ("{\"interests\":[\"a\",null]}", "bad_field");
    s_find_err ("{\"interests\":[[\"a\"]]}", "bad_field");
    s_find_err ("{\"interests\":[\"0123456789abcdef0123456789abcdefX\"]}",
                "bad_field");
    s_find_err ("{\"interests\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
                "\"8\",\"9\",\"10\",\"11\"]}",
                "bad_field");
    s_find_err ("{\"interests\":[\"a\\u0001b\"]}", "bad_field");
    s_find_err ("{\"interests\":[\"a\\u007fb\"]}", "bad_field");
    //  cJSON would cut "a\u0000b" to "a": refused, never silently cut
    s_find_err ("{\"interests\":[\"a\\u0000b\"]}", "bad_field");
    s_find_err ("{\"tag\":\"a\\u0000\"}", "bad_field");
    s_find_err ("{\"tag\":1}", "bad_field");
    s_find_err ("{\"tag\":[\"a\"]}", "bad_field");
    s_find_err ("{\"tag\":\"0123456789abcdef0123456789abcdefX\"}", "bad_field");
    s_find_err ("{\"interests\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
                "\"8\",\"9\",\"10\"],\"tag\":\"11\"}",
                "bad_field");
    //  an escaped backslash before "u0000" is not a NUL
    s_find_eq ("{\"interests\":[\"a\\\\u0000\"]}", ENVELOPE_MODE_VIDEO,
               "a\\u0000");
}
END_TEST

START_TEST (test_chat)
{
    parsed_t *p =
        s_ok ("{\"event\":\"chat\",\"data\":{\"text\":\"hi\"}}", ENVELOPE_CHAT);
    ck_assert_str_eq (p->env.text, "hi");
    ck_assert_uint_eq (p->env.text_len, 2);
    s_parsed_destroy (&p);
    //  escapes are decoded; any UTF-8, newlines and blanks pass
    p = s_ok ("{\"event\":\"chat\",\"data\":{\"text\":\"a\\\"b\\n\\u00e9 "
              "\xf0\x9f\x98\x80 \"}}",
              ENVELOPE_CHAT);
    ck_assert_str_eq (p->env.text, "a\"b\n\xc3\xa9 \xf0\x9f\x98\x80 ");
    s_parsed_destroy (&p);
    p = s_ok ("{\"event\":\"chat\",\"data\":{\"text\":\" \"}}", ENVELOPE_CHAT);
    ck_assert_str_eq (p->env.text, " ");
    s_parsed_destroy (&p);

    s_err ("{\"event\":\"chat\",\"data\":{}}", "bad_field");
    s_err ("{\"event\":\"chat\",\"data\":{\"text\":\"\"}}", "bad_field");
    s_err ("{\"event\":\"chat\",\"data\":{\"text\":null}}", "bad_field");
    s_err ("{\"event\":\"chat\",\"data\":{\"text\":1}}", "bad_field");
    s_err ("{\"event\":\"chat\",\"data\":{\"text\":[\"a\"]}}", "bad_field");
    s_err ("{\"event\":\"chat\",\"data\":{\"text\":\"a\\u0000b\"}}",
           "bad_field");

    //  the limit is in bytes of UTF-8, after unescaping
    char text[CHAT_MAX * 6 + 64];
    int n = snprintf (text, sizeof text,
                      "{\"event\":\"chat\",\"data\":{\"text\":\"");
    memset (text + n, 'x', CHAT_MAX);
    snprintf (text + n + CHAT_MAX, sizeof text - (size_t) n - CHAT_MAX, "\"}}");
    p = s_ok (text, ENVELOPE_CHAT);
    ck_assert_uint_eq (p->env.text_len, CHAT_MAX);
    s_parsed_destroy (&p);
    snprintf (text + n + CHAT_MAX, sizeof text - (size_t) n - CHAT_MAX,
              "y\"}}");
    s_err (text, "too_long");
    //  1000 x "\u00e9" = 2000 bytes: fits; one more does not
    char *w = text + n;
    for (int i = 0; i < CHAT_MAX / 2; i++, w += 6)
        memcpy (w, "\\u00e9", 6);
    snprintf (w, 8, "\"}}");
    p = s_ok (text, ENVELOPE_CHAT);
    ck_assert_uint_eq (p->env.text_len, CHAT_MAX);
    s_parsed_destroy (&p);
    snprintf (w, 16, "\\u00e9\"}}");
    s_err (text, "too_long");

    //  the limit is the caller's
    envelope_t env;
    const char *code = NULL;
    char msg[64];
    const char *hello = "{\"event\":\"chat\",\"data\":{\"text\":\"hello\"}}";
    ck_assert_int_eq (
        envelope_parse (hello, strlen (hello), 4, &env, &code, msg, sizeof msg),
        -1);
    ck_assert_str_eq (code, "too_long");
    ck_assert_ptr_null (env.text);
    ck_assert_int_eq (
        envelope_parse (hello, strlen (hello), 5, &env, &code, msg, sizeof msg),
        0);
    ck_assert_str_eq (env.text, "hello");
    envelope_clear (&env);
    ck_assert_ptr_null (env.text);
    envelope_clear (&env); //  twice is harmless
    envelope_clear (NULL);
}
END_TEST

START_TEST (test_typing)
{
    parsed_t *p = s_ok ("{\"event\":\"typing\",\"data\":{\"typing\":true}}",
                        ENVELOPE_TYPING);
    ck_assert (p->env.typing);
    s_parsed_destroy (&p);
    p = s_ok ("{\"event\":\"typing\",\"data\":{\"typing\":false,\"x\":1}}",
              ENVELOPE_TYPING);
    ck_assert (!p->env.typing);
    s_parsed_destroy (&p);
    s_err ("{\"event\":\"typing\",\"data\":{}}", "bad_field");
    s_err ("{\"event\":\"typing\",\"data\":{\"typing\":1}}", "bad_field");
    s_err ("{\"event\":\"typing\",\"data\":{\"typing\":\"true\"}}",
           "bad_field");
    s_err ("{\"event\":\"typing\",\"data\":{\"typing\":null}}", "bad_field");
}
END_TEST

START_TEST (test_report)
{
    parsed_t *p = s_ok ("{\"event\":\"report\",\"data\":{\"reason\":"
                        "\"spam \\u00e9\"}}",
                        ENVELOPE_REPORT);
    ck_assert_str_eq (p->env.reason, "spam \xc3\xa9");
    ck_assert_uint_eq (p->env.reason_len, 7);
    s_parsed_destroy (&p);
    p = s_ok ("{\"event\":\"report\",\"data\":{}}", ENVELOPE_REPORT);
    ck_assert_str_eq (p->env.reason, "");
    s_parsed_destroy (&p);
    p = s_ok ("{\"event\":\"report\",\"data\":{\"reason\":null}}",
              ENVELOPE_REPORT);
    ck_assert_uint_eq (p->env.reason_len, 0);
    s_parsed_destroy (&p);
    char text[512];
    char reason[ENVELOPE_REASON_MAX + 2];
    memset (reason, 'r', sizeof reason - 1);
    reason[ENVELOPE_REASON_MAX] = '\0';
    snprintf (text, sizeof text,
              "{\"event\":\"report\",\"data\":{\"reason\":\"%s\"}}", reason);
    p = s_ok (text, ENVELOPE_REPORT);
    ck_assert_uint_eq (p->env.reason_len, ENVELOPE_REASON_MAX);
    s_parsed_destroy (&p);
    reason[ENVELOPE_REASON_MAX] = 'r';
    reason[ENVELOPE_REASON_MAX + 1] = '\0';
    snprintf (text, sizeof text,
              "{\"event\":\"report\",\"data\":{\"reason\":\"%s\"}}", reason);
    s_err (text, "too_long");
    s_err ("{\"event\":\"report\",\"data\":{\"reason\":42}}", "bad_field");
    s_err ("{\"event\":\"report\",\"data\":{\"reason\":\"a\\u0000b\"}}",
           "bad_field");
}
END_TEST

START_TEST (test_leave)
{
    parsed_t *p = s_ok ("{\"event\":\"leave\",\"data\":{}}", ENVELOPE_LEAVE);
    ck_assert_str_eq (p->env.target_id, "");
    s_parsed_destroy (&p);

    p = s_ok ("{\"event\":\"leave\",\"data\":{\"target_id\":\"0123abcd\"}}",
              ENVELOPE_LEAVE);
    ck_assert_str_eq (p->env.target_id, "0123abcd");
    s_span_eq (p->env.data, p->env.data_len, "{\"target_id\":\"0123abcd\"}");
    s_parsed_destroy (&p);

    p = s_ok ("{\"event\":\"leave\",\"data\":{\"target_id\":null}}",
              ENVELOPE_LEAVE);
    ck_assert_str_eq (p->env.target_id, "");
    s_parsed_destroy (&p);

    p = s_ok ("{\"event\":\"leave\",\"data\":{\"target_id\":\"\"}}",
              ENVELOPE_LEAVE);
    ck_assert_str_eq (p->env.target_id, "");
    s_parsed_destroy (&p);

    //  escapes in the value are decoded
    p = s_ok ("{\"event\":\"leave\",\"data\":{\"target_id\":\"a\\u0062c\"}}",
              ENVELOPE_LEAVE);
    ck_assert_str_eq (p->env.target_id, "abc");
    s_parsed_destroy (&p);
}
END_TEST

// --------------------------------------------------------------------------
//  signal payload spans

START_TEST (test_signal_payloads)
{
    s_payload_roundtrip ("{\"sdp\":\"v=0\\r\\n\",\"type\":\"offer\"}");
    s_payload_roundtrip ("\"just a string\"");
    s_payload_roundtrip ("42");
    s_payload_roundtrip ("-0.5E-7");
    s_payload_roundtrip ("1.0e+2");
    s_payload_roundtrip ("null");
    s_payload_roundtrip ("true");
    s_payload_roundtrip ("[]");
    s_payload_roundtrip ("{}");
    s_payload_roundtrip ("[1,[2,{\"a\":[3,{\"b\":null}]}],\"]}\"]");
    //  odd whitespace, \u escapes, "\/" and numbers cJSON would reformat
    s_payload_roundtrip ("{ \"candidate\" :\t\"a\\/b \\u00e9 \\ud83d\\ude00\" ,"
                         "\r\n \"sdpMLineIndex\" : 1.0e+2 , \"x\":[ ] }");
    //  braces, brackets and quotes inside strings do not confuse the span
    s_payload_roundtrip ("{\"s\":\"}]\\\"{[\\\\\"}");
    //  raw multi-byte UTF-8 passes through
    s_payload_roundtrip ("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}
END_TEST

START_TEST (test_signal_fields)
{
    //  payload first, whitespace around the payload value, then the rest
    const char *text =
        "{\"data\":{\"payload\" :  [1, 2] ,\"type\":\"candidate\","
        "\"target_id\":\"0123456789abcdef0123456789abcdef\"},"
        "\"event\":\"signal\"}";
    parsed_t *p = s_ok (text, ENVELOPE_SIGNAL);
    ck_assert_str_eq (p->env.type, "candidate");
    ck_assert_str_eq (p->env.target_id, "0123456789abcdef0123456789abcdef");
    s_span_eq (p->env.payload, p->env.payload_len, "[1, 2]");
    s_parsed_destroy (&p);

    p = s_ok ("{\"event\":\"signal\",\"data\":{\"target_id\":\"x\","
              "\"type\":\"answer\",\"payload\":{\"sdp\":\"\"}}}",
              ENVELOPE_SIGNAL);
    ck_assert_str_eq (p->env.type, "answer");
    s_parsed_destroy (&p);
}
END_TEST

START_TEST (test_target_id_length)
{
    char id[80];
    char text[256];
    memset (id, 'a', 64);
    id[64] = '\0';
    snprintf (text, sizeof text,
              "{\"event\":\"signal\",\"data\":{\"target_id\":\"%s\","
              "\"type\":\"offer\",\"payload\":1}}",
              id);
    parsed_t *p = s_ok (text, ENVELOPE_SIGNAL);
    ck_assert_str_eq (p->env.target_id, id);
    s_parsed_destroy (&p);
    snprintf (text, sizeof text,
              "{\"event\":\"leave\",\"data\":{\"target_id\":\"%s\"}}", id);
    p = s_ok (text, ENVELOPE_LEAVE);
    ck_assert_str_eq (p->env.target_id, id);
    s_parsed_destroy (&p);

    memset (id, 'a', 65);
    id[65] = '\0';
    snprintf (text, sizeof text,
              "{\"event\":\"signal\",\"data\":{\"target_id\":\"%s\","
              "\"type\":\"offer\",\"payload\":1}}",
              id);
    s_err (text, "bad_field");
    snprintf (text, sizeof text,
              "{\"event\":\"leave\",\"data\":{\"target_id\":\"%s\"}}", id);
    s_err (text, "bad_field");
}
END_TEST

START_TEST (test_not_nul_terminated)
{
    //  len stops before the garbage: only len bytes are read
    const char *text = "{\"event\":\"find_match\",\"data\":{}}garbage";
    parsed_t *p = s_parse_len (text, strlen (text) - 7);
    ck_assert_int_eq (p->rc, 0);
    s_span_eq (p->env.data, p->env.data_len, "{}");
    s_parsed_destroy (&p);
    //  a UTF-8 BOM is skipped, as cJSON does
    p = s_ok ("\xef\xbb\xbf{\"event\":\"find_match\",\"data\":{\"a\":1}}",
              ENVELOPE_FIND_MATCH);
    s_span_eq (p->env.data, p->env.data_len, "{\"a\":1}");
    s_parsed_destroy (&p);
}
END_TEST

// --------------------------------------------------------------------------
//  duplicate and escaped keys: the first occurrence wins, for fields and
//  spans alike, and keys compare after unescaping

START_TEST (test_duplicate_keys)
{
    parsed_t *p = s_ok ("{\"event\":\"signal\",\"data\":{\"target_id\":\"a\","
                        "\"type\":\"offer\",\"payload\":1,\"payload\":2}}",
                        ENVELOPE_SIGNAL);
    s_span_eq (p->env.payload, p->env.payload_len, "1");
    s_parsed_destroy (&p);

    p = s_ok ("{\"event\":\"find_match\",\"data\":{\"a\":1},\"data\":[2]}",
              ENVELOPE_FIND_MATCH);
    s_span_eq (p->env.data, p->env.data_len, "{\"a\":1}");
    s_parsed_destroy (&p);

    p = s_ok ("{\"event\":\"leave\",\"event\":\"find_match\",\"data\":{}}",
              ENVELOPE_LEAVE);
    s_parsed_destroy (&p);

    //  the first type decides
    p = s_ok ("{\"event\":\"signal\",\"data\":{\"target_id\":\"a\","
              "\"type\":\"offer\",\"type\":\"bogus\",\"payload\":1}}",
              ENVELOPE_SIGNAL);
    ck_assert_str_eq (p->env.type, "offer");
    s_parsed_destroy (&p);
    s_err ("{\"event\":\"signal\",\"data\":{\"target_id\":\"a\","
           "\"type\":\"bogus\",\"type\":\"offer\",\"payload\":1}}",
           "bad_field");
    //  the first data must be an object, even if a later one is
    s_err ("{\"event\":\"find_match\",\"data\":1,\"data\":{}}", "bad_envelope");
}
END_TEST

START_TEST (test_escaped_keys)
{
    //  "pay\u006coad" is payload: it comes first, so it wins
    parsed_t *p = s_ok ("{\"event\":\"signal\",\"data\":{\"target_id\":\"a\","
                        "\"type\":\"offer\",\"pay\\u006coad\":[1],"
                        "\"payload\":2}}",
                        ENVELOPE_SIGNAL);
    s_span_eq (p->env.payload, p->env.payload_len, "[1]");
    s_parsed_destroy (&p);

    //  escaped "data" and "event" at the top level, "\/" in a value
    p = s_ok ("{\"\\u0065vent\":\"signal\",\"d\\u0061ta\":{"
              "\"t\\u0061rget_id\":\"a\\/b\",\"\\u0074ype\":\"offer\","
              "\"payload\":\"x\"},\"data\":{}}",
              ENVELOPE_SIGNAL);
    ck_assert_str_eq (p->env.target_id, "a/b");
    s_span_eq (p->env.payload, p->env.payload_len, "\"x\"");
    s_parsed_destroy (&p);

    //  an escape that decodes to something else is a different key
    p = s_ok ("{\"event\":\"signal\",\"data\":{\"target_id\":\"a\","
              "\"type\":\"offer\",\"payload\\u0041\":1,\"payload\":2}}",
              ENVELOPE_SIGNAL);
    s_span_eq (p->env.payload, p->env.payload_len, "2");
    s_parsed_destroy (&p);

    //  cJSON's keys are C strings: "payload\u0000x" reads as payload, so
    //  the span must agree with it
    p = s_ok ("{\"event\":\"signal\",\"data\":{\"target_id\":\"a\","
              "\"type\":\"offer\",\"payload\\u0000x\":5,\"payload\":6}}",
              ENVELOPE_SIGNAL);
    s_span_eq (p->env.payload, p->env.payload_len, "5");
    s_parsed_destroy (&p);

    //  a long escaped key is no match, and does not overflow anything
    char text[512];
    char key[200];
    for (int i = 0; i < 30; i++)
        memcpy (key + 6 * i, "\\u0061", 6);
    key[180] = '\0';
    snprintf (text, sizeof text,
              "{\"event\":\"signal\",\"data\":{\"target_id\":\"a\","
              "\"type\":\"offer\",\"%s\":1,\"payload\":{}}}",
              key);
    p = s_ok (text, ENVELOPE_SIGNAL);
    s_span_eq (p->env.payload, p->env.payload_len, "{}");
    s_parsed_destroy (&p);

    //  key match is case-sensitive
    s_err ("{\"event\":\"signal\",\"data\":{\"target_id\":\"a\","
           "\"type\":\"offer\",\"Payload\":1}}",
           "bad_field");
}
END_TEST

//  More members than the validator's index holds (JSON_TEXT_INDEX_MAX):
//  the envelope falls back to scanning the text, with the same answers.
//  Fillers come before and after the fields, in the root and in data,
//  including a duplicate after the index is full.
START_TEST (test_many_members)
{
    char text[8192];
    size_t n = 0;
    n += (size_t) snprintf (text + n, sizeof text - n, "{");
    for (int i = 0; i < JSON_TEXT_INDEX_MAX + 8; i++)
        n += (size_t) snprintf (text + n, sizeof text - n, "\"r%d\":%d,", i, i);
    n += (size_t) snprintf (text + n, sizeof text - n,
                            "\"event\":\"signal\",\"data\":{");
    for (int i = 0; i < JSON_TEXT_INDEX_MAX + 8; i++)
        n += (size_t) snprintf (text + n, sizeof text - n, "\"d%d\":[%d],", i,
                                i);
    n += (size_t) snprintf (text + n, sizeof text - n,
                            "\"target_id\":\"a\",\"type\":\"answer\","
                            "\"payload\":{\"sdp\":\"v=0\"},\"payload\":2},"
                            "\"event\":\"leave\"}");
    ck_assert_uint_lt (n, sizeof text);
    parsed_t *p = s_ok (text, ENVELOPE_SIGNAL);
    ck_assert_str_eq (p->env.target_id, "a");
    ck_assert_str_eq (p->env.type, "answer");
    s_span_eq (p->env.payload, p->env.payload_len, "{\"sdp\":\"v=0\"}");
    s_parsed_destroy (&p);

    //  a missing field is still missing past the index's end
    n = 0;
    n += (size_t) snprintf (text + n, sizeof text - n,
                            "{\"event\":\"signal\",\"data\":{");
    for (int i = 0; i < JSON_TEXT_INDEX_MAX + 8; i++)
        n += (size_t) snprintf (text + n, sizeof text - n, "\"d%d\":%d,", i, i);
    n += (size_t) snprintf (text + n, sizeof text - n,
                            "\"target_id\":\"a\",\"payload\":1}}");
    s_err (text, "bad_field");
}
END_TEST

// --------------------------------------------------------------------------
//  errors

START_TEST (test_bad_json)
{
    s_err ("", "bad_json");
    s_err (" ", "bad_json");
    s_err ("{", "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{}", "bad_json"); //  truncated
    s_err ("{\"event\":\"find_match\",\"data\":{}}x", "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{}}{}", "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{},}", "bad_json");
    s_err ("{\"event\":'find_match',\"data\":{}}", "bad_json");
    s_err ("{event:\"find_match\",\"data\":{}}", "bad_json");
    s_err ("{\"event\":\"find_match\" \"data\":{}}", "bad_json");
    s_err ("{\"event\":\"find\\qmatch\",\"data\":{}}", "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{\"a\":\"\\u12\"}}", "bad_json");
    //  trailing whitespace is fine
    parsed_t *p = s_ok ("{\"event\":\"find_match\",\"data\":{}} \t\r\n",
                        ENVELOPE_FIND_MATCH);
    s_parsed_destroy (&p);
}
END_TEST

START_TEST (test_bad_numbers)
{
    const char *bad[] = {
        "01",  "-01",  "1.",    "1.e5",  ".5",  "+1",       "-",         "1e",
        "1e+", "0x10", "1.2.3", "1e5e5", "NaN", "Infinity", "-Infinity", "1-2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *text = s_signal_with (bad[i]);
        s_err (text, "bad_json");
        free (text);
    }
    const char *good[] = {"0",    "-0",    "0.5",      "1e5",
                          "1E+5", "1e-05", "-12.25e3", "123456789012345678"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        s_payload_roundtrip (good[i]);
}
END_TEST

START_TEST (test_bad_utf8)
{
    const char *bad[] = {
        "\xff",                     //  never valid
        "\x80",                     //  lone continuation
        "\xc3",                     //  truncated 2-byte
        "\xe2\x82",                 //  truncated 3-byte
        "\xc0\xaf",                 //  overlong '/'
        "\xc1\xbf",                 //  overlong
        "\xe0\x80\xaf",             //  overlong 3-byte
        "\xf0\x80\x80\xaf",         //  overlong 4-byte
        "\xed\xa0\x80",             //  U+D800, lone high surrogate
        "\xed\xbf\xbf",             //  U+DFFF, lone low surrogate
        "\xed\xa0\xbd\xed\xb8\x80", //  CESU-8 pair
        "\xf4\x90\x80\x80",         //  U+110000
        "\xf5\x80\x80\x80",         //  lead byte past U+10FFFF
        "\xf8\x88\x80\x80\x80",     //  5-byte form
    };
    char text[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf (text, sizeof text,
                  "{\"event\":\"find_match\",\"data\":{\"tag\":\"%s\"}}",
                  bad[i]);
        s_err (text, "bad_json");
        //  in a key too, and outside any string
        snprintf (text, sizeof text,
                  "{\"event\":\"find_match\",\"data\":{\"%s\":1}}", bad[i]);
        s_err (text, "bad_json");
        snprintf (text, sizeof text, "{\"event\":\"find_match\",\"data\":{}}%s",
                  bad[i]);
        s_err (text, "bad_json");
    }
    //  the edges that are valid
    s_payload_roundtrip ("\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf "
                         "\xee\x80\x80 \xef\xbf\xbf \xf0\x90\x80\x80 "
                         "\xf4\x8f\xbf\xbf\"");
}
END_TEST

START_TEST (test_bad_escapes_and_controls)
{
    //  escaped lone surrogates
    s_err ("{\"event\":\"find_match\",\"data\":{\"a\":\"\\ud800\"}}",
           "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{\"a\":\"\\udc00\"}}",
           "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{\"a\":\"\\ud800\\u0041\"}}",
           "bad_json");
    //  bad \u escapes (cJSON alone would read them as U+0000), in values
    //  and keys, and unknown escapes
    s_err ("{\"event\":\"find_match\",\"data\":{\"a\":\"\\u00zz\"}}",
           "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{\"a\":\"\\u0:0a\"}}",
           "bad_json");
    s_err ("{\"event\":\"signal\",\"data\":{\"target_id\":\"a\","
           "\"type\":\"offer\",\"payload\\u00pa\":1,\"payload\":2}}",
           "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{\"a\":\"\\x41\"}}", "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{\"a\":\"\\\xc3\xa9\"}}",
           "bad_json");
    //  raw control characters in strings, and as "whitespace"
    s_err ("{\"event\":\"find_match\",\"data\":{\"a\":\"x\ty\"}}", "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{\"a\":\"x\ny\"}}", "bad_json");
    s_err ("{\"event\":\"find_match\",\x01\"data\":{}}", "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{}}\x0b", "bad_json");
    s_err ("{\"event\":\"find_match\",\"data\":{}}\x7f", "bad_json");
    //  a NUL byte, inside and outside strings
    static const char nul_in[] = "{\"event\":\"find_match\",\"data\":{\"a\":\""
                                 "\0\"}}";
    s_err_len (nul_in, sizeof nul_in - 1, "bad_json");
    static const char nul_out[] = "{\"event\":\"find_match\",\"data\":{}}\0";
    s_err_len (nul_out, sizeof nul_out - 1, "bad_json");
}
END_TEST

START_TEST (test_nesting_depth)
{
    //  the envelope and data are 2 levels: 30 more arrays make 32
    for (int extra = 29; extra <= 32; extra++) {
        char payload[128] = "";
        for (int i = 0; i < extra; i++)
            strcat (payload, "[");
        for (int i = 0; i < extra; i++)
            strcat (payload, "]");
        char *text = s_signal_with (payload);
        if (extra <= 30)
            s_payload_roundtrip (payload);
        else {
            parsed_t *p = s_parse (text);
            ck_assert_int_eq (p->rc, -1);
            ck_assert_str_eq (p->code, "bad_json");
            ck_assert_str_eq (p->msg, "nesting too deep");
            s_parsed_destroy (&p);
        }
        free (text);
    }
    //  brackets inside strings do not count
    char payload[256] = "\"";
    for (int i = 0; i < 100; i++)
        strcat (payload, "[{");
    strcat (payload, "\"");
    s_payload_roundtrip (payload);
    //  a deep unterminated prefix is refused before cJSON sees it
    char deep[4096];
    memset (deep, '[', sizeof deep);
    s_err_len (deep, sizeof deep, "bad_json");
}
END_TEST

START_TEST (test_bad_envelope)
{
    s_err ("[]", "bad_envelope");
    s_err ("[{\"event\":\"find_match\",\"data\":{}}]", "bad_envelope");
    s_err ("\"find_match\"", "bad_envelope");
    s_err ("42", "bad_envelope");
    s_err ("null", "bad_envelope");
    s_err ("{}", "bad_envelope");
    s_err ("{\"data\":{}}", "bad_envelope");
    s_err ("{\"event\":1,\"data\":{}}", "bad_envelope");
    s_err ("{\"event\":null,\"data\":{}}", "bad_envelope");
    s_err ("{\"event\":[\"find_match\"],\"data\":{}}", "bad_envelope");
    s_err ("{\"event\":\"find_match\"}", "bad_envelope");
    s_err ("{\"event\":\"find_match\",\"data\":null}", "bad_envelope");
    s_err ("{\"event\":\"find_match\",\"data\":[]}", "bad_envelope");
    s_err ("{\"event\":\"find_match\",\"data\":\"{}\"}", "bad_envelope");
    s_err ("{\"Event\":\"find_match\",\"data\":{}}", "bad_envelope");
    //  the shape is checked before the event name
    s_err ("{\"event\":\"nope\"}", "bad_envelope");
}
END_TEST

START_TEST (test_unknown_event)
{
    s_err ("{\"event\":\"nope\",\"data\":{}}", "unknown_event");
    s_err ("{\"event\":\"FIND_MATCH\",\"data\":{}}", "unknown_event");
    s_err ("{\"event\":\"\",\"data\":{}}", "unknown_event");
    s_err ("{\"event\":\"welcome\",\"data\":{}}", "unknown_event");
    s_err ("{\"event\":\"find_match \",\"data\":{}}", "unknown_event");
    s_err ("{\"event\":\"online\",\"data\":{}}", "unknown_event");
    s_err ("{\"event\":\"Chat\",\"data\":{\"text\":\"x\"}}", "unknown_event");
}
END_TEST

START_TEST (test_bad_field)
{
    parsed_t *p = s_parse ("{\"event\":\"signal\",\"data\":{"
                           "\"type\":\"offer\",\"payload\":1}}");
    ck_assert_int_eq (p->rc, -1);
    ck_assert_str_eq (p->code, "bad_field");
    ck_assert_ptr_nonnull (strstr (p->msg, "target_id"));
    s_parsed_destroy (&p);

    p = s_parse ("{\"event\":\"signal\",\"data\":{"
                 "\"target_id\":\"a\",\"payload\":1}}");
    ck_assert_str_eq (p->code, "bad_field");
    ck_assert_ptr_nonnull (strstr (p->msg, "type"));
    s_parsed_destroy (&p);

    p = s_parse ("{\"event\":\"signal\",\"data\":{"
                 "\"target_id\":\"a\",\"type\":\"offer\"}}");
    ck_assert_str_eq (p->code, "bad_field");
    ck_assert_ptr_nonnull (strstr (p->msg, "payload"));
    s_parsed_destroy (&p);

    const char *types[] = {"\"Offer\"", "\"\"",        "\"pranswer\"", "1",
                           "null",      "[\"offer\"]", "\"offer \""};
    char text[256];
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        snprintf (text, sizeof text,
                  "{\"event\":\"signal\",\"data\":{\"target_id\":\"a\","
                  "\"type\":%s,\"payload\":1}}",
                  types[i]);
        s_err (text, "bad_field");
    }
    const char *targets[] = {"1", "null", "\"\"", "{}", "[\"a\"]", "true"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        snprintf (text, sizeof text,
                  "{\"event\":\"signal\",\"data\":{\"target_id\":%s,"
                  "\"type\":\"offer\",\"payload\":1}}",
                  targets[i]);
        s_err (text, "bad_field");
    }
    //  leave: target_id may be absent or null, but not another type
    const char *leaves[] = {"1", "{}", "[]", "false"};
    for (size_t i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
        snprintf (text, sizeof text,
                  "{\"event\":\"leave\",\"data\":{\"target_id\":%s}}",
                  leaves[i]);
        s_err (text, "bad_field");
    }
    //  the message buffer is optional and truncated safely
    envelope_t env;
    const char *code = NULL;
    char small[8];
    const char *bad = "{\"event\":\"signal\",\"data\":{}}";
    ck_assert_int_eq (envelope_parse (bad, strlen (bad), CHAT_MAX, &env, &code,
                                      small, sizeof small),
                      -1);
    ck_assert_str_eq (code, "bad_field");
    ck_assert_uint_eq (strlen (small), sizeof small - 1);
    ck_assert_int_eq (
        envelope_parse (bad, strlen (bad), CHAT_MAX, &env, &code, NULL, 0), -1);
}
END_TEST

// --------------------------------------------------------------------------
//  builders

static void
s_built_eq (uint8_t *buf, size_t pre, const size_t *len_p, const char *expected)
{
    //  len_p, not len: the builder call in the same argument list fills it
    size_t len = *len_p;
    ck_assert_ptr_nonnull (buf);
    ck_assert_uint_eq (len, strlen (expected));
    ck_assert_msg (memcmp (buf + pre, expected, len) == 0, "built '%.*s'",
                   (int) len, (char *) buf + pre);
    //  and it is JSON
    cJSON *json = cJSON_ParseWithLength ((char *) buf + pre, len);
    ck_assert_ptr_nonnull (json);
    cJSON_Delete (json);
    free (buf);
}

START_TEST (test_builders)
{
    size_t len = 0;
    const char *id = "0123456789abcdef0123456789abcdef";
    s_built_eq (envelope_welcome (0, id, -1, &len), 0, &len,
                "{\"event\":\"welcome\",\"data\":{\"id\":"
                "\"0123456789abcdef0123456789abcdef\"}}");
    s_built_eq (envelope_welcome (0, id, 42, &len), 0, &len,
                "{\"event\":\"welcome\",\"data\":{\"id\":"
                "\"0123456789abcdef0123456789abcdef\",\"online\":42}}");
    s_built_eq (
        envelope_error_retry (0, "rate_limited", "slow down", 250, &len), 0,
        &len,
        "{\"event\":\"error\",\"data\":{\"code\":\"rate_limited\","
        "\"message\":\"slow down\",\"retry_after\":250}}");
    s_built_eq (envelope_error_retry (3, "x", "y", 0, &len), 3, &len,
                "{\"event\":\"error\",\"data\":{\"code\":\"x\","
                "\"message\":\"y\"}}");
    s_built_eq (envelope_waiting (16, &len), 16, &len,
                "{\"event\":\"waiting\",\"data\":{\"message\":"
                "\"Searching for partner...\"}}");
    s_built_eq (
        envelope_match_found (7, "p1", true, "m1", "video", NULL, 0, &len), 7,
        &len,
        "{\"event\":\"match_found\",\"data\":{\"partner_id\":\"p1\","
        "\"initiator\":true,\"match_id\":\"m1\",\"interests\":[],"
        "\"mode\":\"video\"}}");
    const uint8_t shared[] = "chess\nlo-fi music";
    s_built_eq (envelope_match_found (0, "p2", false, "m2", "text", shared,
                                      sizeof shared - 1, &len),
                0, &len,
                "{\"event\":\"match_found\",\"data\":{\"partner_id\":\"p2\","
                "\"initiator\":false,\"match_id\":\"m2\",\"interests\":"
                "[\"chess\",\"lo-fi music\"],\"mode\":\"text\"}}");
    //  one interest; an unknown mode from the bus is shown as given, an
    //  empty one as video
    s_built_eq (
        envelope_match_found (0, "p3", false, "m3", "", shared, 5, &len), 0,
        &len,
        "{\"event\":\"match_found\",\"data\":{\"partner_id\":\"p3\","
        "\"initiator\":false,\"match_id\":\"m3\",\"interests\":"
        "[\"chess\"],\"mode\":\"video\"}}");
    const uint8_t text[] = "hi \"you\"\n\xc3\xa9";
    s_built_eq (envelope_chat (3, id, text, sizeof text - 1, &len), 3, &len,
                "{\"event\":\"chat\",\"data\":{\"from\":"
                "\"0123456789abcdef0123456789abcdef\",\"text\":"
                "\"hi \\\"you\\\"\\u000a\xc3\xa9\"}}");
    s_built_eq (envelope_typing (0, id, true, &len), 0, &len,
                "{\"event\":\"typing\",\"data\":{\"from\":"
                "\"0123456789abcdef0123456789abcdef\",\"typing\":true}}");
    s_built_eq (envelope_typing (0, id, false, &len), 0, &len,
                "{\"event\":\"typing\",\"data\":{\"from\":"
                "\"0123456789abcdef0123456789abcdef\",\"typing\":false}}");
    s_built_eq (envelope_online (0, 0, &len), 0, &len,
                "{\"event\":\"online\",\"data\":{\"count\":0}}");
    s_built_eq (envelope_online (0, 4294967296ull, &len), 0, &len,
                "{\"event\":\"online\",\"data\":{\"count\":4294967296}}");
    const char *payload = "{ \"sdp\" : \"v=0\\r\\n\", \"n\": 1.0e+2 }";
    s_built_eq (envelope_signal (4, "s1", "offer", (const uint8_t *) payload,
                                 strlen (payload), &len),
                4, &len,
                "{\"event\":\"signal\",\"data\":{\"sender_id\":\"s1\","
                "\"type\":\"offer\",\"payload\":{ \"sdp\" : \"v=0\\r\\n\", "
                "\"n\": 1.0e+2 }}}");
    //  an empty payload would not be JSON: it is written as null
    s_built_eq (envelope_signal (0, "s1", "answer", NULL, 0, &len), 0, &len,
                "{\"event\":\"signal\",\"data\":{\"sender_id\":\"s1\","
                "\"type\":\"answer\",\"payload\":null}}");
    s_built_eq (envelope_partner_left (0, id, &len), 0, &len,
                "{\"event\":\"partner_left\",\"data\":{\"from\":"
                "\"0123456789abcdef0123456789abcdef\"}}");
    s_built_eq (
        envelope_error (0, "not_partner", "nothing was delivered", &len), 0,
        &len,
        "{\"event\":\"error\",\"data\":{\"code\":\"not_partner\","
        "\"message\":\"nothing was delivered\"}}");
}
END_TEST

START_TEST (test_builder_escaping)
{
    size_t len = 0;
    //  quotes, backslash, control characters, DEL, valid UTF-8 kept,
    //  each invalid byte -> U+FFFD
    const char *nasty = "a\"b\\c/\n\t\x01\x1f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80 "
                        "\xff\xc0\xaf\xed\xa0\x80 \xe2\x82";
    uint8_t *buf = envelope_error (LWS_PRE_FOR_TEST, "internal", nasty, &len);
    ck_assert_ptr_nonnull (buf);
    const char *expected =
        "{\"event\":\"error\",\"data\":{\"code\":\"internal\",\"message\":"
        "\"a\\\"b\\\\c/\\u000a\\u0009\\u0001\\u001f\x7f caf\xc3\xa9 "
        "\xf0\x9f\x98\x80 "
        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
        "\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\"}}";
    ck_assert_uint_eq (len, strlen (expected));
    ck_assert (memcmp (buf + LWS_PRE_FOR_TEST, expected, len) == 0);

    //  cJSON reads the message back as the (valid part of the) input
    cJSON *json = cJSON_ParseWithLength ((char *) buf + LWS_PRE_FOR_TEST, len);
    ck_assert_ptr_nonnull (json);
    cJSON *data = cJSON_GetObjectItemCaseSensitive (json, "data");
    cJSON *message = cJSON_GetObjectItemCaseSensitive (data, "message");
    ck_assert (cJSON_IsString (message));
    ck_assert_int_eq (strncmp (message->valuestring,
                               "a\"b\\c/\n\t\x01\x1f\x7f caf\xc3\xa9", 17),
                      0);
    cJSON_Delete (json);
    free (buf);

    //  a quote in an id cannot break out of the string
    buf = envelope_welcome (0, "x\"}", -1, &len);
    ck_assert_str_eq ((char *) buf,
                      "{\"event\":\"welcome\",\"data\":{\"id\":\"x\\\"}\"}}");
    free (buf);

    //  NULL strings are written as ""
    buf = envelope_partner_left (0, NULL, &len);
    ck_assert_str_eq ((char *) buf,
                      "{\"event\":\"partner_left\",\"data\":{\"from\":\"\"}}");
    free (buf);
}
END_TEST

START_TEST (test_relay_roundtrip)
{
    //  parse a client signal, build the partner's: payload byte-for-byte
    const char *text = "{\"event\":\"signal\",\"data\":{\"target_id\":\"peer\","
                       "\"type\":\"candidate\",\"payload\":{\"candidate\":"
                       "\"candidate:1 1 UDP 2122 192.0.2.1 5000 typ host\","
                       "\"sdpMid\":\"0\",\"sdpMLineIndex\":0 ,\"x\":1.0e+2}}}";
    parsed_t *p = s_ok (text, ENVELOPE_SIGNAL);
    size_t len = 0;
    uint8_t *buf =
        envelope_signal (0, "me", p->env.type, (const uint8_t *) p->env.payload,
                         p->env.payload_len, &len);
    ck_assert_ptr_nonnull (buf);
    ck_assert_ptr_nonnull (
        strstr ((char *) buf, "\"sdpMLineIndex\":0 ,\"x\":1.0e+2}"));
    envelope_t env;
    const char *code;
    char msg[64];
    //  the built message is JSON; as a client message it lacks target_id
    ck_assert_int_eq (envelope_parse ((char *) buf, len, CHAT_MAX, &env, &code,
                                      msg, sizeof msg),
                      -1);
    ck_assert_str_eq (code, "bad_field");
    cJSON *json = cJSON_ParseWithLength ((char *) buf, len);
    ck_assert_ptr_nonnull (json);
    cJSON_Delete (json);
    free (buf);
    s_parsed_destroy (&p);
}
END_TEST

//  The validating skipper (json_text_validate) in place of cJSON: what
//  cJSON refused on its own is refused still, what it took is taken.
START_TEST (test_skipper)
{
    //  numbers of any length (cJSON 1.7.15 takes them too)
    char digits[300];
    memset (digits, '7', 299);
    digits[299] = '\0';
    s_payload_roundtrip (digits);
    char *text;
    //  UTF-16 surrogates must pair, in values and in keys
    s_payload_roundtrip ("\"\\uD83D\\uDE00\"");
    s_payload_roundtrip ("{\"\\ud83d\\ude00\":1}");
    static const char *unpaired[] = {
        "\"\\ud83d\"",        "\"\\ud83dx\"",       "\"\\ud83d\\u0041\"",
        "\"\\ude00\"",        "\"\\ude00\\ud83d\"", "{\"\\udc00\":1}",
        "\"\\ud83d\\ud83d\"", "\"\\ud83d\\u\"",
    };
    for (size_t i = 0; i < sizeof unpaired / sizeof unpaired[0]; i++) {
        text = s_signal_with (unpaired[i]);
        s_err (text, "bad_json");
        free (text);
    }
    //  grammar: separators, literals, containers
    static const char *bad[] = {
        "[1,]",      "{\"a\":1,}", "[,1]",  "{,}", "{\"a\"}", "{\"a\":}",
        "{\"a\" 1}", "{1:2}",      "[1 2]", "tru", "nul",     "falsey",
        "True",      "[",          "]",     "{",   "\"a",     "[}",
        "{]",        "1 2",        "01",    "-",   "1.",      ".5",
        "1e",        "+1",         "0x1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        text = s_signal_with (bad[i]);
        s_err (text, "bad_json");
        free (text);
    }
    static const char *good[] = {
        "[ ]", "{ }",    "[ 1 , 2 ]",         "{ \"a\" : [ ] , \"b\" : { } }",
        "-0",  "0.5e-3", "[true,false,null]", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        s_payload_roundtrip (good[i]);
    //  a byte order mark only at the start; nothing but whitespace after
    parsed_t *p =
        s_ok ("\xEF\xBB\xBF {\"event\":\"leave\",\"data\":{}}", ENVELOPE_LEAVE);
    s_parsed_destroy (&p);
    s_err ("{\"event\":\"leave\",\"data\":{}}\xEF\xBB\xBF", "bad_json");
    s_err ("\xEF\xBB\xBF", "bad_json");
    s_err ("\xEF\xBB\xBF"
           "0",
           "bad_json"); //  cJSON skips it only if len > 4
    s_err ("{\"event\":\"leave\",\"data\":{}} {}", "bad_json");
    p = s_ok ("\t{\"event\":\"leave\",\"data\":{}}\r\n ", ENVELOPE_LEAVE);
    s_parsed_destroy (&p);
    //  a top-level value that is valid JSON but no object
    s_err ("[1]", "bad_envelope");
    s_err ("\"leave\"", "bad_envelope");
    //  strings are decoded as cJSON's C strings: cut at \u0000
    p = s_ok ("{\"event\":\"lea\\u0076e\",\"data\":{\"target_id\":"
              "\"ab\\u0000cd\"}}",
              ENVELOPE_LEAVE);
    ck_assert_str_eq (p->env.target_id, "ab");
    s_parsed_destroy (&p);
    p = s_ok ("{\"event\":\"leave\\u0000xyz\",\"data\":{}}", ENVELOPE_LEAVE);
    s_parsed_destroy (&p);
    //  an interest longer than the stack buffer (whitespace collapses)
    char find[1200];
    int n = snprintf (find, sizeof find,
                      "{\"event\":\"find_match\",\"data\":{\"interests\":[\"");
    memset (find + n, ' ', 1000);
    snprintf (find + n + 1000, sizeof find - (size_t) n - 1000,
              "Cats\\u0020 \\t Dogs\"]}}");
    p = s_ok (find, ENVELOPE_FIND_MATCH);
    ck_assert_uint_eq (p->env.interest_count, 1);
    ck_assert_str_eq (p->env.interests[0], "cats dogs");
    s_parsed_destroy (&p);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("envelope");
    TCase *tc = tcase_create ("parse");
    tcase_add_test (tc, test_find_match);
    tcase_add_test (tc, test_find_match_options);
    tcase_add_test (tc, test_chat);
    tcase_add_test (tc, test_typing);
    tcase_add_test (tc, test_leave);
    tcase_add_test (tc, test_report);
    tcase_add_test (tc, test_signal_payloads);
    tcase_add_test (tc, test_signal_fields);
    tcase_add_test (tc, test_target_id_length);
    tcase_add_test (tc, test_not_nul_terminated);
    tcase_add_test (tc, test_duplicate_keys);
    tcase_add_test (tc, test_escaped_keys);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("errors");
    tcase_add_test (tc, test_bad_json);
    tcase_add_test (tc, test_bad_numbers);
    tcase_add_test (tc, test_bad_utf8);
    tcase_add_test (tc, test_bad_escapes_and_controls);
    tcase_add_test (tc, test_nesting_depth);
    tcase_add_test (tc, test_skipper);
    tcase_add_test (tc, test_bad_envelope);
    tcase_add_test (tc, test_unknown_event);
    tcase_add_test (tc, test_bad_field);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("build");
    tcase_add_test (tc, test_builders);
    tcase_add_test (tc, test_builder_escaping);
    tcase_add_test (tc, test_relay_roundtrip);
    tcase_add_test (tc, test_many_members);
    suite_add_tcase (suite, tc);
    return suite;
}

// --------------------------------------------------------------------------
//  --bench: parse a ~3 KB SDP offer and build the relayed signal

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
s_bench (void)
{
    static const char line[] =
        "a=candidate:842163049 1 udp 1677729535 198.51.100.7 50123 typ srflx "
        "raddr 10.0.0.2 rport 50123 generation 0 network-cost 999\\r\\n";
    char sdp[4096] =
        "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\n";
    while (strlen (sdp) + sizeof line < 3000)
        strcat (sdp, line);
    char *text = malloc (4096);
    if (!text)
        return 1;
    int n = snprintf (text, 4096,
                      "{\"event\":\"signal\",\"data\":{\"target_id\":"
                      "\"0123456789abcdef0123456789abcdef\",\"type\":\"offer\","
                      "\"payload\":{\"type\":\"offer\",\"sdp\":\"%s\"}}}",
                      sdp);
    size_t len = (size_t) n;
    const int rounds = 200000;
    size_t sink = 0;
    for (int pass = 0; pass < 2; pass++) {
        double t0 = s_now ();
        for (int i = 0; i < rounds; i++) {
            envelope_t env;
            const char *code;
            char msg[64];
            if (envelope_parse (text, len, CHAT_MAX, &env, &code, msg,
                                sizeof msg))
                return 1;
            sink += env.payload_len;
            if (pass == 1) {
                size_t out_len;
                uint8_t *buf = envelope_signal (
                    16, "fedcba9876543210fedcba9876543210", env.type,
                    (const uint8_t *) env.payload, env.payload_len, &out_len);
                if (!buf)
                    return 1;
                sink += out_len;
                free (buf);
            }
        }
        double us = (s_now () - t0) * 1e6 / rounds;
        printf ("%s of a %zu-byte signal: %.2f us/op\n",
                pass ? "parse+build" : "parse", len, us);
    }
    free (text);
    return sink ? 0 : 1;
}

int
main (int argc, char **argv)
{
    if (argc > 1 && strcmp (argv[1], "--bench") == 0)
        return s_bench ();
    return check_main_run (s_suite ());
}
