//  stats - megle-tap --stats (see stats.h).

#include "stats.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/frame.h"
#include "record.h"

#define KINDS 256

struct _stats_t {
    uint64_t frames[2][KINDS]; //  [dir - 1][kind]
    uint64_t bytes[2][KINDS];
};

stats_t *
stats_new (void)
{
    return (stats_t *) calloc (1, sizeof (stats_t));
}

void
stats_destroy (stats_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

void
stats_add (stats_t *self, int dir, int kind, size_t size)
{
    assert (self);
    int d = dir == RECORD_IN ? 0 : 1;
    int k = kind >= 0 && kind < KINDS ? kind : 0;
    self->frames[d][k]++;
    self->bytes[d][k] += size;
}

static const char *
s_kind (int kind)
{
    const char *name = kind ? frame_kind_name (kind) : NULL;
    return name ? name : "corrupt";
}

int
stats_print (stats_t *self, FILE *out, bool tty, double seconds)
{
    assert (self);
    if (seconds <= 0)
        seconds = 1;
    time_t now = time (NULL);
    struct tm tm;
    char clock[16] = "";
    if (localtime_r (&now, &tm))
        strftime (clock, sizeof clock, "%H:%M:%S", &tm);
    if (tty)
        fprintf (out,
                 "\033[H\033[2Jmegle-tap --stats  %s  (per second; "
                 "Ctrl-C quits)\n\n%-4s %-14s %12s %14s\n",
                 clock, "DIR", "KIND", "FRAMES/S", "BYTES/S");
    double total_frames = 0, total_bytes = 0;
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < KINDS; k++) {
            if (!self->frames[d][k])
                continue;
            double f = (double) self->frames[d][k] / seconds;
            double b = (double) self->bytes[d][k] / seconds;
            total_frames += f;
            total_bytes += b;
            const char *dir = d == 0 ? "in" : "out";
            if (tty)
                fprintf (out, "%-4s %-14s %12.1f %14.1f\n", dir, s_kind (k), f,
                         b);
            else
                fprintf (out, "%s %s %s %.1f frames/s %.1f bytes/s\n", clock,
                         dir, s_kind (k), f, b);
        }
    if (tty)
        fprintf (out, "%-4s %-14s %12.1f %14.1f\n", "", "total", total_frames,
                 total_bytes);
    else
        fprintf (out, "%s total %.1f frames/s %.1f bytes/s\n", clock,
                 total_frames, total_bytes);
    memset (self, 0, sizeof *self);
    fflush (out);
    return ferror (out) ? -1 : 0;
}
