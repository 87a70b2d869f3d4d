//  http - the gateway's own HTTP endpoints: /healthz, /readyz, /metrics.
//
//  Static files (web_root) are served by lws itself through the "/" mount;
//  this is the callback of the "megle-http" protocol that the three
//  callback mounts name. Each answer is built whole when the request
//  arrives, its headers written at once and its body in HTTP_WRITEABLE,
//  as lws wants.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "log.h"
#include "metrics.h"

typedef struct {
    char *body; //  LWS_PRE spare bytes, then the text; NULL when idle
    size_t len; //  text bytes
} http_pss_t;

size_t
http_session_size (void)
{
    return sizeof (http_pss_t);
}

//  Write the Prometheus text exposition of the gateway's counters.
static void
s_metrics (gateway_t *gw, FILE *out)
{
    const gateway_stats_t *stats = gateway_stats (gw);
    const bus_stats_t *bus = gateway_bus_stats (gw);
    fprintf (out,
             "# HELP megle_gateway_connections Open WebSocket sessions.\n"
             "# TYPE megle_gateway_connections gauge\n"
             "megle_gateway_connections %zu\n",
             gateway_connections (gw));
    fprintf (out, "# HELP megle_gateway_messages_in_total Client messages "
                  "received, by event (invalid = refused).\n"
                  "# TYPE megle_gateway_messages_in_total counter\n");
    for (int i = 0; i < GATEWAY_IN_COUNT; i++)
        fprintf (out, "megle_gateway_messages_in_total{event=\"%s\"} %llu\n",
                 gateway_in_name ((gateway_in_t) i),
                 (unsigned long long) stats->in[i]);
    fprintf (out, "# HELP megle_gateway_messages_out_total Server events "
                  "queued to clients, by event.\n"
                  "# TYPE megle_gateway_messages_out_total counter\n");
    for (int i = 0; i < GATEWAY_OUT_COUNT; i++)
        fprintf (out, "megle_gateway_messages_out_total{event=\"%s\"} %llu\n",
                 gateway_out_name ((gateway_out_t) i),
                 (unsigned long long) stats->out[i]);
    fprintf (out, "# HELP megle_gateway_errors_total Error events sent to "
                  "clients, by code.\n"
                  "# TYPE megle_gateway_errors_total counter\n");
    for (int i = 0; i < GATEWAY_ERROR_CODES; i++)
        fprintf (out, "megle_gateway_errors_total{code=\"%s\"} %llu\n",
                 gateway_error_name (i), (unsigned long long) stats->errors[i]);
    fprintf (out,
             "# HELP megle_gateway_bus_drops_total Frames that could not be "
             "sent to the matcher.\n"
             "# TYPE megle_gateway_bus_drops_total counter\n"
             "megle_gateway_bus_drops_total %llu\n"
             "# HELP megle_gateway_bus_frames_in_total Frames received from "
             "the matcher.\n"
             "# TYPE megle_gateway_bus_frames_in_total counter\n"
             "megle_gateway_bus_frames_in_total %llu\n"
             "# HELP megle_gateway_bus_frames_out_total Frames sent to the "
             "matcher.\n"
             "# TYPE megle_gateway_bus_frames_out_total counter\n"
             "megle_gateway_bus_frames_out_total %llu\n"
             "# HELP megle_gateway_bus_frames_bad_total Bus messages that "
             "were not valid frames.\n"
             "# TYPE megle_gateway_bus_frames_bad_total counter\n"
             "megle_gateway_bus_frames_bad_total %llu\n"
             "# HELP megle_gateway_bus_frames_stale_total Frames dropped "
             "because the session had left their match.\n"
             "# TYPE megle_gateway_bus_frames_stale_total counter\n"
             "megle_gateway_bus_frames_stale_total %llu\n",
             (unsigned long long) bus->drops,
             (unsigned long long) bus->frames_in,
             (unsigned long long) bus->frames_out,
             (unsigned long long) bus->bad, (unsigned long long) stats->stale);
    metrics_gauge (out, "megle_gateway_draining",
                   "1 while the gateway drains after SIGTERM (not ready).",
                   gateway_draining (gw) ? 1 : 0);
    //  Unlabelled: any matcher live; by matcher: each one (bus.h).
    bus_t *mbus = gateway_bus (gw);
    metrics_header (out, "megle_gateway_matcher_up", "gauge",
                    "1 if a matcher's pulse was heard recently (unlabelled: "
                    "any matcher; matcher = its bus_in endpoint).");
    metrics_sample_u64 (out, "megle_gateway_matcher_up", NULL,
                        gateway_matcher_up (gw) ? 1 : 0);
    for (int i = 0; i < bus_matchers (mbus); i++) {
        char label[2 * CONFIG_STR_MAX];
        metrics_label (label, sizeof label, "matcher",
                       bus_matcher_name (mbus, i));
        metrics_sample_u64 (out, "megle_gateway_matcher_up", label,
                            bus_matcher_live (mbus, i) ? 1 : 0);
    }
    metrics_counter (out, "megle_gateway_sessions_rerouted_total",
                     "Sessions moved to another matcher (theirs was dead "
                     "or refused a frame).",
                     bus_stats (mbus)->rerouted);
    metrics_header (out, "megle_gateway_info", "gauge",
                    "Always 1; gateway = MEGLE_GATEWAY_ID.");
    char id_label[2 * CONFIG_STR_MAX];
    metrics_label (id_label, sizeof id_label, "gateway",
                   gateway_config (gw)->gateway_id);
    metrics_sample_u64 (out, "megle_gateway_info", id_label, 1);
    //  Abuse limits (ws.c, inbox.c; docs/security.md).
    metrics_header (out, "megle_gateway_upgrades_refused_total", "counter",
                    "WebSocket upgrades refused, by reason.");
    metrics_sample_u64 (out, "megle_gateway_upgrades_refused_total",
                        "reason=\"origin\"", stats->refused_origin);
    metrics_sample_u64 (out, "megle_gateway_upgrades_refused_total",
                        "reason=\"max_conns\"", stats->refused_full);
    metrics_sample_u64 (out, "megle_gateway_upgrades_refused_total",
                        "reason=\"max_conns_per_ip\"", stats->refused_per_ip);
    metrics_counter (out, "megle_gateway_rate_limited_total",
                     "Client messages dropped over a rate limit.",
                     stats->limited);
    metrics_counter (out, "megle_gateway_flood_closes_total",
                     "Connections closed (1008) for flooding far past the "
                     "rate limits.",
                     stats->flood_closes);
    metrics_histogram (out, "megle_gateway_time_to_match_seconds",
                       "From find_match received to match_found sent, per "
                       "session.",
                       &stats->time_to_match);
    metrics_histogram (out, "megle_gateway_signal_relay_seconds",
                       "From the sender gateway's signal frame to the "
                       "receiving gateway queueing it for the browser.",
                       &stats->signal_relay);
}

//  Build the answer for path into pss. Returns the HTTP status, or 0 if
//  out of memory.
static unsigned int
s_answer (gateway_t *gw, const char *path, http_pss_t *pss, const char **type_p)
{
    char *body = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&body, &size);
    if (!out)
        return 0;
    //  lws needs LWS_PRE writable bytes before what it writes.
    for (size_t i = 0; i < LWS_PRE; i++)
        fputc ('\0', out);
    unsigned int status = 200;
    *type_p = "text/plain; charset=utf-8";
    if (strcmp (path, "/healthz") == 0)
        fputs ("ok\n", out);
    else if (strcmp (path, "/readyz") == 0) {
        if (gateway_ready (gw))
            fputs ("ready\n", out);
        else {
            status = 503;
            fputs ("not ready\n", out);
        }
    } else if (strcmp (path, "/metrics") == 0) {
        *type_p = "text/plain; version=0.0.4; charset=utf-8";
        s_metrics (gw, out);
    } else {
        status = 404;
        fputs ("not found\n", out);
    }
    if (fclose (out) || size < LWS_PRE) {
        free (body);
        return 0;
    }
    pss->body = body;
    pss->len = size - LWS_PRE;
    return status;
}

static void
s_release (http_pss_t *pss)
{
    if (pss) {
        free (pss->body);
        pss->body = NULL;
        pss->len = 0;
    }
}

static int
s_request (gateway_t *gw, struct lws *wsi, http_pss_t *pss)
{
    char path[64];
    bool head = false;
    if (lws_hdr_copy (wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0) {
        head = lws_hdr_copy (wsi, path, sizeof path, WSI_TOKEN_HEAD_URI) > 0;
        if (!head) {
            //  Nothing here takes a body (or an absurdly long path).
            if (lws_return_http_status (wsi, HTTP_STATUS_METHOD_NOT_ALLOWED,
                                        NULL))
                return -1;
            return lws_http_transaction_completed (wsi) ? -1 : 0;
        }
    }
    s_release (pss);
    const char *type = NULL;
    unsigned int status = s_answer (gw, path, pss, &type);
    if (status == 0) {
        log_error ("http: out of memory answering %s", path);
        return -1;
    }
    uint8_t headers[LWS_PRE + 512];
    uint8_t *start = headers + LWS_PRE;
    uint8_t *p = start;
    uint8_t *end = headers + sizeof headers - 1;
    if (lws_add_http_common_headers (wsi, status, type, pss->len, &p, end)
        || lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                         (const unsigned char *) "no-store", 8,
                                         &p, end)
        || lws_finalize_write_http_header (wsi, start, &p, end))
        return -1;
    if (head) {
        s_release (pss);
        return lws_http_transaction_completed (wsi) ? -1 : 0;
    }
    lws_callback_on_writable (wsi);
    return 0;
}

static int
s_write_body (struct lws *wsi, http_pss_t *pss)
{
    if (!pss->body)
        return 0;
    int n = lws_write (wsi, (uint8_t *) pss->body + LWS_PRE, pss->len,
                       LWS_WRITE_HTTP_FINAL);
    bool ok = n >= (int) pss->len;
    s_release (pss);
    if (!ok)
        return -1;
    return lws_http_transaction_completed (wsi) ? -1 : 0;
}

int
http_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
               void *in, size_t len)
{
    gateway_t *gw = gateway_from_context (lws_get_context (wsi));
    http_pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return pss ? s_request (gw, wsi, pss) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss ? s_write_body (wsi, pss) : 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        s_release (pss);
        break;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; //  no WebSocket may bind to this protocol
    default:
        break;
    }
    return lws_callback_http_dummy (wsi, reason, user, in, len);
}
