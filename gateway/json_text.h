//  json_text - strict checks and exact-byte scanning of JSON text, and JSON
//  string escaping: what the envelope needs beyond cJSON (json_text.c says
//  why each exists). Every function is bounds-checked and never trusts its
//  input.

#ifndef MEGLE_JSON_TEXT_H
#define MEGLE_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_TEXT_DEPTH_MAX 32

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
