//  show - how megle-tap prints a frame: one aligned human-readable line
//  (optionally coloured) or one JSON object per line.
//
//  Human: time (local HH:MM:SS.mmm), direction ("gw→m" = gateway to
//  matcher, "m→gw" = matcher to gateway), kind, gateway, session and peer
//  (8-digit short ids unless wide), the kind's fields and a payload
//  preview. JSON: {"t": microseconds, "dir": "in"|"out", ...} followed by
//  the fields frame_to_json writes. A frame that did not decode is shown
//  as corrupt with the decoder's reason and its bytes in hex.
//
//  Payload bytes (and a corrupt frame's hex) are cut to payload_max bytes;
//  with redact nothing of them is printed, only their length.

#ifndef MEGLE_SHOW_H
#define MEGLE_SHOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/frame.h"

typedef struct {
    bool json;          //  one JSON object per line
    bool color;         //  ANSI colours (human format only)
    bool wide;          //  full 32-digit ids (human format only)
    bool redact;        //  no payload bytes at all
    size_t payload_max; //  payload bytes shown; SIZE_MAX = all
} show_opts_t;

//  Print one line for a frame seen travelling in dir (RECORD_IN or
//  RECORD_OUT) at time_us (wall clock, microseconds). frame is the decoded
//  frame, or NULL if data/size did not decode (why = the reason). Returns
//  0, or -1 if writing to out failed.
int show_frame (FILE *out, const show_opts_t *opts, int dir, uint64_t time_us,
                const frame_t *frame, const uint8_t *data, size_t size,
                const char *why);

#endif
