//  fuzz_frame - libFuzzer target for frame_decode; linked with
//  fuzz_replay.c instead of libFuzzer, it replays the corpus files through
//  the same function as a plain ctest (fuzz.frame.replay).
//
//  Every input that decodes must re-encode, decode again to an equal frame,
//  and render as valid JSON into any buffer; a mismatch abort()s.

#include "frame.h"

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static bool
s_frame_equal (const frame_t *a, const frame_t *b)
{
    return a->version == b->version && a->kind == b->kind
           && strcmp (a->gateway, b->gateway) == 0
           && strcmp (a->session, b->session) == 0
           && strcmp (a->peer, b->peer) == 0 && strcmp (a->match, b->match) == 0
           && a->flags == b->flags && strcmp (a->type, b->type) == 0
           && a->payload_len == b->payload_len
           && (a->payload_len == 0
               || memcmp (a->payload, b->payload, a->payload_len) == 0)
           && a->time_ms == b->time_ms;
}

//  Render into buf_size bytes and check the result is one JSON object.
static void
s_check_json (const frame_t *frame, size_t buf_size, size_t payload_max)
{
    char *buf = malloc (buf_size);
    if (!buf)
        abort ();
    size_t len = frame_to_json (frame, buf, buf_size, payload_max);
    if (len >= buf_size || strlen (buf) != len)
        abort ();
    if (buf_size >= 3) {
        if (len < 2 || buf[0] != '{' || buf[len - 1] != '}')
            abort ();
        cJSON *json = cJSON_Parse (buf);
        if (!json || !cJSON_IsObject (json))
            abort ();
        cJSON_Delete (json);
    }
    free (buf);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err[64] = "";
    frame_t *frame = frame_decode (data, size, err, sizeof err);
    if (!frame) {
        if (err[0] == '\0')
            abort (); //  a refusal always says why
        return 0;
    }
    uint8_t *bytes = NULL;
    size_t bytes_size = 0;
    if (frame_encode (frame, &bytes, &bytes_size))
        abort ();
    frame_t *again = frame_decode (bytes, bytes_size, err, sizeof err);
    if (!again || !s_frame_equal (frame, again))
        abort ();
    frame_destroy (&again);
    free (bytes);

    s_check_json (frame, 1 + size % 97, size % 13);
    s_check_json (frame, 4096, SIZE_MAX);
    frame_destroy (&frame);
    return 0;
}
