//  stats - megle-tap --stats: frames and bytes per direction and kind,
//  printed and reset once a second, like top.

#ifndef MEGLE_STATS_H
#define MEGLE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct _stats_t stats_t;

//  Returns NULL if out of memory.
stats_t *stats_new (void);

//  NULL-safe; nulls *self_p.
void stats_destroy (stats_t **self_p);

//  Count one frame of kind (frame_kind_t, 0 = corrupt) travelling in dir
//  (RECORD_IN or RECORD_OUT), size bytes long.
void stats_add (stats_t *self, int dir, int kind, size_t size);

//  Print the rates over the last `seconds` and reset. On a terminal, clear
//  the screen and draw a table; otherwise print plain lines, each starting
//  with the time: "<HH:MM:SS> <dir> <kind> <n> frames/s <n> bytes/s", and
//  a last "<HH:MM:SS> total ..." line. Returns -1 if writing failed.
int stats_print (stats_t *self, FILE *out, bool tty, double seconds);

#endif
