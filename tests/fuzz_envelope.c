//  fuzz_envelope - libFuzzer target for envelope_parse and the builders.
//
//  Any bytes must parse or be refused with a known code; the validating
//  skipper must accept exactly what json_text_prescan and cJSON accept
//  together (the parser it replaced). When they parse,
//  the data and payload spans must lie inside the input and be exactly the
//  values cJSON picked (same first-of-duplicates), and the relayed signal
//  built from the payload must be JSON again; interests must come out
//  normalised and round-trip through match_found; a chat text must be
//  1..FUZZ_CHAT_MAX bytes (small, so that too_long is reached) and
//  round-trip through the relayed chat. abort() on any violation.
//
//  Built with -DMEGLE_LIBFUZZER it is a libFuzzer target; linked with
//  fuzz_replay.c instead, it replays every file (or every file in each
//  directory) named on argv, so the corpus is a ctest (fuzz.envelope.replay).

#include "envelope.h"
#include "json_text.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHAT_MAX 64

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

//  Normalised interests: 1..32 bytes, no control characters, no upper
//  case ASCII, no blank at either end or twice in a row, no repeats, at
//  most 10; match_found carries them as a JSON array of the same strings.
static void
s_check_find (const envelope_t *env)
{
    s_check (env->interest_count <= ENVELOPE_INTERESTS_MAX, "<= 10 interests");
    for (size_t i = 0; i < env->interest_count; i++) {
        const char *interest = env->interests[i];
        size_t n = strlen (interest);
        s_check (n >= 1 && n <= ENVELOPE_INTEREST_MAX, "interest length");
        s_check (interest[0] != ' ' && interest[n - 1] != ' '
                     && !strstr (interest, "  "),
                 "interest trimmed and collapsed");
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char) interest[k];
            s_check (c >= 0x20 && c != 0x7f && !(c >= 'A' && c <= 'Z'),
                     "interest characters");
        }
        for (size_t j = 0; j < i; j++)
            s_check (strcmp (interest, env->interests[j]) != 0,
                     "no repeated interest");
    }
    char joined[ENVELOPE_INTERESTS_TEXT];
    size_t joined_len = envelope_interests_join (env, joined, sizeof joined);
    size_t len = 0;
    uint8_t *out =
        envelope_match_found (0, "p", true, "m", envelope_mode_name (env->mode),
                              (const uint8_t *) joined, joined_len, &len);
    s_check (out != NULL, "envelope_match_found");
    cJSON *json = cJSON_ParseWithLength ((char *) out, len);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive (
        cJSON_GetObjectItemCaseSensitive (json, "data"), "interests");
    s_check (cJSON_IsArray (list)
                 && (size_t) cJSON_GetArraySize (list) == env->interest_count,
             "match_found interests array");
    for (size_t i = 0; i < env->interest_count; i++) {
        const cJSON *item = cJSON_GetArrayItem (list, (int) i);
        s_check (cJSON_IsString (item)
                     && strcmp (item->valuestring, env->interests[i]) == 0,
                 "match_found interest round-trips");
    }
    cJSON_Delete (json);
    free (out);
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
        s_check (envelope_parse ((char *) out + 16, len, FUZZ_CHAT_MAX, &again,
                                 &code, NULL, 0)
                         == -1
                     && code && strcmp (code, "bad_field") == 0,
                 "relayed signal re-parses to bad_field");
        free (out);
    } else
        s_check (env->payload == NULL && env->payload_len == 0,
                 "no payload outside signal");
    if (env->event == ENVELOPE_FIND_MATCH)
        s_check_find (env);
    else
        s_check (env->interest_count == 0, "interests only in find_match");
    if (env->event == ENVELOPE_CHAT) {
        s_check (env->text && env->text_len >= 1
                     && env->text_len <= FUZZ_CHAT_MAX
                     && strlen (env->text) == env->text_len,
                 "chat text: 1..max bytes, no NUL");
        const cJSON *chat = cJSON_GetObjectItemCaseSensitive (data, "text");
        s_check (cJSON_IsString (chat)
                     && strcmp (chat->valuestring, env->text) == 0,
                 "chat text is cJSON's");
        size_t len = 0;
        uint8_t *out =
            envelope_chat (0, "0123456789abcdef0123456789abcdef",
                           (const uint8_t *) env->text, env->text_len, &len);
        s_check (out != NULL, "envelope_chat");
        cJSON *json = cJSON_ParseWithLength ((char *) out, len);
        const cJSON *back = cJSON_GetObjectItemCaseSensitive (
            cJSON_GetObjectItemCaseSensitive (json, "data"), "text");
        s_check (cJSON_IsString (back)
                     && strcmp (back->valuestring, env->text) == 0,
                 "relayed chat text round-trips");
        cJSON_Delete (json);
        free (out);
    } else
        s_check (env->text == NULL, "text only in chat");
    cJSON_Delete (root);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;

    //  The skipper accepts exactly what the earlier parser accepted: the
    //  strict pre-scan, then cJSON with nothing after the value.
    const char *why = NULL;
    bool skipper = json_text_validate (data, size, &why) == 0;
    s_check (skipper || why, "skipper gives a reason");
    bool oracle = size > 0 && json_text_prescan (data, size, &why) == 0;
    if (oracle) {
        const char *end = NULL;
        cJSON *value = cJSON_ParseWithLengthOpts (text, size, &end, 0);
        oracle = value && end && end >= text && end <= text + size
                 && json_text_skip_ws (end, text + size) == text + size;
        cJSON_Delete (value);
    }
    s_check (skipper == oracle, "json_text_validate agrees with cJSON");

    envelope_t env;
    const char *code = NULL;
    char msg[128];
    msg[0] = '\0';
    if (envelope_parse (text, size, FUZZ_CHAT_MAX, &env, &code, msg, sizeof msg)
        == 0) {
        s_check_parsed (text, size, &env);
        envelope_clear (&env);
    } else {
        s_check (code
                     && (strcmp (code, "bad_json") == 0
                         || strcmp (code, "bad_envelope") == 0
                         || strcmp (code, "unknown_event") == 0
                         || strcmp (code, "bad_field") == 0
                         || strcmp (code, "too_long") == 0),
                 "known error code");
        s_check (msg[0] != '\0', "error message");
        s_check (env.text == NULL, "nothing kept after a refusal");
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
    s_check (envelope_parse ((char *) out, len, FUZZ_CHAT_MAX, &again, &code,
                             NULL, 0)
                     == -1
                 && strcmp (code, "unknown_event") == 0,
             "built error re-parses to unknown_event");
    free (out);
    free (copy);
    return 0;
}
