//  ratelog - a warning that may repeat fast (a flood of bad frames, a full
//  socket) is logged at most once a second, with a count of the ones
//  suppressed in between.

#ifndef MEGLE_RATELOG_H
#define MEGLE_RATELOG_H

#include <stdint.h>

//  One per kind of warning; zero-initialise it (a plain value, owned by
//  whoever embeds it).
typedef struct {
    uint64_t last_ms;    //  monotonic time of the last line
    uint64_t suppressed; //  calls since then that logged nothing
    int logged;          //  a line was ever logged
} ratelog_t;

//  Log a warning (printf-style) unless one was logged less than a second
//  ago; then only count it. The next line says how many were suppressed.
void ratelog_warn (ratelog_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  The same as a structured warning (log_event_text): `text` heads "msg",
//  then come the NULL-terminated key/value pairs, borrowed for the call.
void ratelog_event (ratelog_t *self, const char *event, const char *text, ...)
    __attribute__ ((sentinel));

#endif
