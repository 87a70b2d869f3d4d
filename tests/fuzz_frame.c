//  fuzz_frame - libFuzzer target for frame_decode, and (without
//  MEGLE_LIBFUZZER) a replay program that runs corpus files through the
//  same function as a plain ctest.
//
//  Every input that decodes must re-encode, decode again to an equal frame,
//  and render as valid JSON into any buffer; a mismatch abort()s.

#include "frame.h"

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
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

#ifndef MEGLE_LIBFUZZER
//  Replay: each argument is a file or a directory of files (not recursed).

#include <dirent.h>
#include <sys/stat.h>

static int
s_run_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "fuzz_frame: cannot open %s\n", path);
        return -1;
    }
    uint8_t *data = NULL;
    size_t size = 0;
    uint8_t chunk[4096];
    size_t got;
    while ((got = fread (chunk, 1, sizeof chunk, file)) > 0) {
        //  Exactly-sized buffer, so a sanitizer sees any over-read.
        uint8_t *bigger = realloc (data, size + got);
        if (!bigger) {
            free (data);
            fclose (file);
            return -1;
        }
        data = bigger;
        memcpy (data + size, chunk, got);
        size += got;
    }
    fclose (file);
    LLVMFuzzerTestOneInput (data ? data : chunk, size);
    free (data);
    return 0;
}

int
main (int argc, char *argv[])
{
    int files = 0;
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat (argv[i], &st)) {
            fprintf (stderr, "fuzz_frame: no such path %s\n", argv[i]);
            failed++;
            continue;
        }
        if (!S_ISDIR (st.st_mode)) {
            failed += s_run_file (argv[i]) ? 1 : 0;
            files++;
            continue;
        }
        DIR *dir = opendir (argv[i]);
        if (!dir) {
            failed++;
            continue;
        }
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[i], entry->d_name);
            if (stat (path, &st) || !S_ISREG (st.st_mode))
                continue;
            failed += s_run_file (path) ? 1 : 0;
            files++;
        }
        closedir (dir);
    }
    printf ("fuzz_frame: %d inputs replayed, %d unreadable\n", files, failed);
    return failed || files == 0 ? 1 : 0;
}
#endif
