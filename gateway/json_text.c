//  json_text - JSON text without a tree: a scanner that finds the exact
//  bytes of a member's value in the original text, C-string decoding of
//  the few strings megle reads, and the escaping the builders use. The
//  validating skipper every client message goes through first is in
//  json_check.c.
//
//  json_text_find_member and json_text_element run on validated text but
//  stay bounds-checked and fail rather than trusting that. find_member
//  picks the first of duplicate keys and compares keys after unescaping
//  with C-string semantics, exactly as cJSON's GetObjectItemCaseSensitive
//  (strcmp on the decoded key) does.

#include "json_text.h"

#include <string.h>

//  No key megle looks up is longer than this; longer keys never match.
#define JSON_TEXT_KEY_MAX 64

const char *
json_text_skip_ws (const char *p, const char *end)
{
    while (p < end && json_text_is_ws ((uint8_t) *p))
        p++;
    return p;
}

//  p at the opening quote; returns the pointer past the closing quote.
//  memchr finds each candidate quote; it closes the string when an even
//  number of backslashes precedes it. Each backslash run is counted once.
static const char *
s_skip_string (const char *p, const char *end)
{
    const char *start = p + 1;
    const char *q = start;
    while (q < end) {
        const char *quote = memchr (q, '"', (size_t) (end - q));
        if (!quote)
            return NULL;
        size_t backslashes = 0;
        for (const char *b = quote; b > start && b[-1] == '\\'; b--)
            backslashes++;
        if (backslashes % 2 == 0)
            return quote + 1;
        q = quote + 1;
    }
    return NULL;
}

//  p at the first byte of a value; returns the pointer past its last byte.
static const char *
s_skip_value (const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return s_skip_string (p, end);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = s_skip_string (p, end);
                if (!p)
                    return NULL;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    //  number or literal
    const char *start = p;
    while (p < end && !json_text_is_ws ((uint8_t) *p) && *p != ',' && *p != '}'
           && *p != ']')
        p++;
    return p > start ? p : NULL;
}

long
json_text_hex4 (const uint8_t *s, size_t n)
{
    if (n < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

//  Decode the escape sequence at s (s[0] is the backslash; n bytes left)
//  into the code point *cp_p, joining a UTF-16 surrogate pair. Returns
//  the bytes it took, or -1 if it is malformed.
static int
s_unescape (const uint8_t *s, size_t n, unsigned long *cp_p)
{
    if (n < 2)
        return -1;
    switch (s[1]) {
    case '"':
    case '\\':
    case '/':
        *cp_p = s[1];
        return 2;
    case 'b':
        *cp_p = '\b';
        return 2;
    case 'f':
        *cp_p = '\f';
        return 2;
    case 'n':
        *cp_p = '\n';
        return 2;
    case 'r':
        *cp_p = '\r';
        return 2;
    case 't':
        *cp_p = '\t';
        return 2;
    case 'u':
        break;
    default:
        return -1;
    }
    long hi = json_text_hex4 (s + 2, n - 2);
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return -1;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp_p = (unsigned long) hi;
        return 6;
    }
    long lo = n >= 12 && s[6] == '\\' && s[7] == 'u'
                  ? json_text_hex4 (s + 8, n - 8)
                  : -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return -1;
    *cp_p = 0x10000 + (((unsigned long) hi - 0xD800) << 10)
            + ((unsigned long) lo - 0xDC00);
    return 12;
}

//  (below, with the other UTF-8 helpers)
static size_t s_put_utf8 (char *out, unsigned long cp);

//  Decode the escaped key k..end (between the quotes) into buf, stopping
//  at a decoded NUL as cJSON's C strings do. Returns the decoded length, or
//  -1 if it is malformed or longer than JSON_TEXT_KEY_MAX.
static int
s_key_decode (const char *k, const char *end, char *buf)
{
    size_t n = 0;
    while (k < end) {
        unsigned long cp;
        if (*k != '\\') {
            cp = (uint8_t) *k++;
            if (n >= JSON_TEXT_KEY_MAX)
                return -1;
            buf[n++] = (char) cp;
            continue;
        }
        int used = s_unescape ((const uint8_t *) k, (size_t) (end - k), &cp);
        if (used < 0)
            return -1;
        k += used;
        if (cp == 0)
            break; //  cJSON's key ends here
        char tmp[4];
        size_t len = s_put_utf8 (tmp, cp);
        if (n + len > JSON_TEXT_KEY_MAX)
            return -1;
        memcpy (buf + n, tmp, len);
        n += len;
    }
    return (int) n;
}

//  Does the raw key k..end (between the quotes) equal want once decoded?
static bool
s_key_equals (const char *k, const char *end, const char *want)
{
    size_t want_len = strlen (want);
    if (!memchr (k, '\\', (size_t) (end - k)))
        return (size_t) (end - k) == want_len
               && memcmp (k, want, want_len) == 0;
    char buf[JSON_TEXT_KEY_MAX];
    int n = s_key_decode (k, end, buf);
    return n >= 0 && (size_t) n == want_len
           && memcmp (buf, want, want_len) == 0;
}

//  p at an object's '{'. Finds the first member named key and returns its
//  value's exact bytes in *value_p, *value_len_p. Returns 0 or -1.
int
json_text_find_member (const char *p, const char *end, const char *key,
                       const char **value_p, size_t *value_len_p)
{
    if (p >= end || *p != '{')
        return -1;
    p = json_text_skip_ws (p + 1, end);
    if (p < end && *p == '}')
        return -1;
    while (p < end && *p == '"') {
        const char *key_end = s_skip_string (p, end);
        if (!key_end)
            return -1;
        bool match = s_key_equals (p + 1, key_end - 1, key);
        p = json_text_skip_ws (key_end, end);
        if (p >= end || *p != ':')
            return -1;
        p = json_text_skip_ws (p + 1, end);
        const char *value_end = s_skip_value (p, end);
        if (!value_end)
            return -1;
        if (match) {
            *value_p = p;
            *value_len_p = (size_t) (value_end - p);
            return 0;
        }
        p = json_text_skip_ws (value_end, end);
        if (p >= end || *p != ',')
            return -1;
        p = json_text_skip_ws (p + 1, end);
    }
    return -1;
}

int
json_text_index_find (const json_text_index_t *index, const char *text,
                      int parent, const char *key)
{
    size_t want = strlen (key);
    for (int e = 0; e < index->count; e++) {
        const json_text_member_t *m = &index->members[e];
        if (m->parent != parent)
            continue;
        //  An escape makes a key's raw bytes longer than it decodes to:
        //  raw bytes as long as key match only byte for byte, shorter
        //  ones never.
        const char *k = text + m->key + 1;
        size_t raw = m->key_len - 2;
        if (raw == want ? memcmp (k, key, want) == 0
                        : raw > want && s_key_equals (k, k + raw, key))
            return e;
    }
    return -1;
}

//  Escape s (n bytes) into out, or only measure it when out is NULL.
//  Quotes, backslashes and control characters are escaped (\u00XX); valid
//  UTF-8 passes through; every byte of invalid UTF-8 becomes U+FFFD.
size_t
json_text_escape (char *out, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t w = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            if (out) {
                out[w] = '\\';
                out[w + 1] = (char) c;
            }
            w += 2;
            i++;
        } else if (c < 0x20) {
            if (out) {
                memcpy (out + w, "\\u00", 4);
                out[w + 4] = hex[c >> 4];
                out[w + 5] = hex[c & 0xF];
            }
            w += 6;
            i++;
        } else if (c < 0x80) {
            if (out)
                out[w] = (char) c;
            w++;
            i++;
        } else {
            size_t seq = json_text_utf8_seq (s + i, n - i);
            if (seq) {
                if (out)
                    memcpy (out + w, s + i, seq);
                w += seq;
                i += seq;
            } else {
                if (out)
                    memcpy (out + w, "\xEF\xBF\xBD", 3);
                w += 3;
                i++;
            }
        }
    }
    return w;
}

bool
json_text_has_nul (const char *p, size_t len)
{
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"')
            in_string = !in_string;
        else if (in_string && p[i] == '\\') {
            if (i + 5 < len && p[i + 1] == 'u' && p[i + 2] == '0'
                && p[i + 3] == '0' && p[i + 4] == '0' && p[i + 5] == '0')
                return true;
            i++; //  the escaped character
        }
    }
    return false;
}

//  Append code point cp as UTF-8 to out (when not NULL); returns its length.
static size_t
s_put_utf8 (char *out, unsigned long cp)
{
    char tmp[4];
    size_t n;
    if (cp < 0x80) {
        tmp[0] = (char) cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (char) (0xC0 | (cp >> 6));
        tmp[1] = (char) (0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (char) (0xE0 | (cp >> 12));
        tmp[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        tmp[2] = (char) (0x80 | (cp & 0x3F));
        n = 3;
    } else {
        tmp[0] = (char) (0xF0 | (cp >> 18));
        tmp[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        tmp[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        tmp[3] = (char) (0x80 | (cp & 0x3F));
        n = 4;
    }
    if (out)
        memcpy (out, tmp, n);
    return n;
}

long
json_text_cstring (const char *p, size_t len, char *out, size_t size)
{
    if (len < 2 || p[0] != '"' || p[len - 1] != '"')
        return -1;
    const uint8_t *s = (const uint8_t *) p + 1;
    size_t n = len - 2;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        unsigned long cp;
        size_t put = 1;
        if (s[i] != '\\') {
            //  a run of plain bytes, copied as is
            size_t run = i;
            while (run < n && s[run] != '\\')
                run++;
            put = run - i;
            if (out && w + put >= size)
                return -1;
            if (out)
                memcpy (out + w, s + i, put);
            w += put;
            i = run;
            continue;
        }
        int used = s_unescape (s + i, n - i, &cp);
        if (used < 0)
            return -1;
        i += (size_t) used;
        if (cp == 0)
            break; //  a C string ends here, as cJSON's valuestring does
        put = s_put_utf8 (NULL, cp);
        if (out && w + put >= size)
            return -1;
        if (out)
            s_put_utf8 (out + w, cp);
        w += put;
    }
    if (out)
        out[w] = '\0';
    return (long) w;
}

int
json_text_element (const char **cursor_p, const char *end, const char **value_p,
                   size_t *value_len_p)
{
    const char *p = *cursor_p;
    if (p >= end)
        return -1;
    if (*p == ']')
        return 0;
    if (*p != '[' && *p != ',')
        return -1;
    bool first = *p == '[';
    p = json_text_skip_ws (p + 1, end);
    if (p >= end)
        return -1;
    if (*p == ']') {
        *cursor_p = p;
        return first ? 0 : -1;
    }
    const char *value_end = s_skip_value (p, end);
    if (!value_end)
        return -1;
    *value_p = p;
    *value_len_p = (size_t) (value_end - p);
    *cursor_p = json_text_skip_ws (value_end, end);
    return 1;
}
