//  fuzz_envelope - libFuzzer target for envelope_parse and the builders.
//
//  Any bytes must parse or be refused with a known code. When they parse,
//  the data and payload spans must lie inside the input and be exactly the
//  values cJSON picked (same first-of-duplicates), and the relayed signal
//  built from the payload must be JSON again. abort() on any violation.
//
//  Built with -DMEGLE_LIBFUZZER it is a libFuzzer target; without it, main()
//  replays every file (or every file in each directory) named on argv, so
//  the corpus is a ctest (fuzz.envelope.replay).

#include "envelope.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_check (bool ok, const char *what)
{
    if (!ok) {
        fprintf (stderr, "fuzz_envelope: violated: %s\n", what);
        abort ();
    }
}

//  cJSON's compact print of a value, or NULL.
static char *
s_print (const cJSON *item)
{
    return item ? cJSON_PrintUnformatted (item) : NULL;
}

//  The span, parsed alone, prints as cJSON's own item does.
static void
s_check_span (const char *span, size_t len, const cJSON *item, const char *what)
{
    cJSON *alone = cJSON_ParseWithLength (span, len);
    s_check (alone != NULL, what);
    char *a = s_print (alone);
    char *b = s_print (item);
    s_check (a && b && strcmp (a, b) == 0, what);
    free (a);
    free (b);
    cJSON_Delete (alone);
}

static void
s_check_parsed (const char *text, size_t size, const envelope_t *env)
{
    s_check (env->data && env->data >= text
                 && env->data_len <= size - (size_t) (env->data - text),
             "data span inside the input");
    s_check (memchr (env->target_id, '\0', sizeof env->target_id) != NULL,
             "target_id terminated");
    s_check (memchr (env->type, '\0', sizeof env->type) != NULL,
             "type terminated");

    cJSON *root = cJSON_ParseWithLength (text, size);
    s_check (root != NULL, "cJSON parses what envelope_parse accepted");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive (root, "data");
    s_check (cJSON_IsObject (data), "data is an object");
    s_check_span (env->data, env->data_len, data, "data span is cJSON's data");

    if (env->event == ENVELOPE_SIGNAL) {
        s_check (env->payload && env->payload >= env->data
                     && env->payload_len
                            <= env->data_len
                                   - (size_t) (env->payload - env->data),
                 "payload span inside data");
        s_check (strcmp (env->type, "offer") == 0
                     || strcmp (env->type, "answer") == 0
                     || strcmp (env->type, "candidate") == 0,
                 "signal type");
        s_check (strlen (env->target_id) >= 1, "signal target_id");
        const cJSON *payload =
            cJSON_GetObjectItemCaseSensitive (data, "payload");
        s_check_span (env->payload, env->payload_len, payload,
                      "payload span is cJSON's payload");

        size_t len = 0;
        uint8_t *out = envelope_signal (
            16, "0123456789abcdef0123456789abcdef", env->type,
            (const uint8_t *) env->payload, env->payload_len, &len);
        s_check (out != NULL, "envelope_signal");
        cJSON *json = cJSON_ParseWithLength ((char *) out + 16, len);
        s_check (json != NULL, "relayed signal is JSON");
        cJSON_Delete (json);
        //  and our own parser finds it well-formed (it lacks target_id)
        envelope_t again;
        const char *code = NULL;
        s_check (envelope_parse ((char *) out + 16, len, &again, &code, NULL, 0)
                         == -1
                     && code && strcmp (code, "bad_field") == 0,
                 "relayed signal re-parses to bad_field");
        free (out);
    } else
        s_check (env->payload == NULL && env->payload_len == 0,
                 "no payload outside signal");
    cJSON_Delete (root);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    envelope_t env;
    const char *code = NULL;
    char msg[128];
    msg[0] = '\0';
    if (envelope_parse (text, size, &env, &code, msg, sizeof msg) == 0)
        s_check_parsed (text, size, &env);
    else {
        s_check (code
                     && (strcmp (code, "bad_json") == 0
                         || strcmp (code, "bad_envelope") == 0
                         || strcmp (code, "unknown_event") == 0
                         || strcmp (code, "bad_field") == 0),
                 "known error code");
        s_check (msg[0] != '\0', "error message");
    }

    //  The builders escape any bytes into JSON strings.
    char *copy = malloc (size + 1);
    if (!copy)
        return 0;
    memcpy (copy, data, size);
    copy[size] = '\0';
    size_t len = 0;
    uint8_t *out = envelope_error (0, "internal", copy, &len);
    s_check (out != NULL, "envelope_error");
    cJSON *json = cJSON_ParseWithLength ((char *) out, len);
    s_check (json != NULL, "built error is JSON");
    cJSON_Delete (json);
    envelope_t again;
    s_check (envelope_parse ((char *) out, len, &again, &code, NULL, 0) == -1
                 && strcmp (code, "unknown_event") == 0,
             "built error re-parses to unknown_event");
    free (out);
    free (copy);
    return 0;
}

#ifndef MEGLE_LIBFUZZER

static int
s_replay_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "fuzz_envelope: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, size = 0;
    uint8_t *buf = malloc (cap);
    while (buf) {
        size_t n = fread (buf + size, 1, cap - size, file);
        size += n;
        if (size < cap)
            break;
        uint8_t *bigger = realloc (buf, cap * 2);
        if (!bigger) {
            free (buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose (file);
    if (!buf)
        return -1;
    //  an exactly-sized copy, so that reading past size is an ASan error
    uint8_t *exact = malloc (size ? size : 1);
    if (exact) {
        memcpy (exact, buf, size);
        LLVMFuzzerTestOneInput (exact, size);
    }
    free (exact);
    free (buf);
    return exact ? 0 : -1;
}

int
main (int argc, char **argv)
{
    int files = 0, errors = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat (argv[i], &st)) {
            fprintf (stderr, "fuzz_envelope: cannot stat %s\n", argv[i]);
            errors++;
            continue;
        }
        if (!S_ISDIR (st.st_mode)) {
            errors += s_replay_file (argv[i]) ? 1 : 0;
            files++;
            continue;
        }
        DIR *dir = opendir (argv[i]);
        if (!dir) {
            errors++;
            continue;
        }
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (entry->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[i], entry->d_name);
            if (stat (path, &st) || !S_ISREG (st.st_mode))
                continue;
            errors += s_replay_file (path) ? 1 : 0;
            files++;
        }
        closedir (dir);
    }
    printf ("fuzz_envelope: replayed %d files, %d errors\n", files, errors);
    return errors || files == 0 ? 1 : 0;
}

#endif
