//  metrics - Prometheus text exposition (format 0.0.4) for the gateway and
//  the matcher: histograms with fixed buckets, and the writers of
//  counters, gauges and histograms, so that both binaries print the same
//  well-formed text.
//
//  Names follow Prometheus conventions: a `megle_` prefix, base units
//  (seconds), `_total` for counters, no per-user labels. A family is
//  written as "# HELP", "# TYPE", then its samples; write every sample of
//  a family right after its header (metrics_header + metrics_sample), or
//  use the one-call writers for a family of one sample.

#ifndef MEGLE_METRICS_H
#define MEGLE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_BUCKETS_MAX 24 //  upper bounds per histogram, without +Inf

//  A histogram: a plain value (no allocation), owned by whoever embeds it;
//  initialise it with metrics_hist_init before use.
typedef struct {
    size_t buckets;                          //  upper bounds in use
    double bound[METRICS_BUCKETS_MAX];       //  ascending, in base units
    uint64_t count[METRICS_BUCKETS_MAX + 1]; //  per bucket, not cumulative;
                                             //  the last is (bound, +Inf)
    uint64_t total;                          //  observations
    double sum;                              //  of the observed values
} metrics_hist_t;

//  Ready-made bucket bounds, in seconds.
//  Time to match: 10 ms .. 5 min.
extern const double metrics_buckets_match[];
extern const size_t metrics_buckets_match_n;
//  Latencies of a relay or a Redis call: 100 us .. 2.5 s.
extern const double metrics_buckets_latency[];
extern const size_t metrics_buckets_latency_n;

//  Zero the histogram and set its bounds (n <= METRICS_BUCKETS_MAX,
//  ascending; extra bounds are ignored). Returns 0, or -1 if the bounds are
//  not ascending (the histogram then has no buckets but +Inf).
int metrics_hist_init (metrics_hist_t *self, const double *bounds, size_t n);

//  Record one observation (a negative or NaN value counts as 0).
void metrics_hist_observe (metrics_hist_t *self, double value);

//  Write "# HELP name help" and "# TYPE name type" (type: "counter",
//  "gauge", "histogram"). help may hold any text: '\\' and newlines are
//  escaped.
void metrics_header (FILE *out, const char *name, const char *type,
                     const char *help);

//  Write one sample "name{labels} value". labels is NULL or the text
//  inside the braces, already formatted (metrics_label makes one pair).
void metrics_sample (FILE *out, const char *name, const char *labels,
                     double value);

//  The same for an integer value (printed exactly).
void metrics_sample_u64 (FILE *out, const char *name, const char *labels,
                         uint64_t value);

//  Format one label pair key="value" into buf (value escaped: \\, \", \n).
//  Returns buf; the text is truncated to buf_size - 1 bytes if too long.
char *metrics_label (char *buf, size_t buf_size, const char *key,
                     const char *value);

//  A whole counter or gauge family of one unlabelled sample.
void metrics_counter (FILE *out, const char *name, const char *help,
                      uint64_t value);
void metrics_gauge (FILE *out, const char *name, const char *help,
                    double value);

//  A whole histogram family: header, name_bucket{le=...} (cumulative, with
//  +Inf), name_sum and name_count.
void metrics_histogram (FILE *out, const char *name, const char *help,
                        const metrics_hist_t *hist);

#endif
