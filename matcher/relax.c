//  relax - the interest-wait timer (see relax.h).

#include "relax.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"
#include "answer.h"
#include "scripts.h"

#define RELAX_MS 250 //  how often due interest waits are looked for

struct _relax_t {
    zloop_t *loop;
    store_t *store;
    publisher_t *pub;
    routes_t *routes;
    const config_t *config;
    int timer_id; //  -1 once stopped
    int busy;     //  a call is in flight
    int stopped;
};

static void s_run (relax_t *self);

static void
s_on_reply (redisReply *reply, void *arg)
{
    relax_t *self = (relax_t *) arg;
    self->busy = 0;
    if (!reply)
        return; //  Redis went away: the timer tries again
    int more = 0;
    size_t moved = answer_relax (self->pub, reply, &more);
    //  The route cache learns these matches as it learns a find's.
    //  Tuples from element 3: sid, gw, cand, cand_gw, mid, mode, shared.
    uint64_t now = clock_mono_ms ();
    bool valid = reply->type == REDIS_REPLY_ARRAY && reply->elements >= 3
                 && !strcmp (answer_str (reply, 0), "relaxed");
    for (size_t i = 3; valid && i + 6 < reply->elements; i += 7) {
        const char *sid = answer_str (reply, i);
        const char *gw = answer_str (reply, i + 1);
        const char *cand = answer_str (reply, i + 2);
        const char *cand_gw = answer_str (reply, i + 3);
        const char *mid = answer_str (reply, i + 4);
        routes_put (self->routes, sid, cand, cand_gw, mid, now);
        routes_put (self->routes, cand, sid, gw, mid, now);
    }
    if (moved)
        log_debug ("relax: %zu interest waits over", moved);
    if (more)
        s_run (self);
}

//  One relax call, with a batch of fresh match ids.
static void
s_run (relax_t *self)
{
    if (self->busy || self->stopped || !store_ready (self->store))
        return;
    char now[24], session_ttl[16], match_ttl[16];
    char mids[SCRIPT_RELAX_BATCH][ID_STRLEN + 1];
    const char *argv[3 + SCRIPT_RELAX_BATCH];
    size_t lens[3 + SCRIPT_RELAX_BATCH];
    snprintf (now, sizeof now, "%" PRIu64, clock_wall_ms ());
    snprintf (match_ttl, sizeof match_ttl, "%d", self->config->match_ttl);
    snprintf (session_ttl, sizeof session_ttl, "%d", self->config->session_ttl);
    argv[0] = now;
    argv[1] = match_ttl;
    argv[2] = session_ttl;
    for (int i = 0; i < SCRIPT_RELAX_BATCH; i++) {
        if (id_new (mids[i]) != 0) {
            log_error ("relax: cannot make a match id: CSPRNG failed");
            return;
        }
        argv[3 + i] = mids[i];
    }
    for (int i = 0; i < 3 + SCRIPT_RELAX_BATCH; i++)
        lens[i] = strlen (argv[i]);
    if (store_eval (self->store, SCRIPT_RELAX, 3 + SCRIPT_RELAX_BATCH, argv,
                    lens, s_on_reply, self)
        == 0)
        self->busy = 1;
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_run ((relax_t *) arg);
    return 0;
}

relax_t *
relax_new (zloop_t *loop, store_t *store, publisher_t *pub, routes_t *routes,
           const config_t *config)
{
    assert (loop);
    assert (store);
    assert (pub);
    assert (routes);
    assert (config);
    relax_t *self = (relax_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->store = store;
    self->pub = pub;
    self->routes = routes;
    self->config = config;
    self->timer_id = zloop_timer (loop, RELAX_MS, 0, s_on_timer, self);
    if (self->timer_id == -1) {
        free (self);
        return NULL;
    }
    return self;
}

void
relax_stop (relax_t *self)
{
    assert (self);
    self->stopped = 1;
    if (self->timer_id != -1) {
        zloop_timer_end (self->loop, self->timer_id);
        self->timer_id = -1;
    }
}

void
relax_destroy (relax_t **self_p)
{
    assert (self_p);
    relax_t *self = *self_p;
    if (!self)
        return;
    relax_stop (self);
    free (self);
    *self_p = NULL;
}
