//  store - Redis connection, script loading and reconnects (see store.h).

#include "store.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/async.h>

#include "common/clock.h"
#include "common/log.h"
#include "redis_zloop.h"
#include "scripts.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define SHA_LEN        40

typedef enum {
    STORE_DOWN = 0,   //  no context; a reconnect timer is pending
    STORE_CONNECTING, //  context created, connect callback not yet seen
    STORE_UP,         //  connected: calls are sent
} store_state_t;

struct _store_t {
    zloop_t *loop;
    const config_t *config;
    store_up_fn *on_up;
    void *on_up_arg;
    redisAsyncContext *ac;  //  current context, NULL when down
    redis_zloop_t *adapter; //  hooks ac into the loop
    store_state_t state;
    int stopping;                        //  store_destroy is running
    int backoff_ms;                      //  next reconnect delay
    int timer_id;                        //  reconnect timer, -1 if none
    int down_logged;                     //  "redis down" logged for this outage
    size_t pending;                      //  calls sent, not yet answered
    metrics_hist_t latency;              //  call sent -> reply, seconds
    uint64_t errors;                     //  error replies, lost calls, failed
                                         //  connects, drops
    char sha[SCRIPT_COUNT][SHA_LEN + 1]; //  "" until SCRIPT LOAD answered
};

//  One call in flight. Its arguments are kept for a NOSCRIPT retry.
typedef struct {
    store_t *store;
    int script;      //  script_id_t, or -1 for a plain command
    int argc;        //  ARGV (script) or whole command (plain)
    char **argv;     //  copies
    size_t *argvlen; //  their lengths
    int retried;     //  the NOSCRIPT retry was done
    uint64_t sent;   //  monotonic us it was sent (latency)
    store_reply_fn *fn;
    void *arg;
} s_call_t;

static void s_connect (store_t *self);

static void
s_call_destroy (s_call_t **call_p)
{
    s_call_t *call = *call_p;
    if (!call)
        return;
    for (int i = 0; i < call->argc; i++)
        free (call->argv[i]);
    free (call->argv);
    free (call->argvlen);
    free (call);
    *call_p = NULL;
}

static s_call_t *
s_call_new (store_t *self, int script, int argc, const char **argv,
            const size_t *argvlen, store_reply_fn *fn, void *arg)
{
    s_call_t *call = (s_call_t *) calloc (1, sizeof *call);
    if (!call)
        return NULL;
    call->store = self;
    call->script = script;
    call->fn = fn;
    call->arg = arg;
    call->argv = (char **) calloc ((size_t) argc + 1, sizeof (char *));
    call->argvlen = (size_t *) calloc ((size_t) argc + 1, sizeof (size_t));
    if (!call->argv || !call->argvlen) {
        s_call_destroy (&call);
        return NULL;
    }
    for (int i = 0; i < argc; i++) {
        call->argv[i] = (char *) malloc (argvlen[i] + 1);
        if (!call->argv[i]) {
            s_call_destroy (&call);
            return NULL;
        }
        memcpy (call->argv[i], argv[i], argvlen[i]);
        call->argv[i][argvlen[i]] = 0;
        call->argvlen[i] = argvlen[i];
        call->argc = i + 1;
    }
    return call;
}

static void s_on_reply (redisAsyncContext *ac, void *r, void *privdata);

//  Send the call on the current context: EVALSHA if the SHA is known and
//  eval is 0, else EVAL with the source. Returns 0 or -1.
static int
s_send (store_t *self, s_call_t *call, int eval)
{
    if (self->state != STORE_UP || !self->ac)
        return -1;
    if (call->script < 0)
        return redisAsyncCommandArgv (self->ac, s_on_reply, call, call->argc,
                                      (const char **) call->argv, call->argvlen)
                       == REDIS_OK
                   ? 0
                   : -1;
    int argc = 3 + SCRIPT_NKEYS + call->argc;
    const char **argv = (const char **) calloc ((size_t) argc, sizeof *argv);
    size_t *lens = (size_t *) calloc ((size_t) argc, sizeof *lens);
    int rc = -1;
    if (argv && lens) {
        const char *sha = self->sha[call->script];
        if (!eval && sha[0]) {
            argv[0] = "EVALSHA";
            argv[1] = sha;
        } else {
            argv[0] = "EVAL";
            argv[1] = script_source (call->script);
        }
        argv[2] = SCRIPT_NKEYS_STR;
        argv[3] = SCRIPT_KEY_GATEWAYS;
        for (int i = 0; i < 3 + SCRIPT_NKEYS; i++)
            lens[i] = strlen (argv[i]);
        for (int i = 0; i < call->argc; i++) {
            argv[3 + SCRIPT_NKEYS + i] = call->argv[i];
            lens[3 + SCRIPT_NKEYS + i] = call->argvlen[i];
        }
        if (redisAsyncCommandArgv (self->ac, s_on_reply, call, argc, argv, lens)
            == REDIS_OK)
            rc = 0;
    }
    free (argv);
    free (lens);
    return rc;
}

static void
s_on_reply (redisAsyncContext *ac, void *r, void *privdata)
{
    (void) ac;
    s_call_t *call = (s_call_t *) privdata;
    store_t *self = call->store;
    redisReply *reply = (redisReply *) r;
    if (reply && reply->type == REDIS_REPLY_ERROR && call->script >= 0
        && !call->retried && strncmp (reply->str, "NOSCRIPT", 8) == 0) {
        log_warn ("redis: script %s not in the server's cache, re-sending "
                  "with EVAL",
                  script_name (call->script));
        call->retried = 1;
        if (s_send (self, call, 1) == 0)
            return; //  still pending
        reply = NULL;
    }
    self->pending--;
    if (reply)
        metrics_hist_observe (&self->latency,
                              (double) (clock_mono_us () - call->sent) / 1e6);
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        self->errors++;
    call->fn (reply, call->arg);
    s_call_destroy (&call);
}

static void
s_on_loaded (redisAsyncContext *ac, void *r, void *privdata)
{
    store_t *self = (store_t *) ac->data;
    redisReply *reply = (redisReply *) r;
    char *sha = (char *) privdata; //  one of store->sha[]
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_STRING && reply->len == SHA_LEN) {
        memcpy (sha, reply->str, SHA_LEN + 1);
        int loaded = 0;
        for (int i = 0; i < SCRIPT_COUNT; i++)
            loaded += self->sha[i][0] != 0;
        if (loaded == SCRIPT_COUNT) {
            char count[16];
            snprintf (count, sizeof count, "%d", loaded);
            log_ev_info ("redis_scripts_loaded", "scripts", count, NULL);
        }
    } else {
        self->errors++;
        log_error ("redis: SCRIPT LOAD failed: %s",
                   reply->type == REDIS_REPLY_ERROR ? reply->str
                                                    : "unexpected reply");
    }
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    store_t *self = (store_t *) arg;
    self->timer_id = -1;
    s_connect (self);
    return 0;
}

//  The connection is gone (or never came): log once per outage, retry.
static void
s_down (store_t *self, const char *what, const char *why)
{
    self->ac = NULL;
    self->state = STORE_DOWN;
    for (int i = 0; i < SCRIPT_COUNT; i++)
        self->sha[i][0] = 0;
    if (self->stopping)
        return;
    self->errors++;
    if (!self->down_logged) {
        char backoff[16];
        snprintf (backoff, sizeof backoff, "%d", BACKOFF_MAX_MS);
        log_ev_warn ("redis_disconnected", "what", what, "error",
                     why && *why ? why : "unknown error", "backoff_max_ms",
                     backoff, NULL);
        self->down_logged = 1;
    }
    self->timer_id = zloop_timer (self->loop, (size_t) self->backoff_ms, 1,
                                  s_on_timer, self);
    self->backoff_ms *= 2;
    if (self->backoff_ms > BACKOFF_MAX_MS)
        self->backoff_ms = BACKOFF_MAX_MS;
}

static void
s_on_connect (const redisAsyncContext *ac, int status)
{
    store_t *self = (store_t *) ac->data;
    if (status != REDIS_OK) {
        //  hiredis frees the context after we return.
        s_down (self, "connect failed", ac->errstr);
        return;
    }
    self->state = STORE_UP;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->down_logged = 0;
    if (self->config->redis_unix[0])
        log_ev_info ("redis_connected", "unix", self->config->redis_unix, NULL);
    else {
        char port[16];
        snprintf (port, sizeof port, "%d", self->config->redis_port);
        log_ev_info ("redis_connected", "host", self->config->redis_host,
                     "port", port, NULL);
    }
    for (int i = 0; i < SCRIPT_COUNT; i++)
        redisAsyncCommand (self->ac, s_on_loaded, self->sha[i],
                           "SCRIPT LOAD %s", script_source (i));
    if (self->on_up)
        self->on_up (self->on_up_arg);
}

static void
s_on_disconnect (const redisAsyncContext *ac, int status)
{
    store_t *self = (store_t *) ac->data;
    //  Pending callbacks have already been called with NULL.
    s_down (self, "disconnected", status == REDIS_OK ? "closed" : ac->errstr);
}

static void
s_connect (store_t *self)
{
    const config_t *config = self->config;
    redisAsyncContext *ac =
        config->redis_unix[0]
            ? redisAsyncConnectUnix (config->redis_unix)
            : redisAsyncConnect (config->redis_host, config->redis_port);
    if (!ac) {
        s_down (self, "connect failed", "out of memory");
        return;
    }
    if (ac->err) {
        char why[sizeof ac->errstr];
        memcpy (why, ac->errstr, sizeof why);
        redisAsyncFree (ac);
        s_down (self, "connect failed", why);
        return;
    }
    ac->data = self;
    if (redis_zloop_attach (self->adapter, ac) != 0) {
        redisAsyncFree (ac);
        s_down (self, "connect failed", "cannot attach to the loop");
        return;
    }
    self->ac = ac;
    self->state = STORE_CONNECTING;
    //  Attach first: setting the connect callback asks for a write event.
    redisAsyncSetConnectCallback (ac, s_on_connect);
    redisAsyncSetDisconnectCallback (ac, s_on_disconnect);
}

store_t *
store_new (zloop_t *loop, const config_t *config, store_up_fn *on_up, void *arg)
{
    assert (loop);
    assert (config);
    store_t *self = (store_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->config = config;
    self->on_up = on_up;
    self->on_up_arg = arg;
    self->timer_id = -1;
    self->backoff_ms = BACKOFF_MIN_MS;
    metrics_hist_init (&self->latency, metrics_buckets_latency,
                       metrics_buckets_latency_n);
    self->adapter = redis_zloop_new (loop);
    if (!self->adapter) {
        free (self);
        return NULL;
    }
    s_connect (self);
    return self;
}

void
store_destroy (store_t **self_p)
{
    assert (self_p);
    store_t *self = *self_p;
    if (!self)
        return;
    self->stopping = 1;
    if (self->timer_id != -1)
        zloop_timer_end (self->loop, self->timer_id);
    if (self->ac) {
        //  Calls every pending callback with NULL, then the cleanup hook
        //  and (if it was connected) s_on_disconnect.
        redisAsyncContext *ac = self->ac;
        self->ac = NULL;
        self->state = STORE_DOWN;
        redisAsyncFree (ac);
    }
    redis_zloop_destroy (&self->adapter);
    free (self);
    *self_p = NULL;
}

int
store_ready (store_t *self)
{
    assert (self);
    return self->state == STORE_UP && !self->stopping;
}

int
store_loaded (store_t *self)
{
    assert (self);
    if (!store_ready (self))
        return 0;
    for (int i = 0; i < SCRIPT_COUNT; i++)
        if (self->sha[i][0] == 0)
            return 0;
    return 1;
}

const metrics_hist_t *
store_latency (store_t *self)
{
    assert (self);
    return &self->latency;
}

uint64_t
store_errors (store_t *self)
{
    assert (self);
    return self->errors;
}

size_t
store_pending (store_t *self)
{
    assert (self);
    return self->pending;
}

static int
s_call (store_t *self, int script, int argc, const char **argv,
        const size_t *argvlen, store_reply_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    if (!store_ready (self))
        return -1;
    s_call_t *call = s_call_new (self, script, argc, argv, argvlen, fn, arg);
    if (!call)
        return -1;
    call->sent = clock_mono_us ();
    if (s_send (self, call, 0) != 0) {
        s_call_destroy (&call);
        return -1;
    }
    self->pending++;
    return 0;
}

int
store_eval (store_t *self, int script, int argc, const char **argv,
            const size_t *argvlen, store_reply_fn *fn, void *arg)
{
    if (script < 0 || script >= SCRIPT_COUNT)
        return -1;
    return s_call (self, script, argc, argv, argvlen, fn, arg);
}

int
store_command (store_t *self, int argc, const char **argv,
               const size_t *argvlen, store_reply_fn *fn, void *arg)
{
    if (argc < 1)
        return -1;
    return s_call (self, -1, argc, argv, argvlen, fn, arg);
}
