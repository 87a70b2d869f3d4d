//  json_check - is a client message JSON? (json_text.h)
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

#include "json_text.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
        } else if ((c < 0x20 && !json_text_is_ws (c)) || c == 0x7F) {
            *reason = "control character";
            return -1;
        }
        i++;
    }
    return 0;
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
                long cp = json_text_hex4 (s + i + 2, 4);
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    *reason = "unpaired surrogate in string";
                    return 0;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    long lo = n - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u'
                                  ? json_text_hex4 (s + i + 8, 4)
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
        while (i < len && json_text_is_ws (s[i]))
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
            while (i < len && json_text_is_ws (s[i]))
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
        while (i < len && json_text_is_ws (s[i]))
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
        while (i < len && json_text_is_ws (s[i]))
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
        while (i < len && json_text_is_ws (s[i]))
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
                while (i < len && json_text_is_ws (s[i]))
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
