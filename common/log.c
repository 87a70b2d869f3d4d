//  log - the JSON line logger: one event, one line, one write(2) to stderr.
//
//  A line is at most LOG_LINE_MAX bytes (PIPE_BUF on Linux), so writes from
//  several processes sharing one pipe never interleave. The message is
//  escaped for JSON and made valid UTF-8 (bad bytes become U+FFFD); if it
//  does not fit it is cut at a character boundary and ends in "...".

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

void
log_emit (int level, const char *fmt, ...)
{
    int saved_errno = errno; //  callers often log right before using errno
    char msg[LOG_LINE_MAX];
    va_list args;
    va_start (args, fmt);
    vsnprintf (msg, sizeof msg, fmt, args);
    va_end (args);

    struct timespec ts;
    struct tm tm;
    char stamp[32] = "1970-01-01T00:00:00";
    if (clock_gettime (CLOCK_REALTIME, &ts) == 0 && gmtime_r (&ts.tv_sec, &tm))
        strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    else
        ts.tv_nsec = 0;

    char line[LOG_LINE_MAX];
    int n = snprintf (
        line, sizeof line, "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\",\"proc\":\"",
        stamp, (int) (ts.tv_nsec / 1000000), s_level_name (level));
    size_t used = (size_t) n;
    //  The process name is ours, but escape it too: it costs nothing and
    //  keeps the line valid whatever main passes.
    static const char tail[] = "\"}\n";
    static const char cut[] = "...";
    size_t reserve = sizeof tail - 1 + sizeof cut - 1;
    s_escape (line, &used, sizeof line, reserve + 64, s_proc);
    memcpy (line + used, "\",\"msg\":\"", 9);
    used += 9;
    if (s_escape (line, &used, sizeof line, reserve, msg)) {
        memcpy (line + used, cut, sizeof cut - 1);
        used += sizeof cut - 1;
    }
    memcpy (line + used, tail, sizeof tail - 1);
    used += sizeof tail - 1;
    s_write_all (line, used);
    errno = saved_errno;
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
