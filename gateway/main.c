//  megle-gateway - WebSocket front door of megle: serves web/, speaks the
//  client protocol on /ws and relays it over the ZeroMQ bus to the
//  matcher. Configuration: MEGLE_* environment variables or equal flags
//  (--help lists them).

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>

#include "clock.h"
#include "config.h"
#include "gateway.h"
#include "log.h"

//  The one global: set by SIGINT/SIGTERM, read by the loop, which wakes
//  at least every few hundred ms (gateway.c's tick timer).
static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_interrupted = 1;
}

int
main (int argc, char **argv)
{
    config_t config;
    char err[256] = "";
    int rc = config_load (&config, CONFIG_GATEWAY, argc, argv, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc) {
        fprintf (stderr, "megle-gateway: %s\n", err);
        return 2;
    }
    log_init ("gateway", config.log_level);
    lws_set_log_level (LLL_ERR | LLL_WARN, log_lws_sink);

    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);

    gateway_t *gateway = gateway_new (&config);
    if (!gateway) {
        log_error ("gateway: cannot start");
        return 1;
    }
    while (!s_interrupted)
        if (gateway_service (gateway))
            break;
    //  Drain: not ready at once, connections closed with 1001 after
    //  MEGLE_DRAIN_DELAY_MS, all within MEGLE_DRAIN_MS more. A second signal
    //  cuts it short.
    s_interrupted = 0;
    gateway_drain (gateway);
    uint64_t deadline = clock_mono_ms () + (uint64_t) config.drain_delay_ms
                        + (uint64_t) config.drain_ms;
    while (!s_interrupted && !gateway_drained (gateway)
           && clock_mono_ms () < deadline)
        if (gateway_service (gateway))
            break;
    log_ev_info ("drain_done", "outcome",
                 gateway_drained (gateway) ? "drained"
                 : s_interrupted           ? "second_signal"
                                           : "deadline",
                 NULL);
    gateway_destroy (&gateway);
    return 0;
}
