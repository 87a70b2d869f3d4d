//  test_frame - Check suite for proto/frame.c: round trips of every kind,
//  refusal of malformed and hostile bytes (crafted by hand below, not with
//  msgpack-c, so that the tests exercise forms our encoder never emits),
//  and frame_to_json escaping, truncation and buffer bounds.

#include "frame.h"
#include "check_main.h"

#include <check.h>
#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  --------------------------------------------------------------------------
//  Helpers

static const int s_kinds[] = {
    FRAME_HELLO,   FRAME_HEARTBEAT,    FRAME_OPEN,       FRAME_FIND,
    FRAME_SIGNAL,  FRAME_LEAVE,        FRAME_CLOSE,      FRAME_BYE,
    FRAME_CHAT,    FRAME_TYPING,       FRAME_WAITING,    FRAME_MATCHED,
    FRAME_DELIVER, FRAME_PARTNER_LEFT, FRAME_ERROR,      FRAME_PULSE,
    FRAME_ENDED,   FRAME_CHAT_OUT,     FRAME_TYPING_OUT, FRAME_REPORT,
    FRAME_RESET,
};
#define KIND_COUNT (int) (sizeof s_kinds / sizeof s_kinds[0])

#define SID "0123456789abcdef0123456789abcdef"
#define PID "fedcba9876543210fedcba9876543210"
#define MID "00112233445566778899aabbccddeeff"

static void
s_set (char *dst, size_t dst_size, const char *src)
{
    ck_assert_int_eq (frame_set_str (dst, dst_size, src, strlen (src)), 0);
}

#define SET(frame, field, text)                                                \
    s_set ((frame)->field, sizeof (frame)->field, (text))

//  A frame of the given kind with every field set.
static frame_t *
s_make (int kind)
{
    frame_t *frame = frame_new ((frame_kind_t) kind);
    ck_assert_ptr_nonnull (frame);
    SET (frame, gateway, "gw-1");
    SET (frame, session, SID);
    SET (frame, peer, PID);
    SET (frame, match, MID);
    SET (frame, type, "offer");
    frame->flags = FRAME_F_INITIATOR;
    const char *payload = "{\"sdp\":\"v=0\\r\\n\"}";
    ck_assert_int_eq (frame_set_payload (frame, payload, strlen (payload)), 0);
    return frame;
}

static void
s_assert_equal (const frame_t *a, const frame_t *b)
{
    ck_assert_uint_eq (a->version, b->version);
    ck_assert_uint_eq (a->kind, b->kind);
    ck_assert_str_eq (a->gateway, b->gateway);
    ck_assert_str_eq (a->session, b->session);
    ck_assert_str_eq (a->peer, b->peer);
    ck_assert_str_eq (a->match, b->match);
    ck_assert_uint_eq (a->flags, b->flags);
    ck_assert_str_eq (a->type, b->type);
    ck_assert_uint_eq (a->payload_len, b->payload_len);
    if (a->payload_len)
        ck_assert_mem_eq (a->payload, b->payload, a->payload_len);
    ck_assert (a->time_ms == b->time_ms);
}

static frame_t *
s_round_trip (const frame_t *frame)
{
    uint8_t *data;
    size_t size;
    ck_assert_int_eq (frame_encode (frame, &data, &size), 0);
    char err[64] = "";
    frame_t *copy = frame_decode (data, size, err, sizeof err);
    ck_assert_msg (copy != NULL, "decode failed: %s", err);
    free (data);
    s_assert_equal (frame, copy);
    return copy;
}

//  Decoding must fail with a reason that contains `reason`.
static void
s_refuse (const uint8_t *data, size_t size, const char *reason)
{
    char err[64] = "";
    frame_t *frame = frame_decode (data, size, err, sizeof err);
    ck_assert_msg (frame == NULL, "accepted, expected \"%s\"", reason);
    ck_assert_msg (strstr (err, reason), "err \"%s\", expected \"%s\"", err,
                   reason);
}

static frame_t *
s_accept (const uint8_t *data, size_t size)
{
    char err[64] = "";
    frame_t *frame = frame_decode (data, size, err, sizeof err);
    ck_assert_msg (frame != NULL, "refused: %s", err);
    return frame;
}

//  --------------------------------------------------------------------------
//  A hand-written msgpack writer for crafting test input.

typedef struct {
    uint8_t data[4096];
    size_t size;
} mp_t;

static void
mp_byte (mp_t *mp, uint8_t byte)
{
    ck_assert_uint_lt (mp->size, sizeof mp->data);
    mp->data[mp->size++] = byte;
}

static void
mp_be (mp_t *mp, uint64_t value, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        mp_byte (mp, (uint8_t) (value >> (8 * i)));
}

static void
mp_raw (mp_t *mp, const void *data, size_t len)
{
    ck_assert_uint_le (mp->size + len, sizeof mp->data);
    memcpy (mp->data + mp->size, data, len);
    mp->size += len;
}

//  width 0 = positive fixint, else 1/2/4/8 = uint8/16/32/64
static void
mp_uint (mp_t *mp, uint64_t value, int width)
{
    static const uint8_t tags[9] = {0, 0xcc, 0xcd, 0, 0xce, 0, 0, 0, 0xcf};
    if (width == 0) {
        mp_byte (mp, (uint8_t) value);
        return;
    }
    mp_byte (mp, tags[width]);
    mp_be (mp, value, width);
}

//  width 0 = fixstr (str8 from 32 bytes on), else 1/2/4 = str8/16/32
static void
mp_str_n (mp_t *mp, const char *text, size_t len, int width)
{
    static const uint8_t tags[5] = {0, 0xd9, 0xda, 0, 0xdb};
    if (width == 0 && len > 31)
        width = 1;
    if (width == 0)
        mp_byte (mp, (uint8_t) (0xa0 | len));
    else {
        mp_byte (mp, tags[width]);
        mp_be (mp, len, width);
    }
    mp_raw (mp, text, len);
}

static void
mp_str (mp_t *mp, const char *text)
{
    mp_str_n (mp, text, strlen (text), 0);
}

//  width 1/2/4 = bin8/16/32
static void
mp_bin (mp_t *mp, const void *data, size_t len, int width)
{
    static const uint8_t tags[5] = {0, 0xc4, 0xc5, 0, 0xc6};
    mp_byte (mp, tags[width]);
    mp_be (mp, len, width);
    mp_raw (mp, data, len);
}

//  An array header: fixarray below 16, else array32.
static void
mp_header (mp_t *mp, uint64_t count)
{
    if (count < 16)
        mp_byte (mp, (uint8_t) (0x90 | count));
    else {
        mp_byte (mp, 0xdd);
        mp_be (mp, count, 4);
    }
}

//  Field i (0..9) of a valid signal frame, in the plainest encoding.
static void
mp_field (mp_t *mp, int i)
{
    switch (i) {
    case 0:
        mp_uint (mp, FRAME_VERSION, 0);
        break;
    case 1:
        mp_uint (mp, FRAME_SIGNAL, 0);
        break;
    case 2:
        mp_str (mp, "gw-1");
        break;
    case 3:
        mp_str (mp, SID);
        break;
    case 4:
        mp_str (mp, PID);
        break;
    case 5:
        mp_str (mp, "");
        break;
    case 6:
        mp_uint (mp, 0, 0);
        break;
    case 7:
        mp_str (mp, "answer");
        break;
    case 8:
        mp_bin (mp, "{}", 2, 1);
        break;
    case 9:
        mp_uint (mp, 1764000000000ull, 8);
        break;
    }
}

//  Fields first..last (inclusive) of a valid frame.
static void
mp_fields (mp_t *mp, int first, int last)
{
    for (int i = first; i <= last; i++)
        mp_field (mp, i);
}

//  A whole valid frame (header + ten fields) whose field `which` is
//  replaced by the len raw bytes of `bad`.
static void
mp_with_field (mp_t *mp, int which, const void *bad, size_t len)
{
    mp->size = 0;
    mp_header (mp, FRAME_FIELDS);
    for (int i = 0; i < FRAME_FIELDS; i++) {
        if (i == which)
            mp_raw (mp, bad, len);
        else
            mp_field (mp, i);
    }
}

static double
s_now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

//  --------------------------------------------------------------------------
//  Construction

START_TEST (test_new_defaults)
{
    frame_t *frame = frame_new (FRAME_HELLO);
    ck_assert_ptr_nonnull (frame);
    ck_assert_uint_eq (frame->version, FRAME_VERSION);
    ck_assert_uint_eq (frame->kind, FRAME_HELLO);
    ck_assert_str_eq (frame->gateway, "");
    ck_assert_str_eq (frame->type, "");
    ck_assert_ptr_null (frame->payload);
    ck_assert_uint_eq (frame->payload_len, 0);
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t) ts.tv_sec * 1000;
    ck_assert (frame->time_ms + 5000 > now && frame->time_ms < now + 5000);
    frame_destroy (&frame);
    ck_assert_ptr_null (frame);
    frame_destroy (&frame);
    frame_destroy (NULL);
}
END_TEST

START_TEST (test_setters_refuse)
{
    frame_t *frame = s_make (FRAME_SIGNAL);
    char id[FRAME_ID_MAX + 2];
    memset (id, 'a', sizeof id);
    //  65 bytes do not fit; 64 do; dst is unchanged on refusal.
    ck_assert_int_eq (
        frame_set_str (frame->gateway, sizeof frame->gateway, id, 65), -1);
    ck_assert_str_eq (frame->gateway, "gw-1");
    ck_assert_int_eq (
        frame_set_str (frame->gateway, sizeof frame->gateway, id, 64), 0);
    ck_assert_uint_eq (strlen (frame->gateway), 64);
    ck_assert_int_eq (frame_set_str (frame->type, sizeof frame->type, id, 33),
                      -1);
    ck_assert_int_eq (
        frame_set_str (frame->type, sizeof frame->type, "a\0b", 3), -1);
    ck_assert_str_eq (frame->type, "offer");
    ck_assert_int_eq (frame_set_str (frame->type, sizeof frame->type, NULL, 0),
                      0);
    ck_assert_str_eq (frame->type, "");

    uint8_t *big = calloc (1, FRAME_PAYLOAD_MAX + 1);
    ck_assert_ptr_nonnull (big);
    ck_assert_int_eq (frame_set_payload (frame, big, FRAME_PAYLOAD_MAX + 1),
                      -1);
    ck_assert_uint_gt (frame->payload_len, 0); //  unchanged
    ck_assert_int_eq (frame_set_payload (frame, NULL, 0), 0);
    ck_assert_ptr_null (frame->payload);
    free (big);

    //  The encoder refuses what the decoder would refuse.
    uint8_t *data = NULL;
    size_t size = 0;
    frame->kind = 12;
    ck_assert_int_eq (frame_encode (frame, &data, &size), -1);
    frame->kind = FRAME_SIGNAL;
    frame->version = 2;
    ck_assert_int_eq (frame_encode (frame, &data, &size), -1);
    ck_assert_ptr_null (data);
    frame_destroy (&frame);
}
END_TEST

START_TEST (test_kind_names)
{
    for (int i = 0; i < KIND_COUNT; i++)
        ck_assert_ptr_nonnull (frame_kind_name (s_kinds[i]));
    ck_assert_str_eq (frame_kind_name (FRAME_SIGNAL), "signal");
    ck_assert_str_eq (frame_kind_name (FRAME_PARTNER_LEFT), "partner_left");
    ck_assert_str_eq (frame_kind_name (FRAME_CHAT), "chat");
    ck_assert_str_eq (frame_kind_name (FRAME_TYPING), "typing");
    ck_assert_str_eq (frame_kind_name (FRAME_CHAT_OUT), "chat_out");
    ck_assert_str_eq (frame_kind_name (FRAME_TYPING_OUT), "typing_out");
    ck_assert_int_eq (FRAME_CHAT, 9);
    ck_assert_int_eq (FRAME_TYPING, 10);
    ck_assert_int_eq (FRAME_CHAT_OUT, 27);
    ck_assert_int_eq (FRAME_TYPING_OUT, 28);
    ck_assert_ptr_null (frame_kind_name (0));
    ck_assert_str_eq (frame_kind_name (FRAME_REPORT), "report");
    ck_assert_int_eq (FRAME_REPORT, 11);
    ck_assert_ptr_null (frame_kind_name (12));
    ck_assert_ptr_null (frame_kind_name (19));
    ck_assert_str_eq (frame_kind_name (FRAME_RESET), "reset");
    ck_assert_int_eq (FRAME_RESET, 29);
    ck_assert_ptr_null (frame_kind_name (30));
    ck_assert_ptr_null (frame_kind_name (-1));
}
END_TEST

//  --------------------------------------------------------------------------
//  Round trips

START_TEST (test_round_trip_kind)
{
    frame_t *frame = s_make (s_kinds[_i]);
    frame_t *copy = s_round_trip (frame);
    frame_destroy (&copy);

    //  And with every optional field empty.
    frame_t *bare = frame_new ((frame_kind_t) s_kinds[_i]);
    copy = s_round_trip (bare);
    ck_assert_ptr_null (copy->payload);
    frame_destroy (&copy);
    frame_destroy (&bare);
    frame_destroy (&frame);
}
END_TEST

START_TEST (test_round_trip_max)
{
    frame_t *frame = frame_new (FRAME_DELIVER);
    char id[FRAME_ID_MAX + 1];
    memset (id, 'z', FRAME_ID_MAX);
    id[FRAME_ID_MAX] = '\0';
    SET (frame, gateway, id);
    SET (frame, session, id);
    SET (frame, peer, id);
    SET (frame, match, id);
    id[FRAME_TYPE_MAX] = '\0';
    SET (frame, type, id);
    frame->flags = UINT32_MAX;
    frame->time_ms = UINT64_MAX;
    uint8_t *payload = malloc (FRAME_PAYLOAD_MAX);
    ck_assert_ptr_nonnull (payload);
    for (size_t i = 0; i < FRAME_PAYLOAD_MAX; i++)
        payload[i] = (uint8_t) (i * 7 + (i >> 9));
    ck_assert_int_eq (frame_set_payload (frame, payload, FRAME_PAYLOAD_MAX), 0);
    free (payload);
    frame_t *copy = s_round_trip (frame);
    frame_destroy (&copy);
    frame_destroy (&frame);
}
END_TEST

//  --------------------------------------------------------------------------
//  Refusals

START_TEST (test_refuse_every_prefix)
{
    frame_t *frame = s_make (FRAME_SIGNAL);
    uint8_t *data;
    size_t size;
    ck_assert_int_eq (frame_encode (frame, &data, &size), 0);
    for (size_t len = 0; len < size; len++) {
        //  An exactly-sized copy, so a sanitizer sees any over-read.
        uint8_t *prefix = malloc (len ? len : 1);
        memcpy (prefix, data, len);
        char err[64] = "";
        frame_t *decoded = frame_decode (prefix, len, err, sizeof err);
        ck_assert_msg (decoded == NULL, "prefix %zu accepted", len);
        ck_assert_msg (err[0], "prefix %zu: no reason", len);
        free (prefix);
    }
    s_refuse (NULL, 0, "truncated");
    free (data);
    frame_destroy (&frame);
}
END_TEST

START_TEST (test_refuse_version)
{
    mp_t mp;
    const uint8_t v0[] = {0x00}, v2[] = {0x02}, v257[] = {0xcd, 0x01, 0x01};
    mp_with_field (&mp, 0, v0, 1);
    s_refuse (mp.data, mp.size, "bad version");
    mp_with_field (&mp, 0, v2, 1);
    s_refuse (mp.data, mp.size, "bad version");
    mp_with_field (&mp, 0, v257, 3);
    s_refuse (mp.data, mp.size, "bad version");
}
END_TEST

START_TEST (test_refuse_unknown_kind)
{
    mp_t mp;
    const uint8_t kinds[][3] = {{0x00},
                                {0x0c},
                                {0x13},
                                {0x1e},
                                {0x7f},
                                {0xcc, 0xff},
                                {0xcd, 0x01, 0x05}};
    const size_t lens[] = {1, 1, 1, 1, 1, 2, 3};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        mp_with_field (&mp, 1, kinds[i], lens[i]);
        s_refuse (mp.data, mp.size, "unknown kind");
    }
}
END_TEST

START_TEST (test_refuse_too_long)
{
    char text[80];
    memset (text, 'a', sizeof text);
    for (int field = 2; field <= 5; field++) {
        mp_t one = {.size = 0};
        mp_str_n (&one, text, FRAME_ID_MAX + 1, 1);
        mp_t mp;
        mp_with_field (&mp, field, one.data, one.size);
        s_refuse (mp.data, mp.size, "id too long");
        //  Exactly the maximum is fine.
        one.size = 0;
        mp_str_n (&one, text, FRAME_ID_MAX, 1);
        mp_with_field (&mp, field, one.data, one.size);
        frame_t *frame = s_accept (mp.data, mp.size);
        frame_destroy (&frame);
    }
    mp_t one = {.size = 0};
    mp_str_n (&one, text, FRAME_TYPE_MAX + 1, 1);
    mp_t mp;
    mp_with_field (&mp, 7, one.data, one.size);
    s_refuse (mp.data, mp.size, "type too long");

    //  A str32 length claiming 4 GiB is refused by length, not by reading.
    const uint8_t huge[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    mp_with_field (&mp, 3, huge, sizeof huge);
    s_refuse (mp.data, mp.size, "truncated");
}
END_TEST

//  A frame whose payload is a bin32 of `len` bytes (zeros), all present.
static uint8_t *
s_bin32_frame (size_t len, size_t *size_p)
{
    mp_t pre = {.size = 0}, time = {.size = 0};
    mp_header (&pre, FRAME_FIELDS);
    mp_fields (&pre, 0, 7);
    mp_byte (&pre, 0xc6);
    mp_be (&pre, len, 4);
    mp_field (&time, 9);
    size_t size = pre.size + len + time.size;
    uint8_t *data = calloc (1, size);
    ck_assert_ptr_nonnull (data);
    memcpy (data, pre.data, pre.size);
    memcpy (data + pre.size + len, time.data, time.size);
    *size_p = size;
    return data;
}

START_TEST (test_refuse_payload_over_max)
{
    size_t size;
    uint8_t *data = s_bin32_frame (FRAME_PAYLOAD_MAX + 1, &size);
    s_refuse (data, size, "payload too large");
    free (data);

    data = s_bin32_frame (FRAME_PAYLOAD_MAX, &size);
    frame_t *frame = s_accept (data, size);
    ck_assert_uint_eq (frame->payload_len, FRAME_PAYLOAD_MAX);
    frame_destroy (&frame);
    free (data);

    //  A header claiming far more than is there.
    const uint8_t claim[] = {0xc6, 0x7f, 0xff, 0xff, 0xff};
    mp_t mp;
    mp_with_field (&mp, 8, claim, sizeof claim);
    s_refuse (mp.data, mp.size, "payload too large");
    //  ... or a little more than is there.
    const uint8_t short_bin[] = {0xc4, 0x10, 'a'};
    mp.size = 0;
    mp_header (&mp, FRAME_FIELDS);
    mp_fields (&mp, 0, 7);
    mp_raw (&mp, short_bin, sizeof short_bin);
    s_refuse (mp.data, mp.size, "truncated");
}
END_TEST

START_TEST (test_refuse_nul_in_str)
{
    const uint8_t nul[] = {0xa4, 'g', 'w', 0x00, '1'};
    for (int field = 2; field <= 7; field++) {
        if (field == 6)
            continue;
        mp_t mp;
        mp_with_field (&mp, field, nul, sizeof nul);
        s_refuse (mp.data, mp.size, "NUL in string");
    }
}
END_TEST

START_TEST (test_refuse_wrong_types)
{
    static const struct {
        int field;
        uint8_t bytes[4];
        size_t len;
    } cases[] = {
        {0, {0xa1, '1'}, 2},       //  version as str
        {0, {0xd0, 0x01}, 2},      //  version as int8
        {1, {0xff}, 1},            //  kind as negative fixint
        {1, {0xc3}, 1},            //  kind as true
        {2, {0xc4, 0x01, 'g'}, 3}, //  gateway as bin
        {3, {0x05}, 1},            //  session as uint
        {4, {0xc0}, 1},            //  peer as nil
        {5, {0x90}, 1},            //  match as array
        {6, {0xa1, '1'}, 2},       //  flags as str
        {6, {0xca, 0, 0, 0}, 4},   //  flags as float32 (short too)
        {7, {0x80}, 1},            //  type as map
        {8, {0xa2, '{', '}'}, 3},  //  payload as str
        {8, {0x00}, 1},            //  payload as int
        {9, {0xcb, 0, 0, 0}, 4},   //  time as float64
        {9, {0xc1}, 1},            //  time as never-used tag
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp_t mp;
        mp_with_field (&mp, cases[i].field, cases[i].bytes, cases[i].len);
        char err[64] = "";
        frame_t *frame = frame_decode (mp.data, mp.size, err, sizeof err);
        ck_assert_msg (frame == NULL, "case %zu accepted", i);
        ck_assert_msg (err[0], "case %zu: no reason", i);
    }
    //  flags wider than 32 bits.
    mp_t flags = {.size = 0}, mp;
    mp_uint (&flags, (uint64_t) UINT32_MAX + 1, 8);
    mp_with_field (&mp, 6, flags.data, flags.size);
    s_refuse (mp.data, mp.size, "flags out of range");

    //  Not an array at all.
    const uint8_t map[] = {0x8a};
    s_refuse (map, sizeof map, "not an array");
    const uint8_t str[] = {0xa0};
    s_refuse (str, sizeof str, "not an array");
}
END_TEST

START_TEST (test_refuse_nine_elements)
{
    mp_t mp = {.size = 0};
    mp_header (&mp, 9);
    mp_fields (&mp, 0, 8);
    s_refuse (mp.data, mp.size, "too few elements");
    //  An empty array too.
    const uint8_t empty[] = {0x90};
    s_refuse (empty, sizeof empty, "too few elements");
}
END_TEST

START_TEST (test_refuse_trailing_garbage)
{
    frame_t *frame = s_make (FRAME_MATCHED);
    uint8_t *data;
    size_t size;
    ck_assert_int_eq (frame_encode (frame, &data, &size), 0);
    uint8_t *longer = malloc (size + 1);
    memcpy (longer, data, size);
    longer[size] = 0xc0;
    s_refuse (longer, size + 1, "trailing bytes");
    //  A second whole frame after the first is garbage too.
    uint8_t *twice = malloc (2 * size);
    memcpy (twice, data, size);
    memcpy (twice + size, data, size);
    s_refuse (twice, 2 * size, "trailing bytes");
    free (twice);
    free (longer);
    free (data);
    frame_destroy (&frame);
}
END_TEST

START_TEST (test_refuse_hostile)
{
    double start = s_now_s ();
    //  STYLE.md: array32 of 2.47e9 elements in six bytes.
    const uint8_t style[] = {0xdd, 0x93, 0x3a, 0x00, 0x7e, 0xff};
    s_refuse (style, sizeof style, "truncated");

    //  array32 claiming 2^32-1 elements, followed by ten valid fields.
    mp_t mp = {.size = 0};
    mp_header (&mp, UINT32_MAX);
    mp_fields (&mp, 0, 9);
    s_refuse (mp.data, mp.size, "truncated");

    //  A valid frame with one extra element: a nest of containers each
    //  claiming 2^32-1 elements (and maps 2 * that).
    mp.size = 0;
    mp_header (&mp, FRAME_FIELDS + 1);
    mp_fields (&mp, 0, 9);
    const uint8_t nest[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xdf, 0xff,
                            0xff, 0xff, 0xff, 0xdd, 0xff, 0xff, 0xff};
    mp_raw (&mp, nest, sizeof nest);
    s_refuse (mp.data, mp.size, "truncated");

    //  Deep nesting of one-element arrays that is never closed.
    mp.size = 0;
    mp_header (&mp, FRAME_FIELDS + 1);
    mp_fields (&mp, 0, 9);
    while (mp.size < sizeof mp.data)
        mp_byte (&mp, 0x91);
    s_refuse (mp.data, mp.size, "truncated");
    ck_assert_msg (s_now_s () - start < 1.0, "hostile input was slow");
}
END_TEST

//  --------------------------------------------------------------------------
//  Acceptance of other encoders' forms

START_TEST (test_accept_extra_elements)
{
    mp_t mp = {.size = 0};
    mp_header (&mp, FRAME_FIELDS + 8);
    mp_fields (&mp, 0, 9);
    //  [1, [2, [3, "x"]]]
    const uint8_t nested[] = {0x92, 0x01, 0x92, 0x02, 0x92, 0x03, 0xa1, 'x'};
    mp_raw (&mp, nested, sizeof nested);
    //  {"a": {"b": []}, 0: nil}
    const uint8_t map[] = {0x82, 0xa1, 'a', 0x81, 0xa1, 'b', 0x90, 0x00, 0xc0};
    mp_raw (&mp, map, sizeof map);
    //  array16 [true, float64 0], map16 {}
    const uint8_t wide[] = {0xdc, 0x00, 0x02, 0xc3, 0xcb, 0,    0, 0,
                            0,    0,    0,    0,    0,    0xde, 0, 0};
    mp_raw (&mp, wide, sizeof wide);
    //  fixext4, ext8 of 2 bytes
    const uint8_t ext[] = {0xd6, 0x01, 1, 2, 3, 4, 0xc7, 0x02, 0x05, 9, 9};
    mp_raw (&mp, ext, sizeof ext);
    //  str8 and bin16
    const uint8_t strs[] = {0xd9, 0x02, 'h', 'i', 0xc5, 0x00, 0x01, 0x00};
    mp_raw (&mp, strs, sizeof strs);
    frame_t *frame = s_accept (mp.data, mp.size);
    ck_assert_uint_eq (frame->kind, FRAME_SIGNAL);
    ck_assert_str_eq (frame->type, "answer");
    ck_assert_uint_eq (frame->payload_len, 2);
    frame_destroy (&frame);

    //  Any cut inside the extra elements is refused.
    for (size_t len = mp.size - 1; len > mp.size - 40; len--) {
        char err[64] = "";
        frame = frame_decode (mp.data, len, err, sizeof err);
        ck_assert_msg (frame == NULL, "cut at %zu accepted", len);
    }
    //  An extra element with the never-used tag is refused.
    mp.size = 0;
    mp_header (&mp, FRAME_FIELDS + 1);
    mp_fields (&mp, 0, 9);
    mp_byte (&mp, 0xc1);
    s_refuse (mp.data, mp.size, "bad msgpack tag");
}
END_TEST

START_TEST (test_accept_array_headers)
{
    mp_t all = {.size = 0};
    mp_fields (&all, 0, 9);
    const uint8_t h16[] = {0xdc, 0x00, 0x0a};
    const uint8_t h32[] = {0xdd, 0x00, 0x00, 0x00, 0x0a};
    mp_t mp = {.size = 0};
    mp_raw (&mp, h16, sizeof h16);
    mp_raw (&mp, all.data, all.size);
    frame_t *frame = s_accept (mp.data, mp.size);
    ck_assert_str_eq (frame->peer, PID);
    frame_destroy (&frame);
    mp.size = 0;
    mp_raw (&mp, h32, sizeof h32);
    mp_raw (&mp, all.data, all.size);
    frame = s_accept (mp.data, mp.size);
    ck_assert_str_eq (frame->session, SID);
    frame_destroy (&frame);
}
END_TEST

START_TEST (test_accept_uint_widths)
{
    static const int widths[] = {0, 1, 2, 4, 8};
    for (size_t i = 0; i < 5; i++) {
        int w = widths[i];
        mp_t mp = {.size = 0};
        mp_header (&mp, FRAME_FIELDS);
        mp_uint (&mp, FRAME_VERSION, w);
        mp_uint (&mp, FRAME_WAITING, w);
        mp_str_n (&mp, "gw-2", 4, w == 8 ? 4 : w); //  fixstr/str8/16/32
        mp_str (&mp, SID);
        mp_str (&mp, "");
        mp_str (&mp, "");
        mp_uint (&mp, 1, w);
        mp_str (&mp, "");
        if (w == 0)
            mp_byte (&mp, 0xc0); //  nil payload
        else
            mp_bin (&mp, "ab", 2, w == 8 ? 4 : w);
        mp_uint (&mp, 100, w);
        frame_t *frame = s_accept (mp.data, mp.size);
        ck_assert_uint_eq (frame->version, FRAME_VERSION);
        ck_assert_uint_eq (frame->kind, FRAME_WAITING);
        ck_assert_str_eq (frame->gateway, "gw-2");
        ck_assert_uint_eq (frame->flags, 1);
        ck_assert_uint_eq (frame->payload_len, w == 0 ? 0 : 2);
        ck_assert (frame->time_ms == 100);
        frame_destroy (&frame);
    }
}
END_TEST

//  --------------------------------------------------------------------------
//  JSON

static cJSON *
s_json (const frame_t *frame, size_t payload_max, char *buf, size_t size)
{
    size_t len = frame_to_json (frame, buf, size, payload_max);
    ck_assert_uint_eq (strlen (buf), len);
    cJSON *json = cJSON_Parse (buf);
    ck_assert_msg (json != NULL, "not JSON: %s", buf);
    ck_assert (cJSON_IsObject (json));
    return json;
}

static const char *
s_get_str (cJSON *json, const char *key)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive (json, key);
    return cJSON_IsString (item) ? item->valuestring : NULL;
}

static double
s_get_num (cJSON *json, const char *key)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive (json, key);
    ck_assert_msg (cJSON_IsNumber (item), "no number %s", key);
    return item->valuedouble;
}

START_TEST (test_json_fields)
{
    frame_t *frame = s_make (FRAME_SIGNAL);
    SET (frame, match, "");
    frame->time_ms = 1764000000123ull;
    char buf[1024];
    cJSON *json = s_json (frame, SIZE_MAX, buf, sizeof buf);
    ck_assert_double_eq (s_get_num (json, "v"), 1);
    ck_assert_str_eq (s_get_str (json, "kind"), "signal");
    ck_assert_str_eq (s_get_str (json, "gateway"), "gw-1");
    ck_assert_str_eq (s_get_str (json, "session"), SID);
    ck_assert_str_eq (s_get_str (json, "peer"), PID);
    ck_assert_ptr_null (cJSON_GetObjectItem (json, "match")); //  omitted
    ck_assert_double_eq (s_get_num (json, "flags"), 1);
    ck_assert_str_eq (s_get_str (json, "type"), "offer");
    ck_assert_str_eq (s_get_str (json, "payload"), "{\"sdp\":\"v=0\\r\\n\"}");
    ck_assert_double_eq (s_get_num (json, "payload_len"), 17);
    ck_assert_ptr_null (cJSON_GetObjectItem (json, "payload_truncated"));
    ck_assert (strstr (buf, "\"time\":1764000000123"));
    ck_assert (
        strstr (buf, "\"payload\":\"{\\\"sdp\\\":\\\"v=0\\\\r\\\\n\\\"}\""));
    cJSON_Delete (json);

    //  An unknown kind (only possible if built by hand) is shown as a number.
    frame->kind = 99;
    json = s_json (frame, 0, buf, sizeof buf);
    ck_assert_double_eq (s_get_num (json, "kind"), 99);
    ck_assert_ptr_null (cJSON_GetObjectItem (json, "payload"));
    cJSON_Delete (json);
    frame_destroy (&frame);
}
END_TEST

START_TEST (test_json_escaping)
{
    frame_t *frame = frame_new (FRAME_ERROR);
    SET (frame, gateway, "g\"w\\1");
    SET (frame, type, "a\x01\x1f\n\t\r");
    //  Valid UTF-8 (é, €, U+1F600) passes; invalid bytes become \u00XX.
    const char payload[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xff\xc0\x80"
                           "\xed\xa0\x80|\xe2\x82";
    ck_assert_int_eq (frame_set_payload (frame, payload, sizeof payload - 1),
                      0);
    char buf[1024];
    cJSON *json = s_json (frame, SIZE_MAX, buf, sizeof buf);
    ck_assert (strstr (buf, "\"gateway\":\"g\\\"w\\\\1\""));
    ck_assert (strstr (buf, "\"type\":\"a\\u0001\\u001f\\n\\t\\r\""));
    ck_assert (strstr (buf, "\"payload\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                            "|\\u00ff\\u00c0\\u0080\\u00ed\\u00a0\\u0080|"
                            "\\u00e2\\u0082\""));
    ck_assert_str_eq (s_get_str (json, "gateway"), "g\"w\\1");
    ck_assert_str_eq (s_get_str (json, "type"), "a\x01\x1f\n\t\r");
    cJSON_Delete (json);
    //  Every byte value, with NULs, renders as valid JSON.
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t) i;
    ck_assert_int_eq (frame_set_payload (frame, all, sizeof all), 0);
    char big[4096];
    json = s_json (frame, SIZE_MAX, big, sizeof big);
    ck_assert_ptr_null (cJSON_GetObjectItem (json, "payload_truncated"));
    ck_assert_ptr_nonnull (strstr (big, "\\u0000\\u0001"));
    cJSON_Delete (json);
    frame_destroy (&frame);
}
END_TEST

START_TEST (test_json_truncation)
{
    frame_t *frame = frame_new (FRAME_DELIVER);
    char payload[100];
    for (int i = 0; i < 100; i++)
        payload[i] = (char) ('a' + i % 26);
    ck_assert_int_eq (frame_set_payload (frame, payload, sizeof payload), 0);
    char buf[1024];
    cJSON *json = s_json (frame, 10, buf, sizeof buf);
    ck_assert_str_eq (s_get_str (json, "payload"), "abcdefghij");
    ck_assert (cJSON_IsTrue (cJSON_GetObjectItem (json, "payload_truncated")));
    ck_assert_double_eq (s_get_num (json, "payload_len"), 100);
    cJSON_Delete (json);

    json = s_json (frame, 100, buf, sizeof buf);
    ck_assert_uint_eq (strlen (s_get_str (json, "payload")), 100);
    ck_assert_ptr_null (cJSON_GetObjectItem (json, "payload_truncated"));
    cJSON_Delete (json);

    json = s_json (frame, 0, buf, sizeof buf);
    ck_assert_ptr_null (cJSON_GetObjectItem (json, "payload"));
    ck_assert_ptr_null (cJSON_GetObjectItem (json, "payload_truncated"));
    ck_assert_double_eq (s_get_num (json, "payload_len"), 100);
    cJSON_Delete (json);

    //  A buffer too small for the whole payload shows what fits, marked.
    json = s_json (frame, SIZE_MAX, buf, 120);
    ck_assert (cJSON_IsTrue (cJSON_GetObjectItem (json, "payload_truncated")));
    const char *shown = s_get_str (json, "payload");
    ck_assert_ptr_nonnull (shown);
    ck_assert_uint_gt (strlen (shown), 0);
    ck_assert_int_eq (strncmp (shown, payload, strlen (shown)), 0);
    ck_assert_uint_eq (strlen (buf), 119);
    cJSON_Delete (json);
    frame_destroy (&frame);
}
END_TEST

START_TEST (test_json_tiny_buffers)
{
    frame_t *frame = s_make (FRAME_DELIVER);
    SET (frame, type, "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c");
    char buf[64 + 16];
    for (size_t size = 0; size <= 64; size++) {
        memset (buf, 0x55, sizeof buf);
        size_t len = frame_to_json (frame, buf, size, SIZE_MAX);
        for (size_t i = size; i < sizeof buf; i++)
            ck_assert_msg ((uint8_t) buf[i] == 0x55, "size %zu: wrote [%zu]",
                           size, i);
        if (size == 0) {
            ck_assert_uint_eq (len, 0);
            continue;
        }
        ck_assert_uint_lt (len, size);
        ck_assert_uint_eq (strlen (buf), len);
        if (size < 3) {
            ck_assert_uint_eq (len, 0);
            continue;
        }
        ck_assert_int_eq (buf[0], '{');
        ck_assert_int_eq (buf[len - 1], '}');
        cJSON *json = cJSON_Parse (buf);
        ck_assert_msg (json != NULL, "size %zu: not JSON: %s", size, buf);
        cJSON_Delete (json);
    }
    frame_destroy (&frame);
}
END_TEST

//  --------------------------------------------------------------------------

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("frame");
    TCase *tc = tcase_create ("api");
    tcase_add_test (tc, test_new_defaults);
    tcase_add_test (tc, test_setters_refuse);
    tcase_add_test (tc, test_kind_names);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("round_trip");
    tcase_set_timeout (tc, 30);
    tcase_add_loop_test (tc, test_round_trip_kind, 0, KIND_COUNT);
    tcase_add_test (tc, test_round_trip_max);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("refuse");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_refuse_every_prefix);
    tcase_add_test (tc, test_refuse_version);
    tcase_add_test (tc, test_refuse_unknown_kind);
    tcase_add_test (tc, test_refuse_too_long);
    tcase_add_test (tc, test_refuse_payload_over_max);
    tcase_add_test (tc, test_refuse_nul_in_str);
    tcase_add_test (tc, test_refuse_wrong_types);
    tcase_add_test (tc, test_refuse_nine_elements);
    tcase_add_test (tc, test_refuse_trailing_garbage);
    tcase_add_test (tc, test_refuse_hostile);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("accept");
    tcase_add_test (tc, test_accept_extra_elements);
    tcase_add_test (tc, test_accept_array_headers);
    tcase_add_test (tc, test_accept_uint_widths);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("json");
    tcase_add_test (tc, test_json_fields);
    tcase_add_test (tc, test_json_escaping);
    tcase_add_test (tc, test_json_truncation);
    tcase_add_test (tc, test_json_tiny_buffers);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
