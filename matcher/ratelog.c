//  ratelog - rate-limited warnings (see ratelog.h).

#include "ratelog.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/clock.h"
#include "common/log.h"

void
ratelog_warn (ratelog_t *self, const char *format, ...)
{
    assert (self);
    uint64_t now = clock_mono_ms ();
    if (self->logged && now - self->last_ms < 1000) {
        self->suppressed++;
        return;
    }
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
    self->logged = 1;
    self->last_ms = now;
    self->suppressed = 0;
}
