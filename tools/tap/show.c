//  show - how megle-tap prints a frame (see show.h).

#include "show.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record.h"

#define C_RESET  "\033[0m"
#define C_DIM    "\033[2m"
#define C_BOLD   "\033[1m"
#define C_RED    "\033[31m"
#define C_GREEN  "\033[32m"
#define C_YELLOW "\033[33m"
#define C_BLUE   "\033[34m"
#define C_CYAN   "\033[36m"

#define SHORT_ID 8

static const char *
s_c (const show_opts_t *opts, const char *code)
{
    return opts->color ? code : "";
}

static void
s_clock (char *buf, size_t size, uint64_t time_us)
{
    time_t secs = (time_t) (time_us / 1000000u);
    struct tm tm;
    if (!localtime_r (&secs, &tm))
        memset (&tm, 0, sizeof tm);
    snprintf (buf, size, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min,
              tm.tm_sec, (unsigned) (time_us / 1000u % 1000u));
}

//  An id as shown: "-" if empty; a 32-digit session or match id cut to
//  its first 8 digits unless wide; anything else (a matcher id) whole.
static void
s_id (const show_opts_t *opts, char *buf, size_t size, const char *id)
{
    if (!*id)
        snprintf (buf, size, "-");
    else if (opts->wide || strlen (id) != 32)
        snprintf (buf, size, "%s", id);
    else
        snprintf (buf, size, "%.*s", SHORT_ID, id);
}

//  Payload bytes as a quoted, escaped preview.
static void
s_preview (FILE *out, const uint8_t *data, size_t len, size_t max)
{
    size_t shown = len < max ? len : max;
    fputc ('"', out);
    for (size_t i = 0; i < shown; i++) {
        uint8_t c = data[i];
        if (c == '"' || c == '\\')
            fprintf (out, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            fputc (c, out);
        else
            fprintf (out, "\\x%02x", c);
    }
    fputc ('"', out);
    if (shown < len)
        fputs ("…", out);
}

static void
s_hex (FILE *out, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf (out, "%02x", data[i]);
}

//  A JSON string literal of text (ASCII control and non-ASCII escaped).
static void
s_json_string (FILE *out, const char *text)
{
    fputc ('"', out);
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf (out, "\\%c", *p);
        else if (*p >= 0x20 && *p < 0x7f)
            fputc (*p, out);
        else
            fprintf (out, "\\u%04x", *p);
    }
    fputc ('"', out);
}

static int
s_show_json (FILE *out, const show_opts_t *opts, int dir, uint64_t time_us,
             const frame_t *frame, const uint8_t *data, size_t size,
             const char *why)
{
    fprintf (out, "{\"t\":%" PRIu64 ",\"dir\":\"%s\",", time_us,
             dir == RECORD_IN ? "in" : "out");
    if (!frame) {
        fputs ("\"corrupt\":true,\"error\":", out);
        s_json_string (out, why ? why : "");
        fprintf (out, ",\"len\":%zu", size);
        if (opts->redact)
            fputs (",\"redacted\":true", out);
        else {
            size_t shown = size < opts->payload_max ? size : opts->payload_max;
            if (shown < size)
                fputs (",\"hex_truncated\":true", out);
            fputs (",\"hex\":\"", out);
            s_hex (out, data, shown);
            fputc ('"', out);
        }
        fputs ("}\n", out);
        return ferror (out) ? -1 : 0;
    }
    size_t payload_max = opts->redact ? 0 : opts->payload_max;
    size_t shown =
        frame->payload_len < payload_max ? frame->payload_len : payload_max;
    //  frame_to_json escapes a byte into at most six characters.
    size_t cap = 1024 + 6 * shown;
    char *json = (char *) malloc (cap);
    if (!json)
        return -1;
    size_t len = frame_to_json (frame, json, cap, payload_max);
    //  Drop its opening brace (ours is out already); with redact, say so
    //  before its closing one.
    if (opts->redact && frame->payload_len && len >= 2) {
        json[len - 1] = '\0';
        fprintf (out, "%s,\"redacted\":true}\n", json + 1);
    } else
        fprintf (out, "%s\n", len ? json + 1 : "}");
    free (json);
    return ferror (out) ? -1 : 0;
}

//  The kind-specific fields of the human format.
static void
s_fields (FILE *out, const show_opts_t *opts, const frame_t *frame)
{
    char id[FRAME_ID_MAX + 1];
    if (*frame->match) {
        s_id (opts, id, sizeof id, frame->match);
        fprintf (out, " match=%s", id);
    }
    if (frame->kind == FRAME_MATCHED)
        fputs (frame->flags & FRAME_F_INITIATOR ? " initiator" : "", out);
    else if (frame->kind == FRAME_HEARTBEAT)
        fprintf (out, " sessions=%" PRIu32, frame->flags);
    else if (frame->kind == FRAME_PULSE)
        fprintf (out, " online=%" PRIu32, frame->flags);
    else if (frame->kind == FRAME_TYPING || frame->kind == FRAME_TYPING_OUT)
        fputs (frame->flags & FRAME_F_TYPING ? " typing=true" : " typing=false",
               out);
    else if (frame->flags)
        fprintf (out, " flags=%" PRIu32, frame->flags);
    if (*frame->type)
        fprintf (out, " type=%s%s%s", s_c (opts, C_BOLD), frame->type,
                 s_c (opts, C_RESET));
    if (frame->payload_len) {
        if (opts->redact)
            fprintf (out, " [%zu bytes redacted]", frame->payload_len);
        else {
            fprintf (out, " %zuB ", frame->payload_len);
            s_preview (out, frame->payload, frame->payload_len,
                       opts->payload_max);
        }
    }
}

int
show_frame (FILE *out, const show_opts_t *opts, int dir, uint64_t time_us,
            const frame_t *frame, const uint8_t *data, size_t size,
            const char *why)
{
    assert (out);
    assert (opts);
    if (opts->json)
        return s_show_json (out, opts, dir, time_us, frame, data, size, why);
    char clock[32];
    s_clock (clock, sizeof clock, time_us);
    fprintf (out, "%s%s%s %s%s%s ", s_c (opts, C_DIM), clock,
             s_c (opts, C_RESET),
             s_c (opts, dir == RECORD_IN ? C_CYAN : C_GREEN),
             dir == RECORD_IN ? "gw→m" : "m→gw", s_c (opts, C_RESET));
    if (!frame) {
        fprintf (out, "%s%-12s%s %s (%zu bytes)", s_c (opts, C_RED C_BOLD),
                 "CORRUPT", s_c (opts, C_RESET), why ? why : "", size);
        if (opts->redact)
            fputs (" [bytes redacted]", out);
        else {
            size_t shown = size < opts->payload_max ? size : opts->payload_max;
            fputs (" hex ", out);
            s_hex (out, data, shown);
            if (shown < size)
                fputs ("…", out);
        }
        fputc ('\n', out);
        return ferror (out) ? -1 : 0;
    }
    const char *kind = frame_kind_name (frame->kind);
    const char *color = frame->kind == FRAME_ERROR ? C_RED : C_BOLD;
    char session[FRAME_ID_MAX + 1], peer[FRAME_ID_MAX + 1];
    s_id (opts, session, sizeof session, frame->session);
    s_id (opts, peer, sizeof peer, frame->peer);
    //  The fields go to a buffer first: without any, the peer column is
    //  not padded (no trailing blanks).
    char *fields = NULL;
    size_t fields_len = 0;
    FILE *buf = open_memstream (&fields, &fields_len);
    if (!buf)
        return -1;
    s_fields (buf, opts, frame);
    fclose (buf);
    int id_width = opts->wide ? 32 : SHORT_ID;
    fprintf (out, "%s%-12s%s %-8s %s%-*s%s %s%-*s%s%s\n", s_c (opts, color),
             kind ? kind : "?", s_c (opts, C_RESET), frame->gateway,
             s_c (opts, C_YELLOW), id_width, session, s_c (opts, C_RESET),
             s_c (opts, C_BLUE), fields_len ? id_width : 0, peer,
             s_c (opts, C_RESET), fields ? fields : "");
    free (fields);
    return ferror (out) ? -1 : 0;
}
