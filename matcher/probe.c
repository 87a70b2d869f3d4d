//  probe - the matcher's health and metrics endpoint (see probe.h).

#include "probe.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "proto/frame.h"
#include "httpd.h"

#define DEPTH_MS    1000 //  queue depth refresh period
#define PROBE_KINDS 32   //  frame kinds counted: 1 .. PROBE_KINDS - 1
#define MODES       2

//  The queues of each mode (matcher/lua/lib.lua lists every key): a
//  waiting session is in its mode's random queue, or, while it waits for
//  a shared interest, in its relax set.
static const char *s_modes[MODES] = {FRAME_MODE_VIDEO, FRAME_MODE_TEXT};
static const char *s_depth_cmds[MODES * 2][2] = {
    {"SCARD", "{megle}:q:video"},
    {"ZCARD", "{megle}:relax:video"},
    {"SCARD", "{megle}:q:text"},
    {"ZCARD", "{megle}:relax:text"},
};

//  One refresh of the depths in flight: its replies arrive in the order
//  of the commands (the store pipelines), so the n-th reply answers the
//  n-th command.
typedef struct {
    probe_t *probe; //  NULL once the probe is gone
    int sent;       //  commands queued
    int seen;       //  replies (or failures) received
    int failed;
    int64_t depth[MODES];
} s_round_t;

struct _probe_t {
    zloop_t *loop;
    probe_sources_t src;
    httpd_t *httpd;
    int timer_id;
    uint64_t in[PROBE_KINDS];
    int64_t depth[MODES]; //  last known; 0 before the first refresh
    s_round_t *round;     //  the refresh in flight, or NULL
};

void
probe_frame_in (probe_t *self, int kind)
{
    assert (self);
    if (kind > 0 && kind < PROBE_KINDS)
        self->in[kind]++;
}

static void
s_on_depth (redisReply *reply, void *arg)
{
    s_round_t *round = (s_round_t *) arg;
    int index = round->seen++;
    if (!reply || reply->type != REDIS_REPLY_INTEGER)
        round->failed = 1;
    else
        round->depth[index / 2] += reply->integer;
    if (round->seen < round->sent)
        return;
    probe_t *self = round->probe;
    if (self) {
        if (!round->failed && round->sent == MODES * 2)
            memcpy (self->depth, round->depth, sizeof self->depth);
        self->round = NULL;
    }
    free (round);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    probe_t *self = (probe_t *) arg;
    if (self->round || !store_ready (self->src.store))
        return 0; //  one round at a time; none without Redis
    s_round_t *round = (s_round_t *) calloc (1, sizeof *round);
    if (!round)
        return 0;
    round->probe = self;
    for (int i = 0; i < MODES * 2; i++) {
        size_t lens[2] = {strlen (s_depth_cmds[i][0]),
                          strlen (s_depth_cmds[i][1])};
        if (store_command (self->src.store, 2, s_depth_cmds[i], lens,
                           s_on_depth, round))
            break;
        round->sent++;
    }
    if (round->sent == 0)
        free (round);
    else
        self->round = round;
    return 0;
}

static void
s_metrics (probe_t *self, FILE *out)
{
    char label[64];
    metrics_header (out, "megle_matcher_frames_in_total", "counter",
                    "Frames received from gateways, by kind.");
    for (int kind = 1; kind < PROBE_KINDS; kind++)
        if (kind < FRAME_WAITING && frame_kind_name (kind))
            metrics_sample_u64 (out, "megle_matcher_frames_in_total",
                                metrics_label (label, sizeof label, "kind",
                                               frame_kind_name (kind)),
                                self->in[kind]);
    metrics_header (out, "megle_matcher_frames_out_total", "counter",
                    "Frames published to gateways (or held for one not yet "
                    "subscribed), by kind.");
    for (int kind = FRAME_WAITING; kind < PROBE_KINDS; kind++)
        if (frame_kind_name (kind))
            metrics_sample_u64 (out, "megle_matcher_frames_out_total",
                                metrics_label (label, sizeof label, "kind",
                                               frame_kind_name (kind)),
                                publisher_frames_out (self->src.pub, kind));
    metrics_counter (out, "megle_matcher_bad_frames_total",
                     "Bus messages refused: corrupt, multi-part, unexpected "
                     "kind or malformed ids.",
                     *self->src.bad_frames);
    metrics_counter (out, "megle_matcher_bus_drops_total",
                     "Frames for gateways that were lost: refused by the "
                     "bus_out socket or held too long for a gateway that "
                     "never subscribed.",
                     publisher_drops (self->src.pub)
                         + publisher_expired (self->src.pub));
    metrics_counter (out, "megle_matcher_matches_total",
                     "Matches made (each counted once).",
                     publisher_matches (self->src.pub));
    metrics_header (out, "megle_matcher_queue_depth", "gauge",
                    "Sessions waiting for a partner, by mode (refreshed "
                    "from Redis every second).");
    for (int m = 0; m < MODES; m++)
        metrics_sample (out, "megle_matcher_queue_depth",
                        metrics_label (label, sizeof label, "mode", s_modes[m]),
                        (double) self->depth[m]);
    metrics_histogram (out, "megle_matcher_redis_latency_seconds",
                       "Redis calls: from sending the command to its reply.",
                       store_latency (self->src.store));
    metrics_counter (out, "megle_matcher_redis_errors_total",
                     "Redis failures: error replies, calls lost to a "
                     "dropped connection, failed or dropped connections.",
                     store_errors (self->src.store));
    metrics_gauge (out, "megle_matcher_redis_up", "1 while connected to Redis.",
                   store_ready (self->src.store) ? 1 : 0);
    metrics_gauge (out, "megle_matcher_gateways_alive",
                   "Gateways heard within MEGLE_GATEWAY_TIMEOUT_MS.",
                   (double) gateways_size (self->src.gateways));
    if (self->src.routes) {
        metrics_counter (out, "megle_matcher_routes_cached_total",
                         "Signals, chat lines and typing flags relayed from "
                         "the route cache, without Redis.",
                         routes_hits (self->src.routes));
        metrics_counter (out, "megle_matcher_routes_redis_total",
                         "Signals, chat lines and typing flags routed by the "
                         "route script in Redis.",
                         routes_misses (self->src.routes));
        metrics_gauge (out, "megle_matcher_routes_cached",
                       "Sessions whose route is in the route cache.",
                       (double) routes_size (self->src.routes));
    }
}

static int
s_answer (const http_request_t *request, FILE *out, const char **type_p,
          void *arg)
{
    probe_t *self = (probe_t *) arg;
    if (strcmp (request->path, "/healthz") == 0) {
        fputs ("ok\n", out);
        return 200;
    }
    if (strcmp (request->path, "/readyz") == 0) {
        if (store_loaded (self->src.store)) {
            fputs ("ready\n", out);
            return 200;
        }
        fputs ("not ready: redis is down or its scripts are not loaded\n", out);
        return 503;
    }
    if (strcmp (request->path, "/metrics") == 0) {
        *type_p = "text/plain; version=0.0.4; charset=utf-8";
        s_metrics (self, out);
        return 200;
    }
    fputs ("not found\n", out);
    return 404;
}

probe_t *
probe_new (zloop_t *loop, const config_t *config,
           const probe_sources_t *sources)
{
    assert (loop);
    assert (config);
    assert (sources && sources->store && sources->pub && sources->gateways
            && sources->bad_frames);
    probe_t *self = (probe_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->src = *sources;
    self->timer_id = zloop_timer (loop, DEPTH_MS, 0, s_on_timer, self);
    if (self->timer_id == -1) {
        free (self);
        return NULL;
    }
    if (config->matcher_http[0]) {
        self->httpd = httpd_new (loop, config->matcher_http_host,
                                 config->matcher_http_port, s_answer, self);
        if (self->httpd)
            log_info ("http: /healthz, /readyz, /metrics on %s (port %d)",
                      config->matcher_http, httpd_port (self->httpd));
        else
            log_error ("http: no /healthz, /readyz, /metrics: cannot listen "
                       "on MEGLE_MATCHER_HTTP %s",
                       config->matcher_http);
    }
    return self;
}

void
probe_destroy (probe_t **self_p)
{
    assert (self_p);
    probe_t *self = *self_p;
    if (!self)
        return;
    httpd_destroy (&self->httpd);
    zloop_timer_end (self->loop, self->timer_id);
    if (self->round)
        self->round->probe = NULL; //  its last reply frees it
    free (self);
    *self_p = NULL;
}
