//  json_text - JSON text without a tree: the envelope's validating
//  skipper, a scanner that finds the exact bytes of a member's value in the
//  original text, C-string decoding of the few strings megle reads, and the
//  escaping the builders use.
//
//  json_text_validate is the one full pass over a client message: an
//  iterative walk with a fixed stack of JSON_TEXT_DEPTH_MAX container
//  kinds, no allocation. It accepts exactly what cJSON (1.7, the gateway's
//  earlier parser) accepts once json_text_prescan has refused what cJSON
//  lets through but JSON (and the partner's JSON.parse) does not: invalid
//  UTF-8 (overlongs, surrogates, > U+10FFFF), raw control characters, bad
//  \u escapes (cJSON decodes "\u00zz" as U+0000), numbers such as 01 or 1.
//  that strtod accepts; plus cJSON's own refusal of unpaired UTF-16
//  surrogates.
//  json_text_prescan stays as the fuzz target's oracle, with cJSON.
//
//  json_text_find_member and json_text_element run on validated text but
//  stay bounds-checked and fail rather than trusting that. find_member
//  picks the first of duplicate keys and compares keys after unescaping
//  with C-string semantics, exactly as cJSON's GetObjectItemCaseSensitive
//  (strcmp on the decoded key) does.

#include "json_text.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

//  The high bit of each of the 8 bytes in w that may be a quote, a
//  backslash, a control character or non-ASCII; 0 if none is. A borrow
//  can flag a plain byte, but only above a special one: the lowest flag
//  is always exact.
static uint64_t
s_word_special (uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"');
    uint64_t bslash = w ^ (ones * '\\');
    //  (v - ones) & ~v has a high bit set iff some byte of v is zero; with
    //  no high bit in w, w - 0x20.. has one iff some byte is < 0x20.
    uint64_t special = ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash)
                       | (w - ones * 0x20) | w;
    return special & highs;
}

//  True if none of the 8 bytes in w is a quote, a backslash, a control
//  character or non-ASCII: the string fast paths skip them.
static bool
s_word_plain (uint64_t w)
{
    return s_word_special (w) == 0;
}

//  How many plain bytes the word at p (loaded as memcpy does, in memory
//  order) starts with, given its non-zero s_word_special mask: 0 where the
//  byte order is not known to be little-endian (the caller then steps one
//  byte at a time).
static size_t
s_plain_prefix (uint64_t special)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__       \
    && (defined(__GNUC__) || defined(__clang__))
    return (size_t) __builtin_ctzll (special) / 8;
#else
    (void) special;
    return 0;
#endif
}

//  From i (<= n), the index of the first byte of s (n bytes) that a
//  string scan must look at: a quote, a backslash, a control character,
//  non-ASCII, or one of the last few bytes. 16 bytes per step with SSE2
//  (every x86-64 has it), else 8 (s_word_special).
static size_t
s_plain_skip (const uint8_t *s, size_t i, size_t n)
{
#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
    const __m128i quote = _mm_set1_epi8 ('"');
    const __m128i bslash = _mm_set1_epi8 ('\\');
    //  A signed compare: non-ASCII bytes are negative, so below 0x20 too.
    const __m128i space = _mm_set1_epi8 (0x20);
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128 ((const __m128i *) (const void *) (s + i));
        __m128i hit = _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (v, quote),
                                                  _mm_cmpeq_epi8 (v, bslash)),
                                    _mm_cmplt_epi8 (v, space));
        unsigned mask = (unsigned) _mm_movemask_epi8 (hit);
        if (mask)
            return i + (size_t) __builtin_ctz (mask);
        i += 16;
    }
#endif
    while (n - i >= 8) {
        uint64_t w;
        memcpy (&w, s + i, 8);
        uint64_t special = s_word_special (w);
        if (special)
            return i + s_plain_prefix (special);
        i += 8;
    }
    return i;
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

//  Value of the 4 hex digits at s (n bytes left), or -1.
static long
s_hex4_at (const uint8_t *s, size_t n)
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
    long hi = s_hex4_at (s + 2, n - 2);
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return -1;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp_p = (unsigned long) hi;
        return 6;
    }
    long lo =
        n >= 12 && s[6] == '\\' && s[7] == 'u' ? s_hex4_at (s + 8, n - 8) : -1;
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

// ---------------------------------------------------------------------
//  The validating skipper: one pass, no allocation, no recursion.

//  s at a string's opening quote, n bytes left. Returns the length of the
//  string with its quotes, or 0 with *reason set.
static size_t
s_string_len (const uint8_t *s, size_t n, const char **reason)
{
    size_t i = 1;
    for (;;) {
        i = s_plain_skip (s, i, n);
        if (i >= n) {
            *reason = "unterminated string";
            return 0;
        }
        uint8_t c = s[i];
        if (c == '"')
            return i + 1;
        if (c >= 0x80) {
            size_t k = json_text_utf8_seq (s + i, n - i);
            if (k == 0) {
                *reason = "invalid UTF-8";
                return 0;
            }
            i += k;
        } else if (c == '\\') {
            size_t k = s_escape_len (s + i, n - i);
            if (k == 0) {
                *reason = "invalid escape in string";
                return 0;
            }
            if (s[i + 1] == 'u') {
                //  UTF-16 surrogates must pair up, as cJSON requires.
                long cp = s_hex4_at (s + i + 2, 4);
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    *reason = "unpaired surrogate in string";
                    return 0;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    long lo = n - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u'
                                  ? s_hex4_at (s + i + 8, 4)
                                  : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        *reason = "unpaired surrogate in string";
                        return 0;
                    }
                    k = 12;
                }
            }
            i += k;
        } else if (c < 0x20) {
            *reason = "control character in string";
            return 0;
        } else
            i++;
    }
}

//  Is an object at depth (1 = the root) one whose members the index
//  records: the root object, and an object that is the value of one of
//  the root object's members?
static bool
s_indexed (const uint8_t *stack, size_t depth)
{
    return depth == 1 ? stack[0] == '{'
                      : depth == 2 && stack[0] == '{' && stack[1] == '{';
}

//  The validator; index (may be NULL) records members as it goes (see
//  json_text_validate_index). cur[d] is the entry of the member of the
//  object at depth d whose value is being read, -1 for none.
static int
s_validate (const uint8_t *s, size_t len, json_text_index_t *index,
            const char **reason)
{
    static const char *invalid = "invalid JSON";
    //  Open containers: '{' or '['; after_value: a value just ended.
    uint8_t stack[JSON_TEXT_DEPTH_MAX];
    size_t depth = 0;
    size_t i = 0;
    int cur[3] = {-1, -1, -1};
    if (index) {
        index->count = 0;
        index->complete = len <= UINT32_MAX;
    }
    //  A byte order mark, which cJSON skips when more than 4 bytes follow
    //  from it (cJSON 1.7 checks that index 4 can be read).
    if (len > 4 && memcmp (s, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    for (;;) {
        //  Here a value is expected.
        while (i < len && s_is_ws (s[i]))
            i++;
        if (i >= len) {
            *reason = invalid;
            return -1;
        }
        uint8_t c = s[i];
        if (c == '{' || c == '[') {
            if (depth >= JSON_TEXT_DEPTH_MAX) {
                *reason = "nesting too deep";
                return -1;
            }
            stack[depth++] = c;
            i++;
            while (i < len && s_is_ws (s[i]))
                i++;
            if (i < len && s[i] == (c == '{' ? '}' : ']')) {
                depth--;
                i++;
                goto after_value;
            }
            if (c == '[')
                continue;
            goto member_key;
        }
        if (c == '"') {
            size_t n = s_string_len (s + i, len - i, reason);
            if (n == 0)
                return -1;
            i += n;
        } else if (c == '-' || s_is_digit (c)) {
            size_t n = s_number_len (s + i, len - i);
            if (n == 0) {
                *reason = "invalid number";
                return -1;
            }
            i += n;
        } else if (len - i >= 4 && memcmp (s + i, "true", 4) == 0)
            i += 4;
        else if (len - i >= 5 && memcmp (s + i, "false", 5) == 0)
            i += 5;
        else if (len - i >= 4 && memcmp (s + i, "null", 4) == 0)
            i += 4;
        else {
            *reason = c < 0x20 || c == 0x7F ? "control character" : invalid;
            return -1;
        }
    after_value:
        if (index && depth >= 1 && depth <= 2 && cur[depth] >= 0) {
            //  The value of the member being recorded ends here.
            json_text_member_t *m = &index->members[cur[depth]];
            m->value_len = (uint32_t) (i - m->value);
            cur[depth] = -1;
        }
        while (i < len && s_is_ws (s[i]))
            i++;
        if (depth == 0) {
            if (i == len)
                return 0;
            *reason = "trailing data after the JSON value";
            return -1;
        }
        if (i >= len) {
            *reason = invalid;
            return -1;
        }
        c = s[i++];
        uint8_t open = stack[depth - 1];
        if (c == (open == '{' ? '}' : ']')) {
            depth--;
            goto after_value;
        }
        if (c != ',') {
            *reason = c < 0x20 || c == 0x7F ? "control character" : invalid;
            return -1;
        }
        if (open == '[')
            continue;
        while (i < len && s_is_ws (s[i]))
            i++;
    member_key:
        //  i at a member's key (whitespace skipped)
        if (i >= len || s[i] != '"') {
            *reason = invalid;
            return -1;
        }
        size_t key_at = i;
        size_t n = s_string_len (s + i, len - i, reason);
        if (n == 0)
            return -1;
        i += n;
        while (i < len && s_is_ws (s[i]))
            i++;
        if (i >= len || s[i] != ':') {
            *reason = invalid;
            return -1;
        }
        i++;
        if (index && index->complete && s_indexed (stack, depth)) {
            if (index->count == JSON_TEXT_INDEX_MAX
                || (depth == 2 && cur[1] < 0)) {
                //  Too many members to record, or an object whose own
                //  member was not recorded: lookups fall back to a scan.
                index->complete = false;
            } else {
                while (i < len && s_is_ws (s[i]))
                    i++;
                json_text_member_t *m = &index->members[index->count];
                m->key = (uint32_t) key_at;
                m->key_len = (uint32_t) n;
                m->value = (uint32_t) i;
                m->value_len = 0;
                m->parent = depth == 1 ? -1 : cur[1];
                cur[depth] = index->count++;
            }
        }
    }
}

int
json_text_validate (const uint8_t *s, size_t len, const char **reason)
{
    return s_validate (s, len, NULL, reason);
}

int
json_text_validate_index (const uint8_t *s, size_t len,
                          json_text_index_t *index, const char **reason)
{
    return s_validate (s, len, index, reason);
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
