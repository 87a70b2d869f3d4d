//  log - one JSON line per event to stderr.
//
//  {"ts":"2026-11-28T22:40:01.123Z","level":"info","proc":"gateway",
//   "event":"log","msg":"session 3fa1...: matched"}
//  {"ts":"2026-11-28T22:40:02.456Z","level":"info","proc":"matcher",
//   "event":"match_made","msg":"match_made match=9c2e... mode=video",
//   "match":"9c2e...","mode":"video"}
//
//  Every line has an "event": "log" for printf-style lines, a name for
//  structured ones, whose string fields follow "msg" as top-level keys.
//
//  The level and process name are the one piece of process-wide state
//  besides the signal flag: libwebsockets' log sink (lws_set_log_level)
//  takes a bare function pointer with no user argument, so the sink it
//  calls can only reach a process-wide logger. It is set once by log_init
//  in main, before any other module runs, and only read afterwards.

#ifndef MEGLE_LOG_H
#define MEGLE_LOG_H

#include "config.h"

#include <stdarg.h>

//  Set the process name (a static string) and the minimum level.
void log_init (const char *proc, int level);

//  True if messages at this level are emitted.
int log_enabled (int level);

//  Emit one line (printf-style message, escaped into the JSON "msg").
void log_emit (int level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

//  The level check comes before the arguments are evaluated.
#define log_at(level, ...)                                                     \
    do {                                                                       \
        if (log_enabled (level))                                               \
            log_emit (level, __VA_ARGS__);                                     \
    } while (0)
#define log_debug(...) log_at (MEGLE_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_at (MEGLE_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_at (MEGLE_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at (MEGLE_LOG_ERROR, __VA_ARGS__)

//  Emit one structured event: after `event` come string key/value pairs,
//  ended by NULL (a NULL value ends the list too). Keys must match
//  [a-z0-9_]{1,32} and not be ts, level, proc, event or msg, nor repeat an
//  earlier key; other pairs are skipped. At most LOG_FIELDS_MAX pairs are
//  used. The strings are borrowed for the call only: they are escaped and
//  copied into the line, never kept. "msg" reads "event k1=v1 k2=v2".
#define LOG_FIELDS_MAX 16
void log_event (int level, const char *event, ...) __attribute__ ((sentinel));

//  The same with a human `text` instead of the event name at the head of
//  "msg" ("text k1=v1 ..."), for lines people or tests find by their words.
void log_event_text (int level, const char *event, const char *text, ...)
    __attribute__ ((sentinel));

//  log_event_text with the pairs as a va_list (text may be NULL).
void log_event_va (int level, const char *event, const char *text,
                   va_list pairs);

//  The level check comes before the arguments are evaluated:
//  log_ev_info ("session_opened", "session", session_id (s), NULL);
#define log_ev_at(level, ...)                                                  \
    do {                                                                       \
        if (log_enabled (level))                                               \
            log_event (level, __VA_ARGS__);                                    \
    } while (0)
#define log_ev_debug(...) log_ev_at (MEGLE_LOG_DEBUG, __VA_ARGS__)
#define log_ev_info(...)  log_ev_at (MEGLE_LOG_INFO, __VA_ARGS__)
#define log_ev_warn(...)  log_ev_at (MEGLE_LOG_WARN, __VA_ARGS__)
#define log_ev_error(...) log_ev_at (MEGLE_LOG_ERROR, __VA_ARGS__)
#define log_ev_text(level, ...)                                                \
    do {                                                                       \
        if (log_enabled (level))                                               \
            log_event_text (level, __VA_ARGS__);                               \
    } while (0)

//  A libwebsockets log sink: maps lws levels (LLL_ERR, LLL_WARN, ...) to
//  ours and strips the trailing newline. Pass to lws_set_log_level.
void log_lws_sink (int lws_level, const char *line);

#endif
