//  hist - a log-linear histogram of microsecond latencies, good to about
//  1.6 % (64 sub-buckets per power of two), for p50/p99/p999 without
//  keeping every sample. Fixed size, no allocation after hist_new.
#ifndef MEGLE_BENCH_HIST_H
#define MEGLE_BENCH_HIST_H

#include <stdint.h>

typedef struct _hist_t hist_t;

//  A new empty histogram, or NULL. Caller owns it.
hist_t *hist_new (void);

//  Destroy *self_p (NULL-safe); sets it to NULL.
void hist_destroy (hist_t **self_p);

//  Record one value (microseconds).
void hist_add (hist_t *self, uint64_t value);

//  Forget every value.
void hist_reset (hist_t *self);

//  How many values were recorded.
uint64_t hist_count (const hist_t *self);

//  The value at quantile q (0..1), 0 when empty. Reported as the middle of
//  the bucket the quantile falls into.
uint64_t hist_quantile (const hist_t *self, double q);

//  The largest value recorded (exact).
uint64_t hist_max (const hist_t *self);

//  The mean of the recorded values (exact).
double hist_mean (const hist_t *self);

#endif
