//  log - the JSON line logger: one event, one line, one write(2) to stderr.
//
//  A line is at most LOG_LINE_MAX bytes (PIPE_BUF on Linux), so writes from
//  several processes sharing one pipe never interleave. The message is
//  escaped for JSON and made valid UTF-8 (bad bytes become U+FFFD); if it
//  does not fit it is cut at a character boundary and ends in "...".
//  Structured events (log_event) add string fields after "msg"; a field
//  value that does not fit is cut the same way, and the line stays valid
//  JSON within the cap.

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

//  The documented exception to "no globals" (see log.h): written once by
//  log_init before anything else runs, read-only afterwards.
static const char *s_proc = "megle";
static int s_level = MEGLE_LOG_INFO;

void
log_init (const char *proc, int level)
{
    s_proc = proc ? proc : "megle";
    if (level < MEGLE_LOG_DEBUG)
        level = MEGLE_LOG_DEBUG;
    if (level > MEGLE_LOG_ERROR)
        level = MEGLE_LOG_ERROR;
    s_level = level;
}

int
log_enabled (int level)
{
    return level >= s_level;
}

static const char *
s_level_name (int level)
{
    switch (level) {
    case MEGLE_LOG_DEBUG:
        return "debug";
    case MEGLE_LOG_INFO:
        return "info";
    case MEGLE_LOG_WARN:
        return "warn";
    default:
        return "error";
    }
}

//  Length of the valid UTF-8 sequence at s (at most `avail` bytes), or 0 if
//  the bytes there are not one: overlong forms, surrogates and code points
//  past U+10FFFF are refused as RFC 3629 says.
static size_t
s_utf8_len (const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t len;
    unsigned int cp;
    if (c < 0x80)
        return 1;
    else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else
        return 0;
    if (len > avail)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

//  Append msg to line (used bytes *used, capacity cap) as the body of a
//  JSON string, keeping `reserve` bytes free at the end. Returns 0, or -1
//  if the message had to be cut.
static int
s_escape (char *line, size_t *used, size_t cap, size_t reserve, const char *msg)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *) msg;
    size_t n = *used;
    size_t left = strlen (msg);
    while (left > 0) {
        char esc[8];
        const char *out = esc;
        size_t out_len;
        size_t in_len = 1;
        if (*s == '"' || *s == '\\') {
            esc[0] = '\\';
            esc[1] = (char) *s;
            out_len = 2;
        } else if (*s < 0x20) {
            memcpy (esc, "\\u00", 4);
            esc[4] = hex[*s >> 4];
            esc[5] = hex[*s & 0x0f];
            out_len = 6;
        } else if ((in_len = s_utf8_len (s, left)) > 0) {
            out = (const char *) s;
            out_len = in_len;
        } else {
            in_len = 1;
            memcpy (esc, "\\ufffd", 6);
            out_len = 6;
        }
        if (n + out_len + reserve > cap) {
            *used = n;
            return -1;
        }
        memcpy (line + n, out, out_len);
        n += out_len;
        s += in_len;
        left -= in_len;
    }
    *used = n;
    return 0;
}

static void
s_write_all (const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write (STDERR_FILENO, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; //  nowhere left to report a failing stderr
        }
        buf += n;
        len -= (size_t) n;
    }
}

//  Append msg like s_escape; if it was cut, also append "..." (the caller
//  keeps room for it in `reserve`). Returns 0, or -1 if cut.
static int
s_escape_or_cut (char *line, size_t *used, size_t cap, size_t reserve,
                 const char *msg)
{
    if (s_escape (line, used, cap, reserve, msg) == 0)
        return 0;
    memcpy (line + *used, "...", 3);
    *used += 3;
    return -1;
}

//  A field key we accept: [a-z0-9_]{1,32}, not one of the line's own.
static int
s_key_ok (const char *key)
{
    static const char *const reserved[] = {"ts", "level", "proc", "event",
                                           "msg"};
    size_t len = 0;
    for (const char *c = key; *c; c++, len++)
        if (len >= 32
            || !((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
                 || *c == '_'))
            return 0;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (!strcmp (key, reserved[i]))
            return 0;
    return 1;
}

//  Build and write one line: text (or the event name) then " k=v" for each
//  pair goes into "msg", and each pair also becomes a top-level field.
//  Within LOG_LINE_MAX the message comes first, but it leaves the fields
//  at least half of what is left; whatever is cut ends in "...".
static void
s_line (int level, const char *event, const char *text, const char **pairs,
        size_t npairs)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32] = "1970-01-01T00:00:00";
    if (clock_gettime (CLOCK_REALTIME, &ts) == 0 && gmtime_r (&ts.tv_sec, &tm))
        strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    else
        ts.tv_nsec = 0;

    char line[LOG_LINE_MAX];
    size_t cap = sizeof line;
    int n = snprintf (
        line, cap, "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\",\"proc\":\"", stamp,
        (int) (ts.tv_nsec / 1000000), s_level_name (level));
    size_t used = (size_t) n;
    //  `end` is what must always fit after a cut string: `"...` + `"}\n`.
    const size_t end = 3 + 3;
    //  The process and event names are ours, but escape them too: it costs
    //  nothing and keeps the line valid whatever the caller passes.
    s_escape_or_cut (line, &used, cap, cap / 2, s_proc);
    memcpy (line + used, "\",\"event\":\"", 11);
    used += 11;
    s_escape_or_cut (line, &used, cap, cap / 2, event);
    memcpy (line + used, "\",\"msg\":\"", 9);
    used += 9;

    size_t fields = 0; //  what the fields need unescaped, with a "..."
    for (size_t i = 0; i < npairs; i++)
        fields += strlen (pairs[2 * i]) + strlen (pairs[2 * i + 1]) + 9;
    if (fields > (cap - used) / 2)
        fields = (cap - used) / 2;
    size_t reserve = end + fields;
    int cut = s_escape_or_cut (line, &used, cap, reserve, text);
    for (size_t i = 0; i < npairs && !cut; i++)
        cut = s_escape_or_cut (line, &used, cap, reserve, " ")
              || s_escape_or_cut (line, &used, cap, reserve, pairs[2 * i])
              || s_escape_or_cut (line, &used, cap, reserve, "=")
              || s_escape_or_cut (line, &used, cap, reserve, pairs[2 * i + 1]);
    line[used++] = '"';

    for (size_t i = 0; i < npairs; i++) {
        //  `,"key":"` then at least `..."` and the closing `}\n`.
        size_t key_len = strlen (pairs[2 * i]);
        if (used + key_len + 6 + 4 + 2 > cap)
            break;
        line[used++] = ',';
        line[used++] = '"';
        memcpy (line + used, pairs[2 * i], key_len); //  [a-z0-9_] only
        used += key_len;
        memcpy (line + used, "\":\"", 3);
        used += 3;
        s_escape_or_cut (line, &used, cap, 3 + 1 + 2, pairs[2 * i + 1]);
        line[used++] = '"';
    }
    memcpy (line + used, "}\n", 2);
    used += 2;
    s_write_all (line, used);
}

void
log_emit (int level, const char *fmt, ...)
{
    int saved_errno = errno; //  callers often log right before using errno
    char msg[LOG_LINE_MAX];
    va_list args;
    va_start (args, fmt);
    vsnprintf (msg, sizeof msg, fmt, args);
    va_end (args);
    s_line (level, "log", msg, NULL, 0);
    errno = saved_errno;
}

void
log_event_va (int level, const char *event, const char *text, va_list pairs)
{
    int saved_errno = errno;
    const char *kept[2 * LOG_FIELDS_MAX];
    size_t npairs = 0;
    if (!event)
        event = "log";
    for (;;) {
        const char *key = va_arg (pairs, const char *);
        if (!key)
            break;
        const char *value = va_arg (pairs, const char *);
        if (!value)
            break;
        int ok = npairs < LOG_FIELDS_MAX && s_key_ok (key);
        for (size_t i = 0; ok && i < npairs; i++)
            ok = strcmp (kept[2 * i], key) != 0;
        if (ok) {
            kept[2 * npairs] = key;
            kept[2 * npairs + 1] = value;
            npairs++;
        }
    }
    s_line (level, event, text ? text : event, kept, npairs);
    errno = saved_errno;
}

void
log_event (int level, const char *event, ...)
{
    va_list pairs;
    va_start (pairs, event);
    log_event_va (level, event, NULL, pairs);
    va_end (pairs);
}

void
log_event_text (int level, const char *event, const char *text, ...)
{
    va_list pairs;
    va_start (pairs, text);
    log_event_va (level, event, text, pairs);
    va_end (pairs);
}

void
log_lws_sink (int lws_level, const char *line)
{
    int level;
    switch (lws_level) {
    case 1: //  LLL_ERR
        level = MEGLE_LOG_ERROR;
        break;
    case 2: //  LLL_WARN
        level = MEGLE_LOG_WARN;
        break;
    case 4: //  LLL_NOTICE
    case 8: //  LLL_INFO
        level = MEGLE_LOG_INFO;
        break;
    default: //  LLL_DEBUG and the finer lws levels
        level = MEGLE_LOG_DEBUG;
        break;
    }
    if (!log_enabled (level) || !line)
        return;
    size_t len = strlen (line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len > LOG_LINE_MAX)
        len = LOG_LINE_MAX;
    log_emit (level, "lws: %.*s", (int) len, line);
}
