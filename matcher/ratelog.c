//  ratelog - rate-limited warnings (see ratelog.h).

#include "ratelog.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/clock.h"
#include "common/log.h"

//  True if a line is due now; else counts one more suppressed.
static int
s_due (ratelog_t *self, uint64_t now)
{
    if (self->logged && now - self->last_ms < 1000) {
        self->suppressed++;
        return 0;
    }
    return 1;
}

static void
s_logged (ratelog_t *self, uint64_t now)
{
    self->logged = 1;
    self->last_ms = now;
    self->suppressed = 0;
}

void
ratelog_warn (ratelog_t *self, const char *format, ...)
{
    assert (self);
    uint64_t now = clock_mono_ms ();
    if (!s_due (self, now))
        return;
    char text[256];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    if (self->suppressed)
        log_warn ("%s (%" PRIu64 " more like this suppressed)", text,
                  self->suppressed);
    else
        log_warn ("%s", text);
    s_logged (self, now);
}

void
ratelog_event (ratelog_t *self, const char *event, const char *text, ...)
{
    assert (self);
    uint64_t now = clock_mono_ms ();
    if (!s_due (self, now))
        return;
    char line[512];
    if (self->suppressed)
        snprintf (line, sizeof line,
                  "%s (%" PRIu64 " more like this suppressed)", text,
                  self->suppressed);
    else
        snprintf (line, sizeof line, "%s", text);
    va_list pairs;
    va_start (pairs, text);
    log_event_va (MEGLE_LOG_WARN, event, line, pairs);
    va_end (pairs);
    s_logged (self, now);
}
