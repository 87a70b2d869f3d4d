//  calls - the Redis script call an inbound frame makes: which script
//  (scripts.h) and its ARGV, from the frame and the matcher's configured
//  TTLs, limits and clock. engine.c hands the result to the store or to
//  the current batch; the scripts' ARGV are listed in scripts.h and in
//  each lua/*.lua file.

#ifndef MEGLE_CALLS_H
#define MEGLE_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "proto/frame.h"

#define CALLS_ARGS_MAX 10 //  arguments of the longest call (find: 9)

//  The configuration's values as the scripts take them (decimal strings,
//  formatted once) and the wall clock as last formatted: the ops of one
//  drain share it. Plain data, no allocation: embed it.
typedef struct {
    char session_ttl[16], match_ttl[16], wait[16], block[16];
    char window[16], threshold[16], ban[16];
    uint64_t now_ms;
    char now[24];
} calls_t;

//  Format config's TTLs and limits into self.
void calls_init (calls_t *self, const config_t *config);

//  The call for frame f at wall-clock time now_ms: fills argv and lens
//  (room for CALLS_ARGS_MAX) and *argc. The arguments point into f, self
//  and before (a BYE's dead_before_ms, "" = unconditional), so they are
//  valid while those are and self is not used for another call. Returns
//  the script (script_id_t), or -1 for a kind that makes no call.
int calls_build (calls_t *self, const frame_t *f, const char *before,
                 uint64_t now_ms, const char **argv, size_t *lens, int *argc);

#endif
