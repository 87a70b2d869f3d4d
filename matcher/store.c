//  store - Redis connection, script loading, reconnects, Redis Cluster
//  redirects and the deadline on every call (see store.h).
//
//  Every call lives in one list, oldest first, until it is answered; it is
//  either sent on the main connection, sent on the ASK connection, or
//  parked (waiting for a connection, a move, or a retry timer). Every
//  reply passes through s_on_reply, the one place that reads cluster
//  errors (redirect_parse): MOVED parks the call and moves the store to
//  the new node, ASK re-sends it once on the ASK connection after ASKING,
//  TRYAGAIN and friends park it for a short backoff. While any call is
//  parked new calls are parked too, and parked calls are sent in list
//  order, so calls keep the order in which they were made.

#include "store.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/async.h>

#include "common/clock.h"
#include "common/log.h"
#include "redirect.h"
#include "redis_zloop.h"
#include "scripts.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define SHA_LEN        40
#define REDIRECTS_MAX  5  //  MOVED/ASK per call, then it fails
#define RETRIES_MAX    5  //  TRYAGAIN/CLUSTERDOWN/LOADING per call
#define RETRY_BASE_MS  50 //  first retry delay, doubled each time

typedef enum {
    STORE_DOWN = 0,   //  no context; a reconnect timer is pending
    STORE_CONNECTING, //  context created, connect callback not yet seen
    STORE_UP,         //  connected: calls are sent
} store_state_t;

typedef enum {
    CALL_PARKED = 0, //  waiting in the list to be sent
    CALL_MAIN,       //  sent on the main connection
    CALL_ASK,        //  sent on the ASK connection
} call_where_t;

typedef struct _s_call_t s_call_t;

struct _store_t {
    zloop_t *loop;
    const config_t *config;
    store_up_fn *on_up;
    void *on_up_arg;
    redisAsyncContext *ac;  //  current context, NULL when down
    redis_zloop_t *adapter; //  hooks ac into the loop
    store_state_t state;
    int stopping;      //  store_destroy is running
    int backoff_ms;    //  next reconnect delay
    int timer_id;      //  reconnect timer, -1 if none
    int down_logged;   //  "redis down" logged for this outage
    size_t pending;    //  calls made, not yet answered
    uint64_t errors;   //  error replies, lost calls, failed connects, drops
    s_call_t *head;    //  every unanswered call, oldest first
    s_call_t *tail;    //
    size_t parked;     //  calls of the list that are parked
    int retry_timer;   //  -1, or the timer that sends parked calls again
    int deadline_id;   //  periodic check of the oldest call's age
    uint64_t since_us; //  connect started (mono us), for its deadline
    //  Redis Cluster: the node a MOVED sent us to ("" = the configured
    //  seed), and the switch to it.
    char node_host[REDIRECT_HOST_MAX + 1];
    int node_port;
    char conn_host[REDIRECT_HOST_MAX + 1]; //  where ac goes ("" = unix)
    int conn_port;                         //
    int moving;   //  from a MOVED until the new node's connect result
    int draining; //  the old connection closes once its replies are in
    int dropping; //  s_drop is freeing the context
    //  ASK: a second connection, made when first needed.
    redisAsyncContext *ask_ac;
    redis_zloop_t *ask_adapter;
    char ask_host[REDIRECT_HOST_MAX + 1];
    int ask_port;
    metrics_hist_t latency;              //  call sent -> reply, seconds
    char sha[SCRIPT_COUNT][SHA_LEN + 1]; //  "" until SCRIPT LOAD answered
};

//  Room before a call's arguments for the command's head: "*<count>",
//  then for a script EVALSHA, its SHA, the key count and the key, all in
//  the Redis protocol (RESP). EVAL's head (the script's source) never fits
//  and is assembled in a buffer of its own (s_send_on).
#define HEAD_ROOM 128

//  One call. Its arguments are kept for re-sending (NOSCRIPT, redirects),
//  already in RESP: hiredis's own formatting (redisAsyncCommandArgv, a
//  printf-like sds append per argument) cost more than the rest of a
//  batch's sending.
struct _s_call_t {
    store_t *store;
    s_call_t *prev, *next; //  in store->head..tail
    call_where_t where;
    int script;      //  script_id_t, or -1 for a plain command
    int argc;        //  ARGV (script) or whole command (plain)
    char *resp;      //  HEAD_ROOM bytes, then the arguments as RESP bulks
    size_t resp_len; //  bytes of arguments after HEAD_ROOM
    int retried;     //  the NOSCRIPT retry was done
    int redirects;   //  MOVED/ASK followed
    int retries;     //  TRYAGAIN/CLUSTERDOWN/LOADING waited out
    uint64_t sent;   //  monotonic us it was made (latency, deadline)
    store_reply_fn *fn;
    void *arg;
};

static void s_connect (store_t *self);

static void
s_call_destroy (s_call_t **call_p)
{
    s_call_t *call = *call_p;
    if (!call)
        return;
    free (call->resp);
    free (call);
    *call_p = NULL;
}

//  Bytes of n in decimal.
static size_t
s_digits (size_t n)
{
    size_t d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

//  Write c (one of '*', '$'), n in decimal and CRLF at p; returns the end.
static char *
s_put_count (char *p, char c, size_t n)
{
    size_t d = s_digits (n);
    *p++ = c;
    for (size_t i = d; i > 0; i--) {
        p[i - 1] = (char) ('0' + n % 10);
        n /= 10;
    }
    p += d;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

//  Bytes of a RESP bulk string of len bytes: "$<len>\r\n<bytes>\r\n".
static size_t
s_bulk_size (size_t len)
{
    return 1 + s_digits (len) + 2 + len + 2;
}

//  Write a RESP bulk string at p; returns the end.
static char *
s_put_bulk (char *p, const char *data, size_t len)
{
    p = s_put_count (p, '$', len);
    if (len)
        memcpy (p, data, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    return p;
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
    call->argc = argc;
    size_t len = 0;
    for (int i = 0; i < argc; i++)
        len += s_bulk_size (argvlen[i]);
    call->resp = (char *) malloc (HEAD_ROOM + len);
    if (!call->resp) {
        s_call_destroy (&call);
        return NULL;
    }
    char *p = call->resp + HEAD_ROOM;
    for (int i = 0; i < argc; i++)
        p = s_put_bulk (p, argv[i], argvlen[i]);
    call->resp_len = len;
    return call;
}

static void
s_unlink (store_t *self, s_call_t *call)
{
    if (call->where == CALL_PARKED)
        self->parked--;
    if (call->prev)
        call->prev->next = call->next;
    else
        self->head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        self->tail = call->prev;
    self->pending--;
}

//  The answer is in (reply may be NULL): unlink, count, call back, free.
static void
s_finish (store_t *self, s_call_t *call, redisReply *reply)
{
    s_unlink (self, call);
    if (reply)
        metrics_hist_observe (&self->latency,
                              (double) (clock_mono_us () - call->sent) / 1e6);
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        self->errors++;
    call->fn (reply, call->arg);
    s_call_destroy (&call);
}

static void s_on_reply (redisAsyncContext *ac, void *r, void *privdata);

//  Send the call on ac: EVALSHA if the SHA is known and eval is 0, else
//  EVAL with the source. Returns 0 or -1.
static int
s_send_on (store_t *self, redisAsyncContext *ac, s_call_t *call, int eval)
{
    //  The head: the element count, then for a script its command, its
    //  SHA or source, the key count and the key.
    const char *head[3 + SCRIPT_NKEYS] = {
        "EVALSHA", self->sha[call->script < 0 ? 0 : call->script],
        SCRIPT_NKEYS_STR, SCRIPT_KEY_GATEWAYS};
    int nhead = 0;
    if (call->script >= 0) {
        nhead = 3 + SCRIPT_NKEYS;
        if (eval || !head[1][0]) {
            head[0] = "EVAL";
            head[1] = script_source (call->script);
        }
    }
    size_t count = (size_t) nhead + (size_t) call->argc;
    size_t head_len = 1 + s_digits (count) + 2;
    for (int i = 0; i < nhead; i++)
        head_len += s_bulk_size (strlen (head[i]));
    char *buf, *own = NULL;
    if (head_len <= HEAD_ROOM)
        buf = call->resp + HEAD_ROOM - head_len;
    else {
        own = (char *) malloc (head_len + call->resp_len);
        if (!own)
            return -1;
        buf = own;
        memcpy (own + head_len, call->resp + HEAD_ROOM, call->resp_len);
    }
    char *p = s_put_count (buf, '*', count);
    for (int i = 0; i < nhead; i++)
        p = s_put_bulk (p, head[i], strlen (head[i]));
    assert (p == buf + head_len);
    int rc = redisAsyncFormattedCommand (ac, s_on_reply, call, buf,
                                         head_len + call->resp_len)
                     == REDIS_OK
                 ? 0
                 : -1;
    free (own);
    return rc;
}

//  Send the call on the main connection (it must be up). Returns 0 or -1.
static int
s_send (store_t *self, s_call_t *call, int eval)
{
    if (self->state != STORE_UP || !self->ac
        || s_send_on (self, self->ac, call, eval) != 0)
        return -1;
    if (call->where == CALL_PARKED)
        self->parked--;
    call->where = CALL_MAIN;
    return 0;
}

//  Keep the call until s_flush sends it.
static void
s_park (store_t *self, s_call_t *call)
{
    if (call->where != CALL_PARKED)
        self->parked++;
    call->where = CALL_PARKED;
}

//  Send every parked call, oldest first, if the main connection can take
//  them; a call that cannot be sent fails with a NULL reply.
static void
s_flush (store_t *self)
{
    if (self->state != STORE_UP || self->moving || self->draining)
        return;
    s_call_t *call = self->head;
    while (call && self->parked) {
        s_call_t *next = call->next;
        if (call->where == CALL_PARKED && s_send (self, call, 0) != 0)
            s_finish (self, call, NULL);
        call = next;
    }
}

static int
s_on_retry (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    store_t *self = (store_t *) arg;
    self->retry_timer = -1;
    s_flush (self);
    return 0;
}

//  Park the call and send it again after a backoff that doubles with its
//  retries.
static void
s_retry_later (store_t *self, s_call_t *call)
{
    s_park (self, call);
    if (self->retry_timer != -1)
        return;
    int shift = call->retries > 0 ? call->retries - 1 : 0;
    size_t delay = (size_t) RETRY_BASE_MS << (shift > 4 ? 4 : shift);
    self->retry_timer = zloop_timer (self->loop, delay, 1, s_on_retry, self);
}

//  A MOVED: the slot lives at host:port now. Make that the main node:
//  close the old connection once the replies still due on it are in
//  (they are MOVED too, and parked in order), then connect there.
static void
s_move (store_t *self, const char *host, int port, int slot)
{
    if (self->moving)
        return; //  already on the way (to the first node named)
    snprintf (self->node_host, sizeof self->node_host, "%s", host);
    self->node_port = port;
    char slot_s[16], port_s[16];
    snprintf (slot_s, sizeof slot_s, "%d", slot);
    snprintf (port_s, sizeof port_s, "%d", port);
    log_ev_info ("redis_moved", "slot", slot_s, "host", host, "port", port_s,
                 NULL);
    if (self->state == STORE_UP && self->ac) {
        self->moving = 1;
        self->draining = 1;
        redisAsyncDisconnect (self->ac); //  s_on_disconnect once drained
    }
    //  Else a (re)connect is due anyway: it goes to the new node.
}

static void s_on_ask_connect (const redisAsyncContext *ac, int status);
static void s_on_ask_disconnect (const redisAsyncContext *ac, int status);

//  An ASK: send ASKING and the call to host:port once, on the ASK
//  connection, always as EVAL (that node may not have our scripts).
//  Returns 0 if sent, 1 if parked for a retry (the ASK connection still
//  goes to another node: it is closed first), -1 on failure.
static int
s_ask (store_t *self, s_call_t *call, const char *host, int port)
{
    if (self->ask_ac
        && (self->ask_port != port || strcmp (self->ask_host, host) != 0)) {
        redisAsyncDisconnect (self->ask_ac);
        s_retry_later (self, call);
        return 1;
    }
    if (!self->ask_ac) {
        if (!self->ask_adapter)
            self->ask_adapter = redis_zloop_new (self->loop);
        if (!self->ask_adapter || redis_zloop_attached (self->ask_adapter))
            return -1;
        redisAsyncContext *ac = redisAsyncConnect (host, port);
        if (!ac)
            return -1;
        if (ac->err || redis_zloop_attach (self->ask_adapter, ac) != 0) {
            redisAsyncFree (ac);
            return -1;
        }
        ac->data = self;
        redisAsyncSetConnectCallback (ac, s_on_ask_connect);
        redisAsyncSetDisconnectCallback (ac, s_on_ask_disconnect);
        self->ask_ac = ac;
        snprintf (self->ask_host, sizeof self->ask_host, "%s", host);
        self->ask_port = port;
        char port_s[16];
        snprintf (port_s, sizeof port_s, "%d", port);
        log_ev_info ("redis_ask_connect", "host", host, "port", port_s, NULL);
    }
    //  hiredis queues both until the connection is up.
    if (redisAsyncCommand (self->ask_ac, NULL, NULL, "ASKING") != REDIS_OK
        || s_send_on (self, self->ask_ac, call, 1) != 0)
        return -1;
    if (call->where == CALL_PARKED)
        self->parked--;
    call->where = CALL_ASK;
    return 0;
}

//  A cluster error reply for call, received on ac. Returns 0 if the call
//  goes on (re-sent or parked), 1 if the reply is the answer, -1 if the
//  call fails with a NULL reply.
static int
s_redirect (store_t *self, s_call_t *call, const redisAsyncContext *ac,
            const redisReply *reply)
{
    redirect_t to;
    redirect_kind_t kind =
        redirect_parse (reply->str, (size_t) reply->len, &to);
    if (kind == REDIRECT_NONE)
        return 1;
    if (kind == REDIRECT_RETRY) {
        if (call->retries >= RETRIES_MAX)
            return 1;
        call->retries++;
        s_retry_later (self, call);
        return 0;
    }
    if (call->redirects >= REDIRECTS_MAX) {
        log_ev_warn ("redis_redirect_loop", "error", reply->str, NULL);
        return -1;
    }
    call->redirects++;
    //  An empty host is the answering node's.
    const char *host = to.host;
    if (!host[0])
        host = ac == self->ask_ac ? self->ask_host : self->conn_host;
    if (!host[0])
        return -1; //  a unix-socket seed cannot say where it is
    if (kind == REDIRECT_ASK)
        return s_ask (self, call, host, to.port) < 0 ? -1 : 0;
    if (to.port == self->conn_port && strcmp (host, self->conn_host) == 0)
        s_retry_later (self, call); //  a stale MOVED to where we are
    else {
        s_park (self, call);
        s_move (self, host, to.port, to.slot);
    }
    return 0;
}

static void
s_on_reply (redisAsyncContext *ac, void *r, void *privdata)
{
    s_call_t *call = (s_call_t *) privdata;
    store_t *self = call->store;
    redisReply *reply = (redisReply *) r;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        int rc = s_redirect (self, call, ac, reply);
        if (rc == 0)
            return; //  still pending
        if (rc < 0)
            reply = NULL;
    }
    if (reply && reply->type == REDIS_REPLY_ERROR && call->script >= 0
        && !call->retried && strncmp (reply->str, "NOSCRIPT", 8) == 0) {
        log_warn ("redis: script %s not in the server's cache, re-sending "
                  "with EVAL",
                  script_name (call->script));
        call->retried = 1;
        if (self->moving || self->draining) {
            s_park (self, call); //  EVAL on the next node anyway
            return;
        }
        if (s_send (self, call, 1) == 0)
            return; //  still pending
        reply = NULL;
    }
    s_finish (self, call, reply);
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
    if (self->draining) {
        //  The old node is closed after a MOVED: on to the new one now.
        self->draining = 0;
        self->timer_id = zloop_timer (self->loop, 1, 1, s_on_timer, self);
        return;
    }
    self->moving = 0;
    self->errors++;
    if (self->node_host[0]) {
        //  The node a MOVED named is out of reach: back to the seed.
        char port[16];
        snprintf (port, sizeof port, "%d", self->node_port);
        log_ev_warn ("redis_node_lost", "host", self->node_host, "port", port,
                     "what", what, "error", why && *why ? why : "unknown",
                     NULL);
        self->node_host[0] = 0;
        self->node_port = 0;
    }
    if (!self->down_logged) {
        char backoff[16];
        snprintf (backoff, sizeof backoff, "%d", BACKOFF_MAX_MS);
        log_ev_warn ("redis_disconnected", "what", what, "error",
                     why && *why ? why : "unknown error", "backoff_max_ms",
                     backoff, NULL);
        self->down_logged = 1;
    }
    if (self->timer_id != -1)
        zloop_timer_end (self->loop, self->timer_id);
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
    self->moving = 0;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->down_logged = 0;
    if (!self->conn_host[0])
        log_ev_info ("redis_connected", "unix", self->config->redis_unix, NULL);
    else {
        char port[16];
        snprintf (port, sizeof port, "%d", self->conn_port);
        log_ev_info ("redis_connected", "host", self->conn_host, "port", port,
                     NULL);
    }
    for (int i = 0; i < SCRIPT_COUNT; i++)
        redisAsyncCommand (self->ac, s_on_loaded, self->sha[i],
                           "SCRIPT LOAD %s", script_source (i));
    //  Parked calls are older than anything on_up may send.
    s_flush (self);
    if (self->on_up)
        self->on_up (self->on_up_arg);
}

static void
s_on_disconnect (const redisAsyncContext *ac, int status)
{
    store_t *self = (store_t *) ac->data;
    if (self->dropping)
        return; //  s_drop goes on
    //  Pending callbacks have already been called with NULL.
    s_down (self, "disconnected", status == REDIS_OK ? "closed" : ac->errstr);
}

static void
s_on_ask_connect (const redisAsyncContext *ac, int status)
{
    store_t *self = (store_t *) ac->data;
    if (status == REDIS_OK)
        return;
    //  hiredis frees it and answers its calls with NULL.
    log_ev_warn ("redis_ask_failed", "host", self->ask_host, "error",
                 ac->errstr, NULL);
    if (ac == self->ask_ac)
        self->ask_ac = NULL;
}

static void
s_on_ask_disconnect (const redisAsyncContext *ac, int status)
{
    (void) status;
    store_t *self = (store_t *) ac->data;
    if (ac == self->ask_ac)
        self->ask_ac = NULL;
}

static void
s_connect (store_t *self)
{
    const config_t *config = self->config;
    if (self->node_host[0]) {
        memcpy (self->conn_host, self->node_host, sizeof self->conn_host);
        self->conn_port = self->node_port;
    } else {
        snprintf (self->conn_host, sizeof self->conn_host, "%s",
                  config->redis_unix[0] ? "" : config->redis_host);
        self->conn_port = config->redis_unix[0] ? 0 : config->redis_port;
    }
    redisAsyncContext *ac =
        self->conn_host[0]
            ? redisAsyncConnect (self->conn_host, self->conn_port)
            : redisAsyncConnectUnix (config->redis_unix);
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
    self->since_us = clock_mono_us ();
    //  Attach first: setting the connect callback asks for a write event.
    redisAsyncSetConnectCallback (ac, s_on_connect);
    redisAsyncSetDisconnectCallback (ac, s_on_disconnect);
}

//  Give up on the main connection now: its calls are answered with NULL,
//  and a reconnect follows (to the new node if a move was under way).
static void
s_drop (store_t *self, const char *why)
{
    redisAsyncContext *ac = self->ac;
    self->ac = NULL;
    self->state = STORE_DOWN;
    if (ac) {
        self->dropping = 1;
        redisAsyncFree (ac);
        self->dropping = 0;
    }
    s_down (self, "timeout", why);
}

static void
s_drop_ask (store_t *self)
{
    redisAsyncContext *ac = self->ask_ac;
    self->ask_ac = NULL;
    if (ac)
        redisAsyncFree (ac);
}

//  The deadline: a connect, or the oldest call, older than
//  redis_timeout_ms drops its connection (a Redis that accepts but never
//  answers must not hang the matcher).
static int
s_on_deadline (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    store_t *self = (store_t *) arg;
    uint64_t limit = (uint64_t) self->config->redis_timeout_ms * 1000;
    uint64_t now = clock_mono_us ();
    char waited[24], pending[24];
    if (self->state == STORE_CONNECTING && now - self->since_us > limit) {
        snprintf (waited, sizeof waited, "%" PRIu64,
                  (now - self->since_us) / 1000);
        log_ev_warn ("redis_timeout", "what", "connect", "waited_ms", waited,
                     NULL);
        s_drop (self, "connect timed out");
    }
    while (self->head && now - self->head->sent > limit) {
        s_call_t *call = self->head;
        snprintf (waited, sizeof waited, "%" PRIu64, (now - call->sent) / 1000);
        snprintf (pending, sizeof pending, "%zu", self->pending);
        if (call->where == CALL_PARKED
            || (call->where == CALL_MAIN && !self->ac)
            || (call->where == CALL_ASK && !self->ask_ac)) {
            log_ev_warn ("redis_timeout", "what", "parked call", "waited_ms",
                         waited, "pending", pending, NULL);
            s_finish (self, call, NULL);
        } else if (call->where == CALL_ASK) {
            log_ev_warn ("redis_timeout", "what", "ask connection", "waited_ms",
                         waited, "pending", pending, NULL);
            s_drop_ask (self);
            break; //  the next tick sees to the calls behind
        } else {
            log_ev_warn ("redis_timeout", "what", "call", "waited_ms", waited,
                         "pending", pending, NULL);
            s_drop (self, "no reply in time");
            break;
        }
    }
    return 0;
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
    self->retry_timer = -1;
    self->backoff_ms = BACKOFF_MIN_MS;
    metrics_hist_init (&self->latency, metrics_buckets_latency,
                       metrics_buckets_latency_n);
    self->adapter = redis_zloop_new (loop);
    int every = config->redis_timeout_ms / 4;
    every = every < 25 ? 25 : every > 1000 ? 1000 : every;
    self->deadline_id = self->adapter ? zloop_timer (loop, (size_t) every, 0,
                                                     s_on_deadline, self)
                                      : -1;
    if (self->deadline_id == -1) {
        redis_zloop_destroy (&self->adapter);
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
    if (self->retry_timer != -1)
        zloop_timer_end (self->loop, self->retry_timer);
    zloop_timer_end (self->loop, self->deadline_id);
    s_drop_ask (self);
    if (self->ac) {
        //  Calls every pending callback with NULL, then the cleanup hook
        //  and (if it was connected) s_on_disconnect.
        redisAsyncContext *ac = self->ac;
        self->ac = NULL;
        self->state = STORE_DOWN;
        redisAsyncFree (ac);
    }
    while (self->head) //  parked calls
        s_finish (self, self->head, NULL);
    redis_zloop_destroy (&self->ask_adapter);
    redis_zloop_destroy (&self->adapter);
    free (self);
    *self_p = NULL;
}

int
store_ready (store_t *self)
{
    assert (self);
    return (self->state == STORE_UP || self->moving) && !self->stopping;
}

void
store_flush (store_t *self)
{
    assert (self);
    //  hiredis writes once; what is left waits for POLLOUT as usual. A
    //  failed write frees the context (s_on_disconnect), as from the loop:
    //  never inside a hiredis callback, whose caller still uses it.
    if (self->state == STORE_UP && self->ac && !self->stopping
        && !self->dropping
        && !(self->ac->c.flags & (REDIS_IN_CALLBACK | REDIS_DISCONNECTING)))
        redisAsyncHandleWrite (self->ac);
}

int
store_loaded (store_t *self)
{
    assert (self);
    if (self->state != STORE_UP || self->stopping || self->draining)
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
    call->where = CALL_PARKED;
    self->parked++;
    call->prev = self->tail;
    if (self->tail)
        self->tail->next = call;
    else
        self->head = call;
    self->tail = call;
    self->pending++;
    //  Behind other parked calls, or during a move: wait in line.
    if (self->parked == 1 && !self->moving && !self->draining
        && s_send (self, call, 0) != 0) {
        s_unlink (self, call);
        s_call_destroy (&call);
        return -1;
    }
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
