//  log - one JSON line per event to stderr.
//
//  {"ts":"2026-11-28T22:40:01.123Z","level":"info","proc":"gateway",
//   "msg":"session 3fa1...: matched"}
//
//  The level and process name are the one piece of process-wide state
//  besides the signal flag: libwebsockets' log sink (lws_set_log_level)
//  takes a bare function pointer with no user argument, so the sink it
//  calls can only reach a process-wide logger. It is set once by log_init
//  in main, before any other module runs, and only read afterwards.

#ifndef MEGLE_LOG_H
#define MEGLE_LOG_H

#include "config.h"

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

//  A libwebsockets log sink: maps lws levels (LLL_ERR, LLL_WARN, ...) to
//  ours and strips the trailing newline. Pass to lws_set_log_level.
void log_lws_sink (int lws_level, const char *line);

#endif
