//  probe - what the matcher tells its operators: /healthz (alive),
//  /readyz (200 only while Redis is connected and every script is loaded)
//  and /metrics (Prometheus text: frames in and out by kind, bad frames,
//  bus drops, matches, queue depth by mode, Redis latency, errors and
//  state, live gateways), served by httpd on MEGLE_MATCHER_HTTP.
//
//  The probe reads the counters where they are kept (the store, the
//  publisher, the gateways table, the engine's bad-frame count) and keeps
//  two of its own: frames in by kind (the engine calls probe_frame_in)
//  and the queue depths, which a timer refreshes from Redis about once a
//  second (SCARD of each random queue and ZCARD of each relax set, one
//  pipelined round).

#ifndef MEGLE_PROBE_H
#define MEGLE_PROBE_H

#include <stdint.h>
#include <czmq.h>

#include "common/config.h"
#include "gateways.h"
#include "publisher.h"
#include "routes.h"
#include "store.h"

typedef struct _probe_t probe_t;

//  Where the probe reads; all borrowed, and they must outlive the probe.
typedef struct {
    store_t *store;
    publisher_t *pub;
    gateways_t *gateways;
    const uint64_t *bad_frames; //  the engine's count of refused frames
    routes_t *routes;           //  the route cache, or NULL
} probe_sources_t;

//  Create the probe on loop and, unless config->matcher_http is "", start
//  serving on it. A listen address that cannot be bound is logged as an
//  error and the matcher runs on without the endpoint (matching matters
//  more than its metrics; the health check shows it). Returns NULL only
//  if out of memory.
probe_t *probe_new (zloop_t *loop, const config_t *config,
                    const probe_sources_t *sources);

//  Destroy the probe and close its endpoint. Call it before the store is
//  destroyed. NULL-safe; nulls *self_p.
void probe_destroy (probe_t **self_p);

//  Count one decoded inbound frame of `kind` (frame_kind_t).
void probe_frame_in (probe_t *self, int kind);

#endif
