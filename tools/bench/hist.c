//  hist - log-linear latency histogram (see hist.h).
//
//  Values below 64 have a bucket each. Above, each power of two
//  [2^e, 2^(e+1)) is split into 64 equal sub-buckets: bucket index
//  (e - 5) * 64 + (v >> (e - 6)) - 64, relative width at most 1/64.

#include "hist.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define HIST_SUB     64
#define HIST_SUBBITS 6
#define HIST_EXP_MAX 63
#define HIST_BUCKETS ((HIST_EXP_MAX - HIST_SUBBITS + 2) * HIST_SUB)

struct _hist_t {
    uint64_t count;
    uint64_t max;
    double sum;
    uint64_t buckets[HIST_BUCKETS];
};

hist_t *
hist_new (void)
{
    return calloc (1, sizeof (hist_t));
}

void
hist_destroy (hist_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

static int
s_index (uint64_t v)
{
    if (v < HIST_SUB)
        return (int) v;
    int e = 63 - __builtin_clzll (v);
    return (e - HIST_SUBBITS + 1) * HIST_SUB
           + (int) ((v >> (e - HIST_SUBBITS)) - HIST_SUB);
}

//  The lowest value and the width of bucket i.
static void
s_bounds (int i, uint64_t *low, uint64_t *width)
{
    if (i < HIST_SUB) {
        *low = (uint64_t) i;
        *width = 1;
        return;
    }
    int e = i / HIST_SUB + HIST_SUBBITS - 1;
    uint64_t sub = (uint64_t) (i % HIST_SUB) + HIST_SUB;
    *low = sub << (e - HIST_SUBBITS);
    *width = (uint64_t) 1 << (e - HIST_SUBBITS);
}

void
hist_add (hist_t *self, uint64_t value)
{
    assert (self);
    self->buckets[s_index (value)]++;
    self->count++;
    self->sum += (double) value;
    if (value > self->max)
        self->max = value;
}

void
hist_reset (hist_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
}

uint64_t
hist_count (const hist_t *self)
{
    assert (self);
    return self->count;
}

uint64_t
hist_quantile (const hist_t *self, double q)
{
    assert (self);
    if (self->count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t) (q * (double) self->count + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += self->buckets[i];
        if (seen >= rank) {
            uint64_t low, width;
            s_bounds (i, &low, &width);
            uint64_t mid = low + width / 2;
            return mid > self->max ? self->max : mid;
        }
    }
    return self->max;
}

uint64_t
hist_max (const hist_t *self)
{
    assert (self);
    return self->max;
}

double
hist_mean (const hist_t *self)
{
    assert (self);
    return self->count ? self->sum / (double) self->count : 0.0;
}
