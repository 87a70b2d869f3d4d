//  envelope - the browser's JSON messages: parse the client's events,
//  build the server's.
//
//  Parsing builds no tree and allocates nothing on the hot path (only a
//  chat message's decoded text, and an interest or tag too long for a
//  stack buffer):
//
//  1. json_text_validate walks the text once and checks that it is one
//     well-formed JSON value within JSON_TEXT_DEPTH_MAX levels, refusing
//     what JSON (and the partner's JSON.parse) refuses: invalid UTF-8, raw
//     control characters, bad escapes, unpaired surrogates, numbers such
//     as 01 or 1. (json_check.c). What it accepts, cJSON accepts too, and
//     the reverse (the fuzz target checks both ways), so the envelope
//     answers as the earlier cJSON-based parser did.
//  2. The same pass records where the members of the root object and of
//     data are (json_text_validate_index), so the envelope finds the exact
//     bytes of the members megle reads (the first of duplicate keys, as
//     cJSON does) without reading the text again; json_text_find_member
//     scans for them when there are more members than the index holds.
//     data and data.payload are relayed byte-for-byte, and
//     the few strings megle needs are decoded as C strings by
//     json_text_cstring (cut at a \u0000 escape as cJSON's valuestring
//     is; the fields where a \u0000 must be refused check the raw bytes).
//
//  Interests are normalised here, once, before they reach the bus and
//  Redis: trimmed, ASCII lower-cased, inner whitespace collapsed to one
//  space, empty and duplicate ones dropped; each 1..ENVELOPE_INTEREST_MAX
//  bytes, at most ENVELOPE_INTERESTS_MAX.
//
//  Builders compute the output size first and allocate once.

#include "envelope.h"
#include "json_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_bad_json[] = "bad_json";
static const char s_bad_envelope[] = "bad_envelope";
static const char s_unknown_event[] = "unknown_event";
static const char s_bad_field[] = "bad_field";
static const char s_too_long[] = "too_long";

static int
s_fail (const char **code_p, char *msg, size_t msg_size, const char *code,
        const char *reason)
{
    if (code_p)
        *code_p = code;
    if (msg && msg_size) {
        size_t n = strlen (reason);
        if (n >= msg_size)
            n = msg_size - 1;
        memcpy (msg, reason, n);
        msg[n] = '\0';
    }
    return -1;
}

const char *
envelope_mode_name (envelope_mode_t mode)
{
    return mode == ENVELOPE_MODE_TEXT ? "text" : "video";
}

static bool
s_is_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}

//  The message being parsed: its text and where the validator found the
//  members of its root object and of data (json_text_index_t).
typedef struct {
    const char *text;
    json_text_index_t index;
    int data; //  the index entry of the root's data member, -1 = none
} s_doc_t;

//  The exact bytes of the first member named key of the object at obj
//  (obj_len bytes: the root object, parent -1, or data, parent doc->data)
//  in *v_p, *n_p; false if there is none. From the validator's index when
//  it holds every member, else by scanning the object.
static bool
s_member (const s_doc_t *doc, int parent, const char *obj, size_t obj_len,
          const char *key, const char **v_p, size_t *n_p)
{
    if (doc->index.complete) {
        int e = json_text_index_find (&doc->index, doc->text, parent, key);
        if (e < 0)
            return false;
        *v_p = doc->text + doc->index.members[e].value;
        *n_p = doc->index.members[e].value_len;
        return true;
    }
    return json_text_find_member (obj, obj + obj_len, key, v_p, n_p) == 0;
}

static bool
s_is_null (const char *v, size_t n)
{
    return n == 4 && memcmp (v, "null", 4) == 0;
}

static bool
s_is_string (const char *v, size_t n)
{
    return n >= 2 && v[0] == '"';
}

//  The C string of the JSON string v (n bytes): in buf when it fits, else
//  in a new buffer (*heap_p; the caller frees it). NULL if out of memory.
static const char *
s_cstring (const char *v, size_t n, char *buf, size_t size, char **heap_p)
{
    *heap_p = NULL;
    if (json_text_cstring (v, n, buf, size) >= 0)
        return buf;
    long len = json_text_cstring (v, n, NULL, 0);
    if (len < 0)
        return NULL;
    char *heap = malloc ((size_t) len + 1);
    if (!heap || json_text_cstring (v, n, heap, (size_t) len + 1) < 0) {
        free (heap);
        return NULL;
    }
    *heap_p = heap;
    return heap;
}

//  Normalise one interest and add it to out (unless empty or a repeat).
//  Returns NULL, or why it is refused.
static const char *
s_add_interest (envelope_t *out, const char *raw)
{
    char norm[ENVELOPE_INTEREST_MAX + 1];
    size_t n = 0;
    bool space = false; //  whitespace seen since the last kept character
    for (const char *p = raw; *p; p++) {
        char c = *p;
        if (s_is_space (c)) {
            space = n > 0; //  leading whitespace is dropped
            continue;
        }
        if ((unsigned char) c < 0x20 || c == 0x7f)
            return "interests: control characters are not allowed";
        if (space) {
            if (n >= ENVELOPE_INTEREST_MAX)
                return "interests: each one is at most 32 bytes";
            norm[n++] = ' ';
            space = false;
        }
        if (c >= 'A' && c <= 'Z')
            c = (char) (c - 'A' + 'a');
        if (n >= ENVELOPE_INTEREST_MAX)
            return "interests: each one is at most 32 bytes";
        norm[n++] = c;
    }
    norm[n] = '\0';
    if (n == 0)
        return NULL;
    for (size_t i = 0; i < out->interest_count; i++)
        if (strcmp (out->interests[i], norm) == 0)
            return NULL;
    if (out->interest_count >= ENVELOPE_INTERESTS_MAX)
        return "interests: at most 10";
    memcpy (out->interests[out->interest_count++], norm, n + 1);
    return NULL;
}

//  Add the interest in the JSON string v (n bytes).
static const char *
s_add_interest_json (envelope_t *out, const char *v, size_t n)
{
    char buf[256];
    char *heap;
    const char *raw = s_cstring (v, n, buf, sizeof buf, &heap);
    if (!raw)
        return "find_match: out of memory";
    const char *why = s_add_interest (out, raw);
    free (heap);
    return why;
}

//  find_match's optional mode, interests and Go-megle's tag.
static const char *
s_parse_find (const s_doc_t *doc, envelope_t *out)
{
    const char *v;
    size_t n;
    if (s_member (doc, doc->data, out->data, out->data_len, "mode", &v, &n)
        && !s_is_null (v, n)) {
        char mode[8];
        long m = s_is_string (v, n)
                     ? json_text_cstring (v, n, mode, sizeof mode)
                     : -1;
        if (m >= 0 && strcmp (mode, "video") == 0)
            out->mode = ENVELOPE_MODE_VIDEO;
        else if (m >= 0 && strcmp (mode, "text") == 0)
            out->mode = ENVELOPE_MODE_TEXT;
        else
            return "find_match: mode must be \"video\" or \"text\"";
    }
    if (s_member (doc, doc->data, out->data, out->data_len, "interests", &v, &n)
        && !s_is_null (v, n)) {
        if (v[0] != '[')
            return "find_match: interests must be an array of strings";
        if (json_text_has_nul (v, n))
            return "interests: control characters are not allowed";
        const char *cursor = v;
        const char *item;
        size_t item_len;
        int more;
        while ((more = json_text_element (&cursor, v + n, &item, &item_len))
               == 1) {
            if (!s_is_string (item, item_len))
                return "find_match: interests must be an array of strings";
            const char *why = s_add_interest_json (out, item, item_len);
            if (why)
                return why;
        }
        if (more < 0)
            return "find_match: interests must be an array of strings";
    }
    if (s_member (doc, doc->data, out->data, out->data_len, "tag", &v, &n)
        && !s_is_null (v, n)) {
        if (!s_is_string (v, n))
            return "find_match: tag must be a string";
        if (json_text_has_nul (v, n))
            return "interests: control characters are not allowed";
        //  Go-megle's client sends a tag and expects a partner at once:
        //  a tag alone is an interest without the wait.
        out->tag_only = out->interest_count == 0;
        const char *why = s_add_interest_json (out, v, n);
        out->tag_only = out->tag_only && out->interest_count == 1;
        return why;
    }
    return NULL;
}

//  chat's text: 1..chat_max bytes. Sets *code_p for a refusal.
static const char *
s_parse_chat (const s_doc_t *doc, envelope_t *out, size_t chat_max,
              const char **code_p)
{
    const char *v;
    size_t n;
    long len = -1;
    if (s_member (doc, doc->data, out->data, out->data_len, "text", &v, &n)
        && s_is_string (v, n))
        len = json_text_cstring (v, n, NULL, 0);
    if (len <= 0)
        return "chat: text must be a non-empty string";
    if (json_text_has_nul (v, n))
        return "chat: text must not contain U+0000";
    if ((size_t) len > chat_max) {
        *code_p = s_too_long;
        return "chat: text is too long";
    }
    out->text = malloc ((size_t) len + 1);
    if (!out->text)
        return "chat: out of memory";
    json_text_cstring (v, n, out->text, (size_t) len + 1);
    out->text_len = (size_t) len;
    return NULL;
}

//  report's optional reason: a string of at most ENVELOPE_REASON_MAX bytes.
static const char *
s_parse_report (const s_doc_t *doc, envelope_t *out, const char **code_p)
{
    const char *v;
    size_t n;
    if (!s_member (doc, doc->data, out->data, out->data_len, "reason", &v, &n)
        || s_is_null (v, n))
        return NULL;
    if (!s_is_string (v, n))
        return "report: reason must be a string";
    if (json_text_has_nul (v, n))
        return "report: reason must not contain U+0000";
    long len = json_text_cstring (v, n, NULL, 0);
    if (len < 0 || (size_t) len > ENVELOPE_REASON_MAX) {
        *code_p = s_too_long;
        return "report: reason is too long";
    }
    json_text_cstring (v, n, out->reason, sizeof out->reason);
    out->reason_len = (size_t) len;
    return NULL;
}

//  signal's target_id, type and payload.
static const char *
s_parse_signal (const s_doc_t *doc, envelope_t *out)
{
    const char *v;
    size_t n;
    if (!s_member (doc, doc->data, out->data, out->data_len, "target_id", &v,
                   &n)
        || !s_is_string (v, n)
        || json_text_cstring (v, n, out->target_id, sizeof out->target_id) <= 0)
        return "signal: target_id must be a string of 1 to 64 characters";
    if (!s_member (doc, doc->data, out->data, out->data_len, "type", &v, &n)
        || !s_is_string (v, n)
        || json_text_cstring (v, n, out->type, sizeof out->type) < 0
        || (strcmp (out->type, "offer") != 0
            && strcmp (out->type, "answer") != 0
            && strcmp (out->type, "candidate") != 0))
        return "signal: type must be \"offer\", \"answer\" or \"candidate\"";
    if (!s_member (doc, doc->data, out->data, out->data_len, "payload",
                   &out->payload, &out->payload_len))
        return "signal: payload is missing";
    return NULL;
}

//  leave's optional target_id: a string of at most 64 characters.
static const char *
s_parse_leave (const s_doc_t *doc, envelope_t *out)
{
    const char *v;
    size_t n;
    if (!s_member (doc, doc->data, out->data, out->data_len, "target_id", &v,
                   &n)
        || s_is_null (v, n))
        return NULL;
    if (!s_is_string (v, n)
        || json_text_cstring (v, n, out->target_id, sizeof out->target_id) < 0)
        return "leave: target_id must be a string of at most 64 characters";
    return NULL;
}

int
envelope_parse (const char *text, size_t len, size_t chat_max, envelope_t *out,
                const char **code_p, char *msg, size_t msg_size)
{
    if (!text || !out)
        return s_fail (code_p, msg, msg_size, s_bad_json, "no message");
    memset (out, 0, sizeof *out);
    if (len == 0)
        return s_fail (code_p, msg, msg_size, s_bad_json, "empty message");

    const char *reason = NULL;
    s_doc_t doc;
    doc.text = text;
    doc.data = -1;
    if (json_text_validate_index ((const uint8_t *) text, len, &doc.index,
                                  &reason))
        return s_fail (code_p, msg, msg_size, s_bad_json, reason);

    //  The root value, past a byte order mark and whitespace.
    const char *end = text + len;
    const char *root = text;
    if (len > 4 && memcmp (root, "\xEF\xBB\xBF", 3) == 0)
        root += 3;
    root = json_text_skip_ws (root, end);
    size_t root_len = (size_t) (end - root);

    const char *code = s_bad_envelope;
    const char *why = NULL;
    const char *event = NULL;
    size_t event_len = 0;
    if (root[0] != '{')
        why = "message must be a JSON object";
    else if (!s_member (&doc, -1, root, root_len, "event", &event, &event_len)
             || !s_is_string (event, event_len))
        why = "event must be a string";
    else if (!s_member (&doc, -1, root, root_len, "data", &out->data,
                        &out->data_len)
             || out->data[0] != '{')
        why = "data must be an object";
    else if (doc.index.complete)
        doc.data = json_text_index_find (&doc.index, text, -1, "data");
    if (why)
        goto fail;

    //  Every event name is short: a longer string is no event of ours.
    char name[16];
    if (json_text_cstring (event, event_len, name, sizeof name) < 0)
        name[0] = '\0';
    code = s_bad_field;
    if (strcmp (name, "signal") == 0) {
        out->event = ENVELOPE_SIGNAL;
        why = s_parse_signal (&doc, out);
    } else if (strcmp (name, "find_match") == 0) {
        out->event = ENVELOPE_FIND_MATCH;
        why = s_parse_find (&doc, out);
    } else if (strcmp (name, "leave") == 0) {
        out->event = ENVELOPE_LEAVE;
        why = s_parse_leave (&doc, out);
    } else if (strcmp (name, "chat") == 0) {
        out->event = ENVELOPE_CHAT;
        why = s_parse_chat (&doc, out, chat_max, &code);
    } else if (strcmp (name, "report") == 0) {
        out->event = ENVELOPE_REPORT;
        why = s_parse_report (&doc, out, &code);
    } else if (strcmp (name, "typing") == 0) {
        out->event = ENVELOPE_TYPING;
        const char *v;
        size_t n;
        if (!s_member (&doc, doc.data, out->data, out->data_len, "typing", &v,
                       &n)
            || !((n == 4 && memcmp (v, "true", 4) == 0)
                 || (n == 5 && memcmp (v, "false", 5) == 0)))
            why = "typing: typing must be true or false";
        else
            out->typing = n == 4;
    } else {
        code = s_unknown_event;
        why = "unknown event";
    }
    if (why)
        goto fail;
    return 0;

fail:
    envelope_clear (out);
    return s_fail (code_p, msg, msg_size, code, why);
}

void
envelope_clear (envelope_t *self)
{
    if (!self)
        return;
    free (self->text);
    memset (self, 0, sizeof *self);
}

size_t
envelope_interests_join (const envelope_t *self, char *buf, size_t size)
{
    size_t n = 0;
    if (!buf || size == 0)
        return 0;
    for (size_t i = 0; i < self->interest_count; i++) {
        size_t len = strlen (self->interests[i]);
        if (n + (i > 0) + len + 1 > size)
            break;
        if (i > 0)
            buf[n++] = '\n';
        memcpy (buf + n, self->interests[i], len);
        n += len;
    }
    buf[n] = '\0';
    return n;
}

//  Builders: a message is a list of parts, measured, then written once.

typedef enum {
    S_LIT,  //  literal JSON text
    S_STR,  //  C string, escaped as JSON string contents
    S_STRN, //  len bytes, escaped as JSON string contents
    S_RAW,  //  raw JSON text (a signal payload), "null" if empty
} s_kind_t;

typedef struct {
    s_kind_t kind;
    const char *s;
    size_t len;
} s_part_t;

//  True if n bytes of s need no escaping (printable ASCII, no quote or
//  backslash): ids, event types, most short strings. A quick test that
//  spares them json_text_escape's per-byte UTF-8 work, twice.
static bool
s_plain (const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c < 0x20 || c > 0x7E || c == '"' || c == '\\')
            return false;
    }
    return true;
}

#define LIT(text)                                                              \
    {                                                                          \
        S_LIT, text, sizeof (text) - 1                                         \
    }
#define STR(text)                                                              \
    {                                                                          \
        S_STR, (text) ? (text) : "", 0                                         \
    }

static uint8_t *
s_build (size_t pre, s_part_t *parts, size_t count, size_t *len_p)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        s_part_t *part = &parts[i];
        if (part->kind == S_STR)
            part->len = strlen (part->s);
        else if (part->kind == S_RAW && part->len == 0) {
            part->kind = S_LIT;
            part->s = "null";
            part->len = 4;
        }
        if ((part->kind == S_STR || part->kind == S_STRN)
            && s_plain (part->s, part->len))
            part->kind = S_LIT; //  copied as is
        bool escaped = part->kind == S_STR || part->kind == S_STRN;
        size_t n = escaped ? json_text_escape (NULL, (const uint8_t *) part->s,
                                               part->len)
                           : part->len;
        if (n > SIZE_MAX - total)
            return NULL;
        total += n;
    }
    if (pre > SIZE_MAX - 1 - total)
        return NULL;
    uint8_t *buf = malloc (pre + total + 1);
    if (!buf)
        return NULL;
    char *w = (char *) buf + pre;
    for (size_t i = 0; i < count; i++) {
        const s_part_t *part = &parts[i];
        if (part->kind == S_STR || part->kind == S_STRN)
            w += json_text_escape (w, (const uint8_t *) part->s, part->len);
        else {
            memcpy (w, part->s, part->len);
            w += part->len;
        }
    }
    *w = '\0'; //  not counted; handy for logs and tests
    if (len_p)
        *len_p = total;
    return buf;
}

uint8_t *
envelope_welcome (size_t pre, const char *id, int64_t online, size_t *len_p)
{
    return envelope_welcome_ice (pre, id, online, NULL, 0, len_p);
}

uint8_t *
envelope_welcome_ice (size_t pre, const char *id, int64_t online,
                      const char *ice, size_t ice_len, size_t *len_p)
{
    char count[32] = "";
    if (online >= 0)
        snprintf (count, sizeof count, ",\"online\":%lld", (long long) online);
    s_part_t parts[] = {
        LIT ("{\"event\":\"welcome\",\"data\":{\"id\":\""),
        STR (id),
        LIT ("\""),
        {S_LIT, count, strlen (count)},
        {S_LIT, ice ? ",\"ice_servers\":" : "", ice ? 15 : 0},
        {S_LIT, ice ? ice : "", ice ? ice_len : 0},
        LIT ("}}"),
    };
    return s_build (pre, parts, sizeof parts / sizeof parts[0], len_p);
}

uint8_t *
envelope_waiting (size_t pre, size_t *len_p)
{
    s_part_t parts[] = {
        LIT ("{\"event\":\"waiting\",\"data\":{\"message\":"
             "\"Searching for partner...\"}}"),
    };
    return s_build (pre, parts, sizeof parts / sizeof parts[0], len_p);
}

//  The JSON array of the "\n"-joined strings in list (len bytes), e.g.
//  ["a","b"], in a new buffer (caller frees), or NULL if out of memory.
static char *
s_string_array (const uint8_t *list, size_t len, size_t *out_len_p)
{
    //  Measure, then write: '[' + per item '"' escaped '"' + ',' + ']'.
    size_t total = 2;
    for (size_t start = 0, i = 0; len && i <= len; i++)
        if (i == len || list[i] == '\n') {
            total += 3 + json_text_escape (NULL, list + start, i - start);
            start = i + 1;
        }
    char *out = malloc (total + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    out[n++] = '[';
    for (size_t start = 0, i = 0; len && i <= len; i++)
        if (i == len || list[i] == '\n') {
            if (start > 0)
                out[n++] = ',';
            out[n++] = '"';
            n += json_text_escape (out + n, list + start, i - start);
            out[n++] = '"';
            start = i + 1;
        }
    out[n++] = ']';
    out[n] = '\0';
    *out_len_p = n;
    return out;
}

uint8_t *
envelope_match_found (size_t pre, const char *partner_id, bool initiator,
                      const char *match_id, const char *mode,
                      const uint8_t *interests, size_t interests_len,
                      size_t *len_p)
{
    size_t array_len = 0;
    char *array = s_string_array (interests ? interests : (const uint8_t *) "",
                                  interests ? interests_len : 0, &array_len);
    if (!array)
        return NULL;
    s_part_t parts[] = {
        LIT ("{\"event\":\"match_found\",\"data\":{\"partner_id\":\""),
        STR (partner_id),
        initiator ? (s_part_t) LIT ("\",\"initiator\":true,\"match_id\":\"")
                  : (s_part_t) LIT ("\",\"initiator\":false,\"match_id\":\""),
        STR (match_id),
        LIT ("\",\"interests\":"),
        {S_LIT, array, array_len},
        LIT (",\"mode\":\""),
        STR (mode && *mode ? mode : "video"),
        LIT ("\"}}"),
    };
    uint8_t *buf = s_build (pre, parts, sizeof parts / sizeof parts[0], len_p);
    free (array);
    return buf;
}

uint8_t *
envelope_signal (size_t pre, const char *sender_id, const char *type,
                 const uint8_t *payload, size_t payload_len, size_t *len_p)
{
    s_part_t parts[] = {
        LIT ("{\"event\":\"signal\",\"data\":{\"sender_id\":\""),
        STR (sender_id),
        LIT ("\",\"type\":\""),
        STR (type),
        LIT ("\",\"payload\":"),
        {S_RAW, payload ? (const char *) payload : "",
         payload ? payload_len : 0},
        LIT ("}}"),
    };
    return s_build (pre, parts, sizeof parts / sizeof parts[0], len_p);
}

uint8_t *
envelope_partner_left (size_t pre, const char *from, size_t *len_p)
{
    s_part_t parts[] = {
        LIT ("{\"event\":\"partner_left\",\"data\":{\"from\":\""),
        STR (from),
        LIT ("\"}}"),
    };
    return s_build (pre, parts, sizeof parts / sizeof parts[0], len_p);
}

uint8_t *
envelope_error (size_t pre, const char *code, const char *message,
                size_t *len_p)
{
    s_part_t parts[] = {
        LIT ("{\"event\":\"error\",\"data\":{\"code\":\""),
        STR (code),
        LIT ("\",\"message\":\""),
        STR (message),
        LIT ("\"}}"),
    };
    return s_build (pre, parts, sizeof parts / sizeof parts[0], len_p);
}

uint8_t *
envelope_error_retry (size_t pre, const char *code, const char *message,
                      uint32_t retry_after_ms, size_t *len_p)
{
    if (retry_after_ms == 0)
        return envelope_error (pre, code, message, len_p);
    char retry[32];
    snprintf (retry, sizeof retry, "\",\"retry_after\":%lu}}",
              (unsigned long) retry_after_ms);
    s_part_t parts[] = {
        LIT ("{\"event\":\"error\",\"data\":{\"code\":\""),
        STR (code),
        LIT ("\",\"message\":\""),
        STR (message),
        {S_LIT, retry, strlen (retry)},
    };
    return s_build (pre, parts, sizeof parts / sizeof parts[0], len_p);
}

uint8_t *
envelope_chat (size_t pre, const char *from, const uint8_t *text,
               size_t text_len, size_t *len_p)
{
    s_part_t parts[] = {
        LIT ("{\"event\":\"chat\",\"data\":{\"from\":\""),
        STR (from),
        LIT ("\",\"text\":\""),
        {S_STRN, text ? (const char *) text : "", text ? text_len : 0},
        LIT ("\"}}"),
    };
    return s_build (pre, parts, sizeof parts / sizeof parts[0], len_p);
}

uint8_t *
envelope_typing (size_t pre, const char *from, bool typing, size_t *len_p)
{
    s_part_t parts[] = {
        LIT ("{\"event\":\"typing\",\"data\":{\"from\":\""),
        STR (from),
        typing ? (s_part_t) LIT ("\",\"typing\":true}}")
               : (s_part_t) LIT ("\",\"typing\":false}}"),
    };
    return s_build (pre, parts, sizeof parts / sizeof parts[0], len_p);
}

uint8_t *
envelope_online (size_t pre, uint64_t count, size_t *len_p)
{
    char number[24];
    snprintf (number, sizeof number, "%llu", (unsigned long long) count);
    s_part_t parts[] = {
        LIT ("{\"event\":\"online\",\"data\":{\"count\":"),
        {S_LIT, number, strlen (number)},
        LIT ("}}"),
    };
    return s_build (pre, parts, sizeof parts / sizeof parts[0], len_p);
}
