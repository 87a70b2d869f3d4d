//  json_text - what the envelope needs of JSON text beyond cJSON: a strict
//  pre-scan, a scanner that finds the exact bytes of a member's value in
//  the original text, and the escaping the builders use.
//
//  json_text_prescan enforces what cJSON lets through but JSON (and the
//  partner's JSON.parse) does not: invalid UTF-8 (overlongs, surrogates,
//  > U+10FFFF), raw control characters, bad \u escapes (cJSON decodes
//  "\u00zz" as U+0000), numbers such as 01 or 1. that strtod accepts; and
//  it refuses nesting deeper than JSON_TEXT_DEPTH_MAX before cJSON's
//  recursive descent sees the text.
//
//  json_text_find_member runs only on text cJSON accepted, but stays
//  bounds-checked and fails rather than trusting that. It picks the first
//  of duplicate keys and compares keys after unescaping with C-string
//  semantics, exactly as cJSON's GetObjectItemCaseSensitive (strcmp on the
//  decoded key) does.

#include "json_text.h"

#include <string.h>

//  No key megle looks up is longer than this; longer keys never match.
#define JSON_TEXT_KEY_MAX 64

//  Length (1..4) of the well-formed UTF-8 sequence at s, or 0 if the bytes
//  there are not one (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
size_t
json_text_utf8_seq (const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2) //  continuation byte, or overlong 2-byte lead
        return 0;
    if (c < 0xE0)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0) //  overlong
            return 0;
        if (c == 0xED && s[1] >= 0xA0) //  U+D800..U+DFFF
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80
            || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) //  overlong
            return 0;
        if (c == 0xF4 && s[1] >= 0x90) //  > U+10FFFF
            return 0;
        return 4;
    }
    return 0;
}

static bool
s_is_digit (uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool
s_is_ws (uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

//  Length of the strict JSON number at s (RFC 8259 grammar), 0 if none.
//  A number may not run on into further number characters ("01", "1.",
//  "1e5e"): cJSON's strtod would stop early and accept some of those.
static size_t
s_number_len (const uint8_t *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s_is_digit (s[i]))
        while (i < n && s_is_digit (s[i]))
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !s_is_digit (s[i]))
            return 0;
        while (i < n && s_is_digit (s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !s_is_digit (s[i]))
            return 0;
        while (i < n && s_is_digit (s[i]))
            i++;
    }
    if (i < n
        && (s_is_digit (s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E'
            || s[i] == '+' || s[i] == '-'))
        return 0;
    return i;
}

static bool
s_is_hex (uint8_t c)
{
    return s_is_digit (c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

//  Length of the valid escape sequence at s (at its backslash), 0 if none.
static size_t
s_escape_len (const uint8_t *s, size_t n)
{
    if (n < 2)
        return 0;
    switch (s[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return 2;
    case 'u':
        if (n < 6 || !s_is_hex (s[2]) || !s_is_hex (s[3]) || !s_is_hex (s[4])
            || !s_is_hex (s[5]))
            return 0;
        return 6;
    default:
        return 0;
    }
}

//  True if none of the 8 bytes in w is a quote, a backslash, a control
//  character or non-ASCII: the string fast path of json_text_prescan skips
//  them.
static bool
s_word_plain (uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"');
    uint64_t bslash = w ^ (ones * '\\');
    //  (v - ones) & ~v has a high bit set iff some byte of v is zero; with
    //  no high bit in w, w - 0x20.. has one iff some byte is < 0x20.
    uint64_t special = ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash)
                       | (w - ones * 0x20) | w;
    return (special & highs) == 0;
}

int
json_text_prescan (const uint8_t *s, size_t len, const char **reason)
{
    size_t depth = 0;
    size_t i = 0;
    bool in_string = false;
    while (i < len) {
        if (in_string) {
            while (len - i >= 8) {
                uint64_t w;
                memcpy (&w, s + i, 8);
                if (!s_word_plain (w))
                    break;
                i += 8;
            }
            if (i >= len)
                break;
        }
        uint8_t c = s[i];
        if (c >= 0x80) {
            size_t n = json_text_utf8_seq (s + i, len - i);
            if (n == 0) {
                *reason = "invalid UTF-8";
                return -1;
            }
            i += n;
            continue;
        }
        if (in_string) {
            if (c == '"')
                in_string = false;
            else if (c == '\\') {
                //  cJSON reads a bad \u escape ("\u00zz") as U+0000, so
                //  check escapes here; it checks surrogate pairing itself.
                size_t n = s_escape_len (s + i, len - i);
                if (n == 0) {
                    *reason = "invalid escape in string";
                    return -1;
                }
                i += n;
                continue;
            } else if (c < 0x20) {
                *reason = "control character in string";
                return -1;
            }
            i++;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[') {
            if (++depth > JSON_TEXT_DEPTH_MAX) {
                *reason = "nesting too deep";
                return -1;
            }
        } else if (c == '}' || c == ']') {
            //  An unbalanced closer makes cJSON fail right there, so the
            //  counter never under-estimates cJSON's recursion depth.
            if (depth)
                depth--;
        } else if (c == '-' || s_is_digit (c)) {
            size_t n = s_number_len (s + i, len - i);
            if (n == 0) {
                *reason = "invalid number";
                return -1;
            }
            i += n;
            continue;
        } else if ((c < 0x20 && !s_is_ws (c)) || c == 0x7F) {
            *reason = "control character";
            return -1;
        }
        i++;
    }
    return 0;
}

const char *
json_text_skip_ws (const char *p, const char *end)
{
    while (p < end && s_is_ws ((uint8_t) *p))
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
    while (p < end && !s_is_ws ((uint8_t) *p) && *p != ',' && *p != '}'
           && *p != ']')
        p++;
    return p > start ? p : NULL;
}

static int
s_hex4 (const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned) (c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned) (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned) (c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

//  Decode the escaped key k..end (between the quotes) into buf, stopping
//  at a decoded NUL as cJSON's C strings do. Returns the decoded length, or
//  -1 if it is malformed or longer than JSON_TEXT_KEY_MAX.
static int
s_key_decode (const char *k, const char *end, char *buf)
{
    size_t n = 0;
    while (k < end) {
        unsigned cp;
        if (*k != '\\') {
            cp = (uint8_t) *k++;
            if (n >= JSON_TEXT_KEY_MAX)
                return -1;
            buf[n++] = (char) cp;
            continue;
        }
        if (end - k < 2)
            return -1;
        char e = k[1];
        k += 2;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            cp = (unsigned) e;
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (s_hex4 (k, end, &cp))
                return -1;
            k += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (end - k < 6 || k[0] != '\\' || k[1] != 'u'
                    || s_hex4 (k + 2, end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                k += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF)
                return -1;
            break;
        default:
            return -1;
        }
        if (cp == 0)
            break; //  cJSON's key ends here
        char tmp[4];
        size_t len;
        if (cp < 0x80) {
            tmp[0] = (char) cp;
            len = 1;
        } else if (cp < 0x800) {
            tmp[0] = (char) (0xC0 | (cp >> 6));
            tmp[1] = (char) (0x80 | (cp & 0x3F));
            len = 2;
        } else if (cp < 0x10000) {
            tmp[0] = (char) (0xE0 | (cp >> 12));
            tmp[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
            tmp[2] = (char) (0x80 | (cp & 0x3F));
            len = 3;
        } else {
            tmp[0] = (char) (0xF0 | (cp >> 18));
            tmp[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
            tmp[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
            tmp[3] = (char) (0x80 | (cp & 0x3F));
            len = 4;
        }
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
