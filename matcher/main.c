//  megle-matcher - the only writer of Redis: pairs strangers, routes their
//  signals and publishes every answer on the bus (see engine.h).

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <czmq.h>

#include "common/config.h"
#include "common/log.h"
#include "engine.h"

//  The one global: set by SIGINT/SIGTERM, read by the engine's stop check.
static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_stop = 1;
}

int
main (int argc, char **argv)
{
    config_t config;
    char err[256] = "";
    int rc = config_load (&config, CONFIG_MATCHER, argc, argv, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf (stderr, "megle-matcher: %s\n", err);
        return 2;
    }
    log_init ("matcher", config.log_level);

    //  We own SIGINT/SIGTERM: czmq must not install its handler (it would
    //  set zsys_interrupted and cut the loop short without draining).
    zsys_handler_set (NULL);
    engine_t *engine = engine_new (&config, &s_stop);
    if (!engine)
        return 1;
    //  No SA_RESTART: the signal also interrupts zmq_poll at once.
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    //  hiredis writes with write(2): a dropped Redis must not kill us.
    action.sa_handler = SIG_IGN;
    sigaction (SIGPIPE, &action, NULL);

    engine_run (engine);
    engine_destroy (&engine);
    log_info ("stopped");
    return 0;
}
