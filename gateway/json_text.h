//  json_text - strict checks (json_check.c) and exact-byte scanning
//  (json_text.c) of JSON text, and JSON string escaping: what the envelope
//  needs beyond cJSON (the two files say why each exists). Every function
//  is bounds-checked and never trusts its input.

#ifndef MEGLE_JSON_TEXT_H
#define MEGLE_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_TEXT_DEPTH_MAX 32

//  Is c JSON whitespace (RFC 8259: space, tab, line feed, carriage return)?
static inline bool
json_text_is_ws (uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

//  Value of the 4 hex digits at s (n bytes left; a \u escape's), or -1.
long json_text_hex4 (const uint8_t *s, size_t n);

//  Length (1..4) of the well-formed UTF-8 sequence at s (n bytes left), or
//  0 if the bytes there are not one (no overlongs, no surrogates,
//  <= U+10FFFF).
size_t json_text_utf8_seq (const uint8_t *s, size_t n);

//  Check len bytes of text for what cJSON would accept but JSON does not,
//  and for nesting deeper than JSON_TEXT_DEPTH_MAX. Returns 0, or -1 with
//  *reason set to a static string.
int json_text_prescan (const uint8_t *s, size_t len, const char **reason);

//  Check that len bytes of text are exactly one JSON value (RFC 8259;
//  one leading UTF-8 byte order mark allowed, as cJSON skips it: when len
//  > 4), nested at most
//  JSON_TEXT_DEPTH_MAX deep, with well-formed UTF-8, paired surrogates: what
//  json_text_prescan and cJSON accept together. Walks the text once; allocates
//  nothing. Returns 0, or -1 with *reason set to a static string.
int json_text_validate (const uint8_t *s, size_t len, const char **reason);

//  The members of the root object and of the objects that are the values
//  of its members (the envelope's "data"), as json_text_validate_index
//  found them: offsets into the text, in text order, so that the envelope
//  reads its fields without scanning the text again.
#define JSON_TEXT_INDEX_MAX 32
typedef struct {
    uint32_t key;       //  offset of the key's opening quote
    uint32_t key_len;   //  the key's bytes with its quotes
    uint32_t value;     //  offset of the value's first byte
    uint32_t value_len; //  the value's exact bytes
    int32_t parent;     //  -1: a member of the root object; else the entry
                        //  of the root member whose value holds it
} json_text_member_t;

typedef struct {
    json_text_member_t members[JSON_TEXT_INDEX_MAX];
    int count;
    //  false if some member was not recorded (more than
    //  JSON_TEXT_INDEX_MAX): use json_text_find_member instead
    bool complete;
} json_text_index_t;

//  json_text_validate, filling *index as it goes. The index is meaningful
//  only when it returns 0.
int json_text_validate_index (const uint8_t *s, size_t len,
                              json_text_index_t *index, const char **reason);

//  The entry of the first member named key (compared once decoded) of the
//  root object (parent -1) or of the object that is the value of entry
//  parent, in an index of text; -1 if there is none. Only a complete
//  index can tell that a member is absent.
int json_text_index_find (const json_text_index_t *index, const char *text,
                          int parent, const char *key);

//  p, len: a JSON string value with its quotes (from text that passed
//  json_text_validate). Decodes it as a C string, stopping at a \u0000
//  escape as cJSON's valuestring does, into out (NUL-terminated; size
//  bytes with the NUL), or only measures it when out is NULL. Returns the
//  decoded length, or -1 if it is not a string or does not fit.
long json_text_cstring (const char *p, size_t len, char *out, size_t size);

//  Walk an array's elements: *cursor_p starts at the array's '['. Returns
//  1 with the next element's exact bytes in *value_p, *value_len_p (and
//  moves the cursor past it), 0 at the end of the array, -1 if the text is
//  malformed.
int json_text_element (const char **cursor_p, const char *end,
                       const char **value_p, size_t *value_len_p);

//  p past any JSON whitespace, at most end.
const char *json_text_skip_ws (const char *p, const char *end);

//  p at an object's '{' (text up to end). Finds the first member named key
//  and sets *value_p, *value_len_p to its value's exact bytes. Returns 0,
//  or -1 if there is no such member (or the text is malformed).
int json_text_find_member (const char *p, const char *end, const char *key,
                           const char **value_p, size_t *value_len_p);

//  True if a string inside the len bytes of JSON text at p holds a \u0000
//  escape (cJSON would cut the decoded string there).
bool json_text_has_nul (const char *p, size_t len);

//  Escape n bytes of s as the contents of a JSON string into out, or only
//  measure when out is NULL; returns the length. Quotes, backslashes and
//  control characters are escaped; valid UTF-8 passes through; each byte
//  of invalid UTF-8 becomes U+FFFD.
size_t json_text_escape (char *out, const uint8_t *s, size_t n);

#endif
