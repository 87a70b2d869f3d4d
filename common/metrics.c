//  metrics - Prometheus text exposition helpers (see metrics.h).

#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

const double metrics_buckets_match[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,  2.5,
                                        5,    10,   30,  60,   120, 300};
const size_t metrics_buckets_match_n =
    sizeof metrics_buckets_match / sizeof metrics_buckets_match[0];

const double metrics_buckets_latency[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
const size_t metrics_buckets_latency_n =
    sizeof metrics_buckets_latency / sizeof metrics_buckets_latency[0];

int
metrics_hist_init (metrics_hist_t *self, const double *bounds, size_t n)
{
    memset (self, 0, sizeof *self);
    if (n > METRICS_BUCKETS_MAX)
        n = METRICS_BUCKETS_MAX;
    for (size_t i = 0; i < n; i++)
        if (!isfinite (bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return -1;
    memcpy (self->bound, bounds, n * sizeof bounds[0]);
    self->buckets = n;
    return 0;
}

void
metrics_hist_observe (metrics_hist_t *self, double value)
{
    if (!(value > 0)) //  also NaN
        value = 0;
    size_t i = 0;
    while (i < self->buckets && value > self->bound[i])
        i++;
    self->count[i]++;
    self->total++;
    self->sum += value;
}

//  Write text with '\\' and newlines escaped (and, in a label value, '"').
static void
s_escape (FILE *out, const char *text, int quote)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            fputs ("\\\\", out);
        else if (*p == '\n')
            fputs ("\\n", out);
        else if (quote && *p == '"')
            fputs ("\\\"", out);
        else
            fputc (*p, out);
    }
}

void
metrics_header (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s ", name);
    s_escape (out, help, 0);
    fprintf (out, "\n# TYPE %s %s\n", name, type);
}

//  A float as Prometheus reads it: +Inf, -Inf, NaN, or the shortest
//  decimal that keeps 15 significant digits.
static void
s_value (FILE *out, double value)
{
    if (isnan (value))
        fputs ("NaN", out);
    else if (isinf (value))
        fputs (value > 0 ? "+Inf" : "-Inf", out);
    else
        fprintf (out, "%.15g", value);
}

static void
s_name (FILE *out, const char *name, const char *labels)
{
    fputs (name, out);
    if (labels && *labels)
        fprintf (out, "{%s}", labels);
}

void
metrics_sample (FILE *out, const char *name, const char *labels, double value)
{
    s_name (out, name, labels);
    fputc (' ', out);
    s_value (out, value);
    fputc ('\n', out);
}

void
metrics_sample_u64 (FILE *out, const char *name, const char *labels,
                    uint64_t value)
{
    s_name (out, name, labels);
    fprintf (out, " %" PRIu64 "\n", value);
}

char *
metrics_label (char *buf, size_t buf_size, const char *key, const char *value)
{
    if (buf_size == 0)
        return buf;
    size_t n = 0;
    //  Append one byte if there is room for it and the NUL.
#define PUT(c)                                                                 \
    do {                                                                       \
        if (n + 1 < buf_size)                                                  \
            buf[n++] = (c);                                                    \
    } while (0)
    for (const char *p = key; *p; p++)
        PUT (*p);
    PUT ('=');
    PUT ('"');
    for (const char *p = value; *p; p++) {
        //  Never split an escape, and keep room for the closing quote.
        int esc = *p == '\\' || *p == '"' || *p == '\n';
        if (n + (esc ? 2 : 1) + 1 >= buf_size)
            break;
        if (esc) {
            PUT ('\\');
            PUT (*p == '\n' ? 'n' : *p);
        } else
            PUT (*p);
    }
    PUT ('"');
#undef PUT
    buf[n] = '\0';
    return buf;
}

void
metrics_counter (FILE *out, const char *name, const char *help, uint64_t value)
{
    metrics_header (out, name, "counter", help);
    metrics_sample_u64 (out, name, NULL, value);
}

void
metrics_gauge (FILE *out, const char *name, const char *help, double value)
{
    metrics_header (out, name, "gauge", help);
    metrics_sample (out, name, NULL, value);
}

void
metrics_histogram (FILE *out, const char *name, const char *help,
                   const metrics_hist_t *hist)
{
    metrics_header (out, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= hist->buckets; i++) {
        cumulative += hist->count[i];
        fprintf (out, "%s_bucket{le=\"", name);
        if (i < hist->buckets)
            fprintf (out, "%.15g", hist->bound[i]);
        else
            fputs ("+Inf", out);
        fprintf (out, "\"} %" PRIu64 "\n", cumulative);
    }
    fprintf (out, "%s_sum ", name);
    s_value (out, hist->sum);
    fprintf (out, "\n%s_count %" PRIu64 "\n", name, hist->total);
}
