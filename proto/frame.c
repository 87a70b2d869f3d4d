//  frame - the one codec for megle's bus frames: msgpack encoding through
//  msgpack-c's packer, decoding through a hand-written bounds-checked
//  cursor, and a JSON rendering for logs and megle-tap.
//
//  Why a hand-written decoder: msgpack_unpack*() allocates by the container
//  count a peer declares before reading a single element, so six hostile
//  bytes made it ask for 64 GiB (STYLE.md, "Facts"). The cursor below reads
//  the fixed schema of proto/README.md, checks every length against the
//  bytes actually left before using it, and allocates nothing but the
//  frame and a payload it has already seen in full.

#include "frame.h"

#include <msgpack.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  --------------------------------------------------------------------------
//  Kinds

const char *
frame_kind_name (int kind)
{
    switch (kind) {
    case FRAME_HELLO:
        return "hello";
    case FRAME_HEARTBEAT:
        return "heartbeat";
    case FRAME_OPEN:
        return "open";
    case FRAME_FIND:
        return "find";
    case FRAME_SIGNAL:
        return "signal";
    case FRAME_LEAVE:
        return "leave";
    case FRAME_CLOSE:
        return "close";
    case FRAME_BYE:
        return "bye";
    case FRAME_CHAT:
        return "chat";
    case FRAME_TYPING:
        return "typing";
    case FRAME_REPORT:
        return "report";
    case FRAME_WAITING:
        return "waiting";
    case FRAME_MATCHED:
        return "matched";
    case FRAME_DELIVER:
        return "deliver";
    case FRAME_PARTNER_LEFT:
        return "partner_left";
    case FRAME_ERROR:
        return "error";
    case FRAME_PULSE:
        return "pulse";
    case FRAME_ENDED:
        return "ended";
    case FRAME_CHAT_OUT:
        return "chat_out";
    case FRAME_TYPING_OUT:
        return "typing_out";
    case FRAME_RESET:
        return "reset";
    default:
        return NULL;
    }
}

//  --------------------------------------------------------------------------
//  Construction

static uint64_t
s_wall_ms (void)
{
    //  proto stays standalone (no common/), so it reads the clock itself.
    struct timespec ts;
    if (clock_gettime (CLOCK_REALTIME, &ts))
        return 0;
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

frame_t *
frame_new (frame_kind_t kind)
{
    frame_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->version = FRAME_VERSION;
    self->kind = (uint8_t) kind;
    self->time_ms = s_wall_ms ();
    return self;
}

void
frame_destroy (frame_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    frame_t *self = *self_p;
    free (self->payload);
    free (self);
    *self_p = NULL;
}

int
frame_set_str (char *dst, size_t dst_size, const char *src, size_t len)
{
    if (!dst || dst_size == 0 || len > dst_size - 1 || (len && !src))
        return -1;
    //  A NUL inside would silently shorten the field; the decoder refuses
    //  such strings, so refuse them here too.
    if (len && memchr (src, '\0', len))
        return -1;
    if (len)
        memcpy (dst, src, len);
    dst[len] = '\0';
    return 0;
}

int
frame_set_payload (frame_t *self, const void *data, size_t len)
{
    if (!self || len > FRAME_PAYLOAD_MAX || (len && !data))
        return -1;
    uint8_t *copy = NULL;
    if (len) {
        copy = malloc (len);
        if (!copy)
            return -1;
        memcpy (copy, data, len);
    }
    free (self->payload);
    self->payload = copy;
    self->payload_len = len;
    return 0;
}

//  --------------------------------------------------------------------------
//  Encoding

//  Length of a string field, or -1 if it is not NUL-terminated within its
//  array (a caller bug we refuse rather than read past).
static int
s_field_len (const char *field, size_t field_size, size_t *len_p)
{
    size_t len = strnlen (field, field_size);
    if (len == field_size)
        return -1;
    *len_p = len;
    return 0;
}

static int
s_pack_str (msgpack_packer *pk, const char *field, size_t field_size)
{
    size_t len;
    if (s_field_len (field, field_size, &len))
        return -1;
    if (msgpack_pack_str (pk, len))
        return -1;
    return len ? msgpack_pack_str_body (pk, field, len) : 0;
}

//  The most bytes a frame's fields take besides its payload: array header,
//  version and kind (uint8), four strings and the type (str8 headers),
//  flags (uint32), the payload's bin32 header, time (uint64).
#define S_HEAD_MAX                                                             \
    (1 + 2 + 2 + 4 * (2 + FRAME_ID_MAX) + 5 + (2 + FRAME_TYPE_MAX) + 5 + 9)

//  msgpack write callback into a fixed buffer: it never grows, so encoding
//  makes no allocation (msgpack_sbuffer starts at 8 KiB per frame).
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t size;
} s_fixed_t;

static int
s_fixed_write (void *data, const char *bytes, size_t len)
{
    s_fixed_t *out = (s_fixed_t *) data;
    if (len > out->cap - out->size)
        return -1;
    memcpy (out->buf + out->size, bytes, len);
    out->size += len;
    return 0;
}

size_t
frame_encode_bound (const frame_t *self)
{
    return self ? S_HEAD_MAX + self->payload_len : 0;
}

int
frame_encode_to (const frame_t *self, uint8_t *buf, size_t cap, size_t *size_p)
{
    if (!self || !buf || !size_p)
        return -1;
    //  Encode only what the decoder accepts, so that every encoded frame
    //  round-trips.
    if (self->version != FRAME_VERSION || !frame_kind_name (self->kind))
        return -1;
    if (self->payload_len > FRAME_PAYLOAD_MAX
        || (self->payload_len && !self->payload))
        return -1;

    s_fixed_t out = {buf, cap, 0};
    msgpack_packer pk;
    msgpack_packer_init (&pk, &out, s_fixed_write);

    int rc = 0;
    rc |= msgpack_pack_array (&pk, FRAME_FIELDS);
    rc |= msgpack_pack_uint8 (&pk, self->version);
    rc |= msgpack_pack_uint8 (&pk, self->kind);
    rc |= s_pack_str (&pk, self->gateway, sizeof self->gateway);
    rc |= s_pack_str (&pk, self->session, sizeof self->session);
    rc |= s_pack_str (&pk, self->peer, sizeof self->peer);
    rc |= s_pack_str (&pk, self->match, sizeof self->match);
    rc |= msgpack_pack_uint32 (&pk, self->flags);
    rc |= s_pack_str (&pk, self->type, sizeof self->type);
    rc |= msgpack_pack_bin (&pk, self->payload_len);
    if (self->payload_len)
        rc |= msgpack_pack_bin_body (&pk, self->payload, self->payload_len);
    rc |= msgpack_pack_uint64 (&pk, self->time_ms);
    if (rc || out.size == 0)
        return -1;
    *size_p = out.size;
    return 0;
}

int
frame_encode (const frame_t *self, uint8_t **data_p, size_t *size_p)
{
    if (!self || !data_p || !size_p || self->payload_len > FRAME_PAYLOAD_MAX)
        return -1;
    //  One allocation of at most S_HEAD_MAX bytes more than the payload.
    size_t cap = frame_encode_bound (self);
    uint8_t *buf = (uint8_t *) malloc (cap);
    if (!buf)
        return -1;
    if (frame_encode_to (self, buf, cap, size_p)) {
        free (buf);
        return -1;
    }
    *data_p = buf;
    return 0;
}

//  --------------------------------------------------------------------------
//  Decoding: a cursor over untrusted bytes. Every read checks what is left.

typedef struct {
    const uint8_t *ptr;
    const uint8_t *end;
    char *err;
    size_t err_size;
} cursor_t;

static int
s_fail (cursor_t *c, const char *reason)
{
    if (c->err && c->err_size) {
        snprintf (c->err, c->err_size, "%s", reason);
    }
    return -1;
}

static size_t
s_left (const cursor_t *c)
{
    return (size_t) (c->end - c->ptr);
}

//  Read an n-byte big-endian unsigned integer (n = 1, 2, 4 or 8).
static int
s_read_be (cursor_t *c, size_t n, uint64_t *value_p)
{
    if (s_left (c) < n)
        return s_fail (c, "truncated");
    uint64_t value = 0;
    for (size_t i = 0; i < n; i++)
        value = (value << 8) | c->ptr[i];
    c->ptr += n;
    *value_p = value;
    return 0;
}

static int
s_read_byte (cursor_t *c, uint8_t *byte_p)
{
    if (s_left (c) < 1)
        return s_fail (c, "truncated");
    *byte_p = *c->ptr++;
    return 0;
}

//  An unsigned integer: positive fixint or uint8/16/32/64.
static int
s_read_uint (cursor_t *c, const char *what, uint64_t *value_p)
{
    uint8_t tag;
    if (s_read_byte (c, &tag))
        return -1;
    if (tag <= 0x7f) {
        *value_p = tag;
        return 0;
    }
    switch (tag) {
    case 0xcc:
        return s_read_be (c, 1, value_p);
    case 0xcd:
        return s_read_be (c, 2, value_p);
    case 0xce:
        return s_read_be (c, 4, value_p);
    case 0xcf:
        return s_read_be (c, 8, value_p);
    default:
        return s_fail (c, what);
    }
}

//  The header of a str (fixstr, str8/16/32); the body must be all there.
static int
s_read_str_header (cursor_t *c, const char *what, uint64_t *len_p)
{
    uint8_t tag;
    if (s_read_byte (c, &tag))
        return -1;
    int rc;
    if ((tag & 0xe0) == 0xa0) {
        *len_p = tag & 0x1f;
        rc = 0;
    } else if (tag == 0xd9)
        rc = s_read_be (c, 1, len_p);
    else if (tag == 0xda)
        rc = s_read_be (c, 2, len_p);
    else if (tag == 0xdb)
        rc = s_read_be (c, 4, len_p);
    else
        return s_fail (c, what);
    if (rc)
        return -1;
    if (*len_p > s_left (c))
        return s_fail (c, "truncated");
    return 0;
}

//  A string element into a NUL-terminated field of field_size bytes.
static int
s_read_str (cursor_t *c, const char *what, const char *too_long, char *field,
            size_t field_size)
{
    uint64_t len;
    if (s_read_str_header (c, what, &len))
        return -1;
    if (len > field_size - 1)
        return s_fail (c, too_long);
    if (memchr (c->ptr, '\0', (size_t) len))
        return s_fail (c, "NUL in string");
    memcpy (field, c->ptr, (size_t) len);
    field[len] = '\0';
    c->ptr += len;
    return 0;
}

//  The payload: bin8/16/32, or nil for an empty payload.
static int
s_read_payload (cursor_t *c, frame_t *frame)
{
    uint8_t tag;
    if (s_read_byte (c, &tag))
        return -1;
    uint64_t len;
    int rc;
    if (tag == 0xc0)
        return 0;
    else if (tag == 0xc4)
        rc = s_read_be (c, 1, &len);
    else if (tag == 0xc5)
        rc = s_read_be (c, 2, &len);
    else if (tag == 0xc6)
        rc = s_read_be (c, 4, &len);
    else
        return s_fail (c, "wrong type: payload");
    if (rc)
        return -1;
    if (len > FRAME_PAYLOAD_MAX)
        return s_fail (c, "payload too large");
    if (len > s_left (c))
        return s_fail (c, "truncated");
    if (len) {
        frame->payload = malloc ((size_t) len);
        if (!frame->payload)
            return s_fail (c, "out of memory");
        memcpy (frame->payload, c->ptr, (size_t) len);
        frame->payload_len = (size_t) len;
        c->ptr += len;
    }
    return 0;
}

//  Skip `count` whole msgpack objects of any type without recursion or
//  allocation: nested containers just add their element counts to the
//  number of objects still to skip. Every object takes at least one byte,
//  so a count larger than the bytes left is refused at once.
static int
s_skip (cursor_t *c, uint64_t count)
{
    while (count) {
        if (count > s_left (c))
            return s_fail (c, "truncated");
        count--;
        uint8_t tag = *c->ptr++;
        uint64_t n = 0;     //  bytes to skip
        uint64_t items = 0; //  objects to add
        int rc = 0;
        if (tag <= 0x7f || tag >= 0xe0 || tag == 0xc0 || tag == 0xc2
            || tag == 0xc3)
            ; //  fixint, nil, bool: the tag is all
        else if ((tag & 0xe0) == 0xa0)
            n = tag & 0x1f; //  fixstr
        else if ((tag & 0xf0) == 0x90)
            items = tag & 0x0f; //  fixarray
        else if ((tag & 0xf0) == 0x80)
            items = 2u * (tag & 0x0f); //  fixmap
        else
            switch (tag) {
            case 0xc4: //  bin8
            case 0xd9: //  str8
                rc = s_read_be (c, 1, &n);
                break;
            case 0xc5: //  bin16
            case 0xda: //  str16
                rc = s_read_be (c, 2, &n);
                break;
            case 0xc6: //  bin32
            case 0xdb: //  str32
                rc = s_read_be (c, 4, &n);
                break;
            case 0xc7: //  ext8: length, type, data
                rc = s_read_be (c, 1, &n);
                n += 1;
                break;
            case 0xc8: //  ext16
                rc = s_read_be (c, 2, &n);
                n += 1;
                break;
            case 0xc9: //  ext32
                rc = s_read_be (c, 4, &n);
                n += 1;
                break;
            case 0xca: //  float32
            case 0xce: //  uint32
            case 0xd2: //  int32
                n = 4;
                break;
            case 0xcb: //  float64
            case 0xcf: //  uint64
            case 0xd3: //  int64
                n = 8;
                break;
            case 0xcc: //  uint8
            case 0xd0: //  int8
                n = 1;
                break;
            case 0xcd: //  uint16
            case 0xd1: //  int16
                n = 2;
                break;
            case 0xd4: //  fixext1..16: type + data
                n = 2;
                break;
            case 0xd5:
                n = 3;
                break;
            case 0xd6:
                n = 5;
                break;
            case 0xd7:
                n = 9;
                break;
            case 0xd8:
                n = 17;
                break;
            case 0xdc: //  array16
                rc = s_read_be (c, 2, &items);
                break;
            case 0xdd: //  array32
                rc = s_read_be (c, 4, &items);
                break;
            case 0xde: //  map16
                rc = s_read_be (c, 2, &items);
                items *= 2;
                break;
            case 0xdf: //  map32
                rc = s_read_be (c, 4, &items);
                items *= 2;
                break;
            default: //  0xc1, never used
                return s_fail (c, "bad msgpack tag");
            }
        if (rc)
            return -1;
        if (n > s_left (c))
            return s_fail (c, "truncated");
        c->ptr += n;
        //  count <= bytes left <= SIZE_MAX and items < 2^33: no overflow.
        count += items;
    }
    return 0;
}

static int
s_decode (cursor_t *c, frame_t *frame)
{
    uint8_t tag;
    if (s_read_byte (c, &tag))
        return -1;
    uint64_t count;
    if ((tag & 0xf0) == 0x90)
        count = tag & 0x0f;
    else if (tag == 0xdc) {
        if (s_read_be (c, 2, &count))
            return -1;
    } else if (tag == 0xdd) {
        if (s_read_be (c, 4, &count))
            return -1;
    } else
        return s_fail (c, "not an array");
    if (count < FRAME_FIELDS)
        return s_fail (c, "too few elements");
    //  Each element takes at least one byte.
    if (count > s_left (c))
        return s_fail (c, "truncated");

    uint64_t value;
    if (s_read_uint (c, "wrong type: version", &value))
        return -1;
    if (value != FRAME_VERSION)
        return s_fail (c, "bad version");
    frame->version = FRAME_VERSION;

    if (s_read_uint (c, "wrong type: kind", &value))
        return -1;
    if (value > 255 || !frame_kind_name ((int) value))
        return s_fail (c, "unknown kind");
    frame->kind = (uint8_t) value;

    if (s_read_str (c, "wrong type: gateway", "id too long", frame->gateway,
                    sizeof frame->gateway)
        || s_read_str (c, "wrong type: session", "id too long", frame->session,
                       sizeof frame->session)
        || s_read_str (c, "wrong type: peer", "id too long", frame->peer,
                       sizeof frame->peer)
        || s_read_str (c, "wrong type: match", "id too long", frame->match,
                       sizeof frame->match))
        return -1;

    if (s_read_uint (c, "wrong type: flags", &value))
        return -1;
    if (value > UINT32_MAX)
        return s_fail (c, "flags out of range");
    frame->flags = (uint32_t) value;

    if (s_read_str (c, "wrong type: type", "type too long", frame->type,
                    sizeof frame->type))
        return -1;
    if (s_read_payload (c, frame))
        return -1;
    if (s_read_uint (c, "wrong type: time", &value))
        return -1;
    frame->time_ms = value;

    //  Fields a newer minor revision appended: skip them, checked.
    if (s_skip (c, count - FRAME_FIELDS))
        return -1;
    if (c->ptr != c->end)
        return s_fail (c, "trailing bytes");
    return 0;
}

frame_t *
frame_decode (const uint8_t *data, size_t size, char *err, size_t err_size)
{
    //  No arithmetic on a NULL data pointer, not even + 0.
    static const uint8_t none[1] = {0};
    if (!data)
        size = 0;
    const uint8_t *start = data ? data : none;
    cursor_t cursor = {start, start + size, err, err_size};
    if (err && err_size)
        err[0] = '\0';
    frame_t *frame = calloc (1, sizeof *frame);
    if (!frame) {
        s_fail (&cursor, "out of memory");
        return NULL;
    }
    if (s_decode (&cursor, frame)) {
        frame_destroy (&frame);
        return NULL;
    }
    return frame;
}

//  --------------------------------------------------------------------------
//  JSON rendering. Everything is written through a writer that keeps one
//  byte for the closing "}" and one for the NUL, and adds each field whole
//  or not at all, so the output is always one valid JSON object.

typedef struct {
    char *buf;
    size_t cap; //  bytes usable for text before "}" and NUL
    size_t len;
} writer_t;

static bool
s_put (writer_t *w, const char *text, size_t n)
{
    if (n > w->cap - w->len)
        return false;
    memcpy (w->buf + w->len, text, n);
    w->len += n;
    return true;
}

static bool
s_puts (writer_t *w, const char *text)
{
    return s_put (w, text, strlen (text));
}

//  Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid.
static size_t
s_utf8_len (const uint8_t *p, size_t left)
{
    uint8_t b = p[0];
    size_t n;
    uint32_t cp;
    if (b < 0x80)
        return 1;
    else if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
        cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        cp = b & 0x07;
    } else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

//  Write the JSON escape of the next unit (one UTF-8 character or one
//  invalid byte) of p; returns the bytes consumed, 0 if it did not fit.
static size_t
s_put_unit (writer_t *w, const uint8_t *p, size_t left)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b = p[0];
    size_t n = s_utf8_len (p, left);
    if (n > 1 || (n == 1 && b >= 0x20 && b != '"' && b != '\\'))
        return s_put (w, (const char *) p, n) ? n : 0;
    char esc[7] = {'\\', 'u', '0', '0', hex[b >> 4], hex[b & 0xf], 0};
    bool ok;
    switch (b) {
    case '"':
        ok = s_put (w, "\\\"", 2);
        break;
    case '\\':
        ok = s_put (w, "\\\\", 2);
        break;
    case '\n':
        ok = s_put (w, "\\n", 2);
        break;
    case '\r':
        ok = s_put (w, "\\r", 2);
        break;
    case '\t':
        ok = s_put (w, "\\t", 2);
        break;
    default:
        ok = s_put (w, esc, 6);
    }
    return ok ? 1 : 0;
}

//  Escape len bytes as the body of a JSON string; stops at the first unit
//  that does not fit. Returns the bytes consumed.
static size_t
s_put_escaped (writer_t *w, const uint8_t *p, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n = s_put_unit (w, p + done, len - done);
        if (n == 0)
            break;
        done += n;
    }
    return done;
}

//  ,"key":"value" - whole or nothing; empty values are omitted.
static bool
s_put_str_field (writer_t *w, const char *key, const char *value,
                 size_t value_size)
{
    size_t value_len = strnlen (value, value_size);
    if (value_len == 0)
        return true;
    size_t mark = w->len;
    if (s_puts (w, w->len > 1 ? ",\"" : "\"") && s_puts (w, key)
        && s_puts (w, "\":\"")
        && s_put_escaped (w, (const uint8_t *) value, value_len) == value_len
        && s_puts (w, "\""))
        return true;
    w->len = mark;
    return false;
}

static bool
s_put_num_field (writer_t *w, const char *key, uint64_t value)
{
    char text[48];
    snprintf (text, sizeof text, "%s\"%s\":%llu", w->len > 1 ? "," : "", key,
              (unsigned long long) value);
    return s_puts (w, text);
}

//  The payload goes last: when the buffer is short it is cut to what fits
//  (after "payload_truncated":true) instead of being dropped.
static void
s_put_payload (writer_t *w, const frame_t *self, size_t payload_max)
{
    if (self->payload_len == 0 || !self->payload || payload_max == 0)
        return;
    size_t shown =
        self->payload_len < payload_max ? self->payload_len : payload_max;
    bool truncated = shown < self->payload_len;
    const char *open = ",\"payload\":\"";
    if (!truncated) {
        //  Does the whole escaped payload fit? Try it, roll back if not.
        size_t mark = w->len;
        if (s_puts (w, open) && s_put_escaped (w, self->payload, shown) == shown
            && s_puts (w, "\""))
            return;
        w->len = mark;
        truncated = true;
    }
    size_t mark = w->len;
    if (!s_puts (w, ",\"payload_truncated\":true") || !s_puts (w, open)
        || w->len == w->cap) {
        w->len = mark;
        return;
    }
    //  Keep one byte for the closing quote.
    w->cap--;
    s_put_escaped (w, self->payload, shown);
    w->cap++;
    s_puts (w, "\"");
}

size_t
frame_to_json (const frame_t *self, char *buf, size_t buf_size,
               size_t payload_max)
{
    if (!buf || buf_size == 0)
        return 0;
    buf[0] = '\0';
    //  The shortest whole object, "{}", needs three bytes.
    if (!self || buf_size < 3)
        return 0;
    writer_t w = {buf, buf_size - 2, 0};
    s_puts (&w, "{");
    const char *kind = frame_kind_name (self->kind);
    bool ok = s_put_num_field (&w, "v", self->version);
    if (ok && kind)
        ok = s_put_str_field (&w, "kind", kind, strlen (kind));
    else if (ok)
        ok = s_put_num_field (&w, "kind", self->kind);
    ok = ok
         && s_put_str_field (&w, "gateway", self->gateway, sizeof self->gateway)
         && s_put_str_field (&w, "session", self->session, sizeof self->session)
         && s_put_str_field (&w, "peer", self->peer, sizeof self->peer)
         && s_put_str_field (&w, "match", self->match, sizeof self->match)
         && s_put_num_field (&w, "flags", self->flags)
         && s_put_str_field (&w, "type", self->type, sizeof self->type)
         && s_put_num_field (&w, "payload_len", self->payload_len)
         && s_put_num_field (&w, "time", self->time_ms);
    if (ok)
        s_put_payload (&w, self, payload_max);
    //  The writer always left room for these two.
    buf[w.len++] = '}';
    buf[w.len] = '\0';
    return w.len;
}
