//  engine - frame handling and routing for megle-matcher (see engine.h).
//
//  Each inbound frame becomes a job (the decoded frame plus what the reply
//  handler needs), handed to the store with the script call for its kind
//  (calls.c). The store pipelines calls; replies come back in order and
//  their handlers (answer.c) publish in order. A job is freed by its reply
//  handler, or kept in the backlog while Redis is down if its effect must
//  not be lost. relax.c's timer opens the sessions whose interest wait is
//  over to a random stranger, in Redis, not by a client's timer.

#include "engine.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include <hiredis/hiredis.h>

#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"
#include "proto/frame.h"
#include "answer.h"
#include "batch.h"
#include "calls.h"
#include "gateways.h"
#include "probe.h"
#include "publisher.h"
#include "ratelog.h"
#include "relax.h"
#include "routes.h"
#include "scripts.h"
#include "store.h"
#include "tap.h"
#include "zap.h"

#define DRAIN_MAX     1024  //  frames read per wake-up
#define BACKLOG_MAX   65536 //  jobs kept while Redis is down
#define STOP_CHECK_MS 100   //  how often the stop flag is read
#define STOP_WAIT_MS  1000  //  how long to wait for replies when stopping
#define INTERESTS_MAX 10    //  interests per find (the gateway's limit)
#define INTEREST_MAX  32    //  bytes per interest

struct _engine_t {
    const config_t *config;
    volatile sig_atomic_t *stop;
    zloop_t *loop;
    zsock_t *pull;          //  bus_in: frames from gateways
    zmq_pollitem_t pull_fd; //  its ZMQ_FD, polled as a plain descriptor
    int more_id;            //  timer to drain again at once, or -1
    publisher_t *pub;       //  bus_out: frames to gateways
    tap_t *tap;             //  tap socket, or NULL (none configured)
    zap_t *zap;             //  CURVE server side, or NULL (CURVE off)
    store_t *store;         //  Redis
    batch_t *batch;         //  ops of the current drain, one call (batch.h)
    int draining;           //  in s_on_pull: flush at its end, not before
    gateways_t *gateways;   //  liveness table
    routes_t *routes;       //  route cache: relays without Redis
    zlist_t *backlog;       //  job_t *: OPEN/CLOSE/BYE while Redis is down
    int stopping;           //  stop flag seen: no more reading
    uint64_t stop_deadline; //  monotonic ms
    uint64_t n_bad;         //  corrupt, multi-part or unexpected frames
    uint64_t n_unavailable; //  ERROR unavailable answers
    uint64_t n_backlog_drops;
    //  connections to Redis so far
    uint64_t redis_ups;
    relax_t *relax; //  the interest-wait timer
    probe_t *probe; //  /healthz, /readyz, /metrics
    ratelog_t limit_bad;
    ratelog_t limit_backlog;
    calls_t calls; //  script arguments: the config's, the clock
};

//  One inbound frame on its way through Redis.
typedef struct {
    engine_t *engine;
    frame_t *frame;  //  owned; for FIND, frame->match holds the new match id
    char before[24]; //  gw_dead's dead_before_ms ("" = unconditional)
} s_job_t;

static int
s_id_ok (const char *id)
{
    return id_valid (id, strlen (id));
}

static void
s_log_frame (const char *dir, const frame_t *frame)
{
    if (!log_enabled (MEGLE_LOG_DEBUG))
        return;
    char json[512];
    frame_to_json (frame, json, sizeof json, 64);
    log_debug ("%s %s", dir, json);
}

static s_job_t *
s_job_new (engine_t *self, frame_t **frame_p)
{
    s_job_t *job = (s_job_t *) calloc (1, sizeof *job);
    if (!job) {
        frame_destroy (frame_p);
        return NULL;
    }
    job->engine = self;
    job->frame = *frame_p;
    *frame_p = NULL;
    return job;
}

static void
s_job_destroy (s_job_t **job_p)
{
    s_job_t *job = *job_p;
    if (!job)
        return;
    frame_destroy (&job->frame);
    free (job);
    *job_p = NULL;
}

static void s_on_reply (redisReply *reply, void *arg);

//  Send the job's script: as an op of the current batch if batched, else
//  as its own call. Returns 0 (the reply handler owns the job now) or -1
//  (the caller still owns it).
static int
s_issue (engine_t *self, s_job_t *job, int batched)
{
    frame_t *f = job->frame;
    const char *argv[CALLS_ARGS_MAX];
    size_t lens[CALLS_ARGS_MAX];
    int argc = 0;
    int script = calls_build (&self->calls, f, job->before, clock_wall_ms (),
                              argv, lens, &argc);
    if (script < 0)
        return -1;
    //  The route cache counts each session's ops in flight (routes.h).
    int counted = f->kind != FRAME_HELLO && f->kind != FRAME_HEARTBEAT;
    if (counted)
        routes_pending_add (self->routes, f->session);
    int rc = batched ? batch_add (self->batch, script, argc, argv, lens,
                                  s_on_reply, job)
                     : store_eval (self->store, script, argc, argv, lens,
                                   s_on_reply, job);
    if (rc != 0 && counted)
        routes_pending_done (self->routes, f->session);
    return rc;
}

//  Redis cannot take the job: answer "unavailable" if the frame expects
//  an answer; keep it for later if its effect must not be lost.
static void
s_unavailable (engine_t *self, s_job_t *job)
{
    frame_t *f = job->frame;
    switch (f->kind) {
    case FRAME_OPEN:
    case FRAME_CLOSE:
    case FRAME_BYE:
        if (zlist_size (self->backlog) < BACKLOG_MAX
            && zlist_append (self->backlog, job) == 0)
            return;
        self->n_backlog_drops++;
        char lost[24];
        snprintf (lost, sizeof lost, "%" PRIu64, self->n_backlog_drops);
        ratelog_event (&self->limit_backlog, "backlog_drop",
                       "redis down and backlog full: lost a frame", "kind",
                       frame_kind_name (f->kind), "gateway", f->gateway, "lost",
                       lost, NULL);
        break;
    case FRAME_FIND:
    case FRAME_SIGNAL:
    case FRAME_LEAVE:
    case FRAME_CHAT:
    case FRAME_TYPING:
    case FRAME_REPORT:
        self->n_unavailable++;
        publisher_error (self->pub, f->gateway, f->session, "unavailable");
        break;
    default:
        break;
    }
    s_job_destroy (&job);
}

static void
s_submit (engine_t *self, s_job_t *job)
{
    if (!job)
        return;
    if (store_ready (self->store) && s_issue (self, job, 1) == 0) {
        //  Outside a drain (timers, Redis callbacks) nothing else follows.
        if (!self->draining)
            batch_commit (self->batch);
        return;
    }
    s_unavailable (self, job);
}

//  Close every session of gateway gw (BYE, or silence). before_ms = 0:
//  unconditionally; else only if its last heartbeat in Redis is older.
static void
s_gateway_dead (engine_t *self, const char *gw, uint64_t before_ms)
{
    frame_t *frame = frame_new (FRAME_BYE);
    if (!frame
        || frame_set_str (frame->gateway, sizeof frame->gateway, gw,
                          strlen (gw))) {
        log_error ("cannot clean up gateway %s: out of memory", gw);
        frame_destroy (&frame);
        return;
    }
    s_job_t *job = s_job_new (self, &frame);
    if (!job)
        return;
    if (before_ms)
        snprintf (job->before, sizeof job->before, "%" PRIu64, before_ms);
    s_submit (self, job);
}

static void
s_on_reply (redisReply *reply, void *arg)
{
    s_job_t *job = (s_job_t *) arg;
    engine_t *self = job->engine;
    frame_t *f = job->frame;
    if (f->kind != FRAME_HELLO && f->kind != FRAME_HEARTBEAT)
        routes_pending_done (self->routes, f->session);
    if (!reply) {
        s_unavailable (self, job);
        return;
    }
    const char *status = NULL;
    if (reply->type == REDIS_REPLY_ERROR)
        log_error ("redis script for a %s frame of session %s failed: %s",
                   frame_kind_name (f->kind), f->session, reply->str);
    else if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
             || !*(status = answer_str (reply, 0))) {
        log_error ("redis: unexpected reply to a %s frame",
                   frame_kind_name (f->kind));
        status = NULL;
    }
    switch (f->kind) {
    case FRAME_FIND:
        answer_find (self->pub, f, status ? status : "error", reply);
        break;
    case FRAME_SIGNAL:
    case FRAME_CHAT:
    case FRAME_TYPING:
        answer_route (self->pub, f, status ? status : "error", reply);
        break;
    case FRAME_REPORT:
        answer_report (self->pub, f, status ? status : "error", reply);
        break;
    case FRAME_LEAVE:
    case FRAME_CLOSE:
        if (status)
            answer_leave (self->pub, f, status, reply);
        else if (f->kind == FRAME_LEAVE)
            publisher_error (self->pub, f->gateway, f->session, "internal");
        break;
    case FRAME_BYE:
        if (status) {
            int told = answer_gw_dead (self->pub, f, status, reply);
            if (told < 0) {
                log_ev_info ("gateway_kept", "gateway", f->gateway, "why",
                             "another matcher still hears it", NULL);
                gateways_beat (self->gateways, f->gateway, clock_mono_ms ());
            } else {
                char partners[16];
                snprintf (partners, sizeof partners, "%d", told);
                log_ev_info ("gateway_cleaned_up", "gateway", f->gateway,
                             "partners_told", partners, NULL);
            }
        }
        break;
    default: //  OPEN, HELLO, HEARTBEAT: no answer
        break;
    }
    routes_learn (self->routes, f, status ? status : "error", reply,
                  clock_mono_ms ());
    s_job_destroy (&job);
}

//  A signal, chat line or typing flag whose route is cached is relayed at
//  once, without Redis (routes.h says when). Returns 1 if it was.
static int
s_relay_cached (engine_t *self, const frame_t *f)
{
    if ((f->kind != FRAME_SIGNAL && f->kind != FRAME_CHAT
         && f->kind != FRAME_TYPING)
        || !store_ready (self->store))
        return 0;
    const char *partner = "";
    const char *gw = routes_lookup (self->routes, f->session, f->match,
                                    f->kind == FRAME_SIGNAL ? f->peer : "",
                                    clock_mono_ms (), &partner);
    if (!gw)
        return 0;
    answer_relay (self->pub, f, gw, f->match, partner);
    return 1;
}

static void
s_on_beat (engine_t *self, frame_t *frame)
{
    int rc = gateways_beat (self->gateways, frame->gateway, clock_mono_ms ());
    //  A HELLO is a fresh start: no sessions yet.
    gateways_set_sessions (self->gateways, frame->gateway,
                           frame->kind == FRAME_HEARTBEAT ? frame->flags : 0);
    if (rc == 1)
        log_ev_info ("gateway_up", "gateway", frame->gateway, "by",
                     frame_kind_name (frame->kind), NULL);
    else if (rc == 0 && frame->kind == FRAME_HELLO)
        log_ev_info ("gateway_hello_again", "gateway", frame->gateway, NULL);
    if (!store_ready (self->store)) {
        frame_destroy (&frame);
        return;
    }
    s_job_t *job = s_job_new (self, &frame);
    if (job && s_issue (self, job, 1) != 0)
        s_job_destroy (&job);
}

//  A FIND's mode (type) and interests (payload, "\n"-joined), as the
//  gateway wrote them. An older gateway's FIND (type "", payload = the
//  raw JSON data) means video without interests. Returns 0 if usable
//  (normalising the legacy form), -1 if not.
static int
s_find_check (frame_t *frame)
{
    if (frame->type[0] == '\0') {
        frame_set_str (frame->type, sizeof frame->type, FRAME_MODE_VIDEO,
                       strlen (FRAME_MODE_VIDEO));
        frame_set_payload (frame, NULL, 0);
        return 0;
    }
    if (strcmp (frame->type, FRAME_MODE_VIDEO)
        && strcmp (frame->type, FRAME_MODE_TEXT))
        return -1;
    size_t count = 0, len = 0;
    for (size_t i = 0; i <= frame->payload_len; i++) {
        if (i == frame->payload_len
            || frame->payload[i] == (uint8_t) FRAME_INTEREST_SEP) {
            if (frame->payload_len == 0)
                break;
            if (len == 0 || len > INTEREST_MAX || ++count > INTERESTS_MAX)
                return -1;
            len = 0;
        } else if (frame->payload[i] < 0x20 || frame->payload[i] == 0x7f)
            return -1;
        else
            len++;
    }
    return 0;
}

static void
s_dispatch (engine_t *self, frame_t *frame)
{
    s_log_frame ("in", frame);
    if (!gateways_id_valid (frame->gateway)) {
        self->n_bad++;
        ratelog_warn (&self->limit_bad,
                      "dropped a %s frame with a bad gateway id",
                      frame_kind_name (frame->kind));
        frame_destroy (&frame);
        return;
    }
    switch (frame->kind) {
    case FRAME_HELLO:
    case FRAME_HEARTBEAT:
        s_on_beat (self, frame);
        return;
    case FRAME_BYE:
        log_ev_info ("gateway_bye", "gateway", frame->gateway, NULL);
        gateways_remove (self->gateways, frame->gateway);
        s_gateway_dead (self, frame->gateway, 0);
        frame_destroy (&frame);
        return;
    case FRAME_OPEN:
    case FRAME_FIND:
    case FRAME_SIGNAL:
    case FRAME_LEAVE:
    case FRAME_CLOSE:
    case FRAME_CHAT:
    case FRAME_TYPING:
    case FRAME_REPORT:
        break;
    default:
        self->n_bad++;
        ratelog_warn (&self->limit_bad,
                      "dropped an unexpected %s frame from %s",
                      frame_kind_name (frame->kind), frame->gateway);
        frame_destroy (&frame);
        return;
    }
    if (!s_id_ok (frame->session)) {
        self->n_bad++;
        ratelog_warn (&self->limit_bad,
                      "dropped a %s frame from %s with a bad session id",
                      frame_kind_name (frame->kind), frame->gateway);
        frame_destroy (&frame);
        return;
    }
    int bad = 0;
    if (frame->kind == FRAME_SIGNAL)
        bad = !s_id_ok (frame->peer)
              || (*frame->match && !s_id_ok (frame->match));
    else if (frame->kind == FRAME_LEAVE)
        bad = *frame->peer && !s_id_ok (frame->peer);
    if (bad) {
        //  A malformed id can name nobody, so it is not the partner: the
        //  client sees the same refusal as for any other stranger's id.
        publisher_error (self->pub, frame->gateway, frame->session,
                         "not_partner");
        frame_destroy (&frame);
        return;
    }
    if ((frame->kind == FRAME_CHAT || frame->kind == FRAME_TYPING
         || frame->kind == FRAME_REPORT)
        && !s_id_ok (frame->match)) {
        //  The gateway stamps the sender's match; none means no partner.
        publisher_error (self->pub, frame->gateway, frame->session,
                         "not_matched");
        frame_destroy (&frame);
        return;
    }
    if (frame->kind == FRAME_FIND && s_find_check (frame)) {
        publisher_error (self->pub, frame->gateway, frame->session,
                         "bad_field");
        frame_destroy (&frame);
        return;
    }
    if (frame->kind == FRAME_FIND && id_new (frame->match) != 0) {
        log_error ("cannot make a match id: CSPRNG failed");
        publisher_error (self->pub, frame->gateway, frame->session, "internal");
        frame_destroy (&frame);
        return;
    }
    if (s_relay_cached (self, frame)) {
        frame_destroy (&frame);
        return;
    }
    s_submit (self, s_job_new (self, &frame));
}

static int s_on_pull_more (zloop_t *loop, int timer_id, void *arg);

//  Read every frame waiting on bus_in, until EAGAIN. The loop polls the
//  socket's ZMQ_FD as a plain descriptor, not the socket: zmq_poll would
//  ask ZMQ_EVENTS (a getpid and a poll system call each) before and after
//  every wait; the descriptor only says that the socket has commands to
//  process, which the EAGAIN read below does, so it is readable again
//  only when new frames arrive. Only this function reads bus_in. After
//  DRAIN_MAX frames it lets the loop run timers and Redis I/O, and a 0 ms
//  timer brings it back (the descriptor may not fire again for the rest).
static void
s_drain (engine_t *self)
{
    void *socket = zsock_resolve (self->pull);
    int more = 1;
    self->draining = 1;
    for (int count = 0; count < DRAIN_MAX; count++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, socket, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&msg);
            more = 0;
            break;
        }
        tap_frame (self->tap, TAP_IN, zmq_msg_data (&msg), zmq_msg_size (&msg));
        if (zmq_msg_more (&msg)) {
            int parts = 1;
            while (zmq_msg_more (&msg)) {
                zmq_msg_close (&msg);
                zmq_msg_init (&msg);
                if (zmq_msg_recv (&msg, socket, ZMQ_DONTWAIT) == -1)
                    break;
                parts++;
            }
            zmq_msg_close (&msg);
            self->n_bad++;
            ratelog_warn (&self->limit_bad,
                          "dropped a %d-part bus message (frames are one "
                          "part)",
                          parts);
            continue;
        }
        char err[128] = "";
        size_t size = zmq_msg_size (&msg);
        frame_t *frame = frame_decode ((const uint8_t *) zmq_msg_data (&msg),
                                       size, err, sizeof err);
        zmq_msg_close (&msg);
        if (!frame) {
            self->n_bad++;
            ratelog_warn (&self->limit_bad,
                          "dropped a corrupt bus frame (%zu bytes): %s", size,
                          err);
            continue;
        }
        probe_frame_in (self->probe, frame->kind);
        s_dispatch (self, frame);
    }
    //  Everything read so far goes to Redis now, in one call (or a few,
    //  batch_max ops each), unless a batch call is still awaiting its
    //  reply: then it goes with that reply (group commit, batch.h). A
    //  batch never waits for a timer.
    self->draining = 0;
    batch_commit (self->batch);
    store_flush (self->store);
    if (more && self->more_id == -1 && !self->stopping)
        self->more_id = zloop_timer (self->loop, 0, 1, s_on_pull_more, self);
}

static int
s_on_pull (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    s_drain ((engine_t *) arg);
    return 0;
}

static int
s_on_pull_more (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    engine_t *self = (engine_t *) arg;
    self->more_id = -1;
    if (!self->stopping)
        s_drain (self);
    return 0;
}

//  Every heartbeat_ms: tell gateways we live; bury the silent ones.
static int
s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    engine_t *self = (engine_t *) arg;
    uint64_t online = gateways_sessions (self->gateways);
    publisher_emit (self->pub, FRAME_PULSE, "*", "", self->config->matcher_id,
                    "", online > UINT32_MAX ? UINT32_MAX : (uint32_t) online,
                    "", NULL, 0);
    publisher_expire (self->pub);
    uint64_t now = clock_mono_ms ();
    uint64_t timeout = (uint64_t) self->config->gateway_timeout_ms;
    if (now <= timeout)
        return 0;
    zlist_t *dead = zlist_new ();
    if (!dead)
        return 0;
    zlist_autofree (dead);
    gateways_expire (self->gateways, now - timeout, dead);
    for (const char *gw = (const char *) zlist_first (dead); gw;
         gw = (const char *) zlist_next (dead)) {
        char silent[24];
        snprintf (silent, sizeof silent, "%" PRIu64, timeout);
        log_ev_warn ("gateway_dead", "gateway", gw, "why", "no heartbeat",
                     "silent_ms", silent, NULL);
        s_gateway_dead (self, gw, clock_wall_ms () - timeout);
    }
    zlist_destroy (&dead);
    return 0;
}

static int
s_on_stop_check (zloop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    engine_t *self = (engine_t *) arg;
    if (!*self->stop)
        return 0;
    if (!self->stopping) {
        self->stopping = 1;
        relax_stop (self->relax);
        zloop_poller_end (loop, &self->pull_fd);
        if (self->more_id != -1)
            zloop_timer_end (loop, self->more_id);
        self->more_id = -1;
        self->stop_deadline = clock_mono_ms () + STOP_WAIT_MS;
        log_info ("stopping: waiting for %zu redis replies",
                  store_pending (self->store));
    }
    if (store_pending (self->store) == 0
        || clock_mono_ms () >= self->stop_deadline)
        return -1;
    return 0;
}

//  HGETALL {megle}:gws after a (re)connect: gateways that died while we
//  were away are buried now; the others must beat within the timeout.
static void
s_on_gateways (redisReply *reply, void *arg)
{
    engine_t *self = (engine_t *) arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    if (reply->elements == 0) {
        //  No live gateway's heartbeat in Redis: it lost its data (or this
        //  is a first start). Sessions and matches the gateways hold are
        //  unknown to it now: they end them and re-announce their sessions
        //  (FRAME_RESET, proto/README.md).
        log_at (self->redis_ups > 1 ? MEGLE_LOG_WARN : MEGLE_LOG_INFO,
                "redis holds no gateway: telling every gateway to reset its "
                "sessions%s",
                self->redis_ups > 1 ? " (redis lost its data)" : "");
        publisher_emit (self->pub, FRAME_RESET, "*", "",
                        self->config->matcher_id, "", 0, "", NULL, 0);
        return;
    }
    uint64_t wall = clock_wall_ms ();
    uint64_t timeout = (uint64_t) self->config->gateway_timeout_ms;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const char *gw = answer_str (reply, i);
        uint64_t last = strtoull (answer_str (reply, i + 1), NULL, 10);
        if (!gateways_id_valid (gw) || gateways_has (self->gateways, gw))
            continue;
        if (last + timeout < wall) {
            char silent[24];
            snprintf (silent, sizeof silent, "%" PRIu64, wall - last);
            log_ev_warn ("gateway_dead", "gateway", gw, "why",
                         "no heartbeat while the matcher was away", "silent_ms",
                         silent, NULL);
            s_gateway_dead (self, gw, wall - timeout);
        } else {
            log_info ("gateway %s known from redis; waiting for its heartbeat",
                      gw);
            gateways_beat (self->gateways, gw, clock_mono_ms ());
        }
    }
}

static void
s_on_store_up (void *arg)
{
    engine_t *self = (engine_t *) arg;
    self->redis_ups++;
    //  Redis may have lost its data (then RESET): trust only new replies.
    routes_clear (self->routes);
    size_t kept = zlist_size (self->backlog);
    if (kept)
        log_info ("replaying %zu frames kept while redis was down", kept);
    s_job_t *job;
    while ((job = (s_job_t *) zlist_first (self->backlog))) {
        if (s_issue (self, job, 0) != 0)
            break;
        zlist_pop (self->backlog);
    }
    const char *argv[] = {"HGETALL", SCRIPT_KEY_GATEWAYS};
    size_t lens[] = {strlen (argv[0]), strlen (argv[1])};
    store_command (self->store, 2, argv, lens, s_on_gateways, self);
}

engine_t *
engine_new (const config_t *config, volatile sig_atomic_t *stop)
{
    assert (config);
    assert (stop);
    if (strlen (config->matcher_id) > FRAME_ID_MAX) {
        log_error ("matcher_id is longer than %d characters", FRAME_ID_MAX);
        return NULL;
    }
    engine_t *self = (engine_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = config;
    self->stop = stop;
    self->more_id = -1;
    calls_init (&self->calls, config);
    self->loop = zloop_new ();
    self->pull = zsock_new (ZMQ_PULL);
    self->gateways = gateways_new ();
    self->backlog = zlist_new ();
    if (!self->loop || !self->pull || !self->gateways || !self->backlog) {
        log_error ("out of memory creating the matcher");
        engine_destroy (&self);
        return NULL;
    }
    //  CURVE: the ZAP handler must serve before any server socket binds.
    if (config->curve && !(self->zap = zap_new (config, self->loop))) {
        engine_destroy (&self);
        return NULL;
    }
    if (zap_apply (self->zap, self->pull)) {
        log_error ("cannot make bus_in a CURVE server");
        engine_destroy (&self);
        return NULL;
    }
    zsock_set_rcvhwm (self->pull, config->bus_hwm);
    if (zsock_bind (self->pull, "%s", config->bus_in) == -1) {
        log_error ("cannot bind bus_in %s: %s", config->bus_in,
                   zmq_strerror (zmq_errno ()));
        engine_destroy (&self);
        return NULL;
    }
    self->pub =
        publisher_new (config->bus_out, config->bus_hwm,
                       config->gateway_timeout_ms, self->loop, self->zap);
    if (!self->pub) {
        engine_destroy (&self);
        return NULL;
    }
    if (*config->tap) {
        self->tap = tap_new (config->tap, self->loop, self->zap);
        if (!self->tap) {
            engine_destroy (&self);
            return NULL;
        }
        publisher_set_tap (self->pub, self->tap);
    }
    self->pull_fd.fd = zsock_fd (self->pull);
    self->pull_fd.events = ZMQ_POLLIN;
    if (zloop_poller (self->loop, &self->pull_fd, s_on_pull, self) != 0
        || zloop_timer (self->loop, (size_t) config->heartbeat_ms, 0,
                        s_on_heartbeat, self)
               == -1
        || zloop_timer (self->loop, STOP_CHECK_MS, 0, s_on_stop_check, self)
               == -1) {
        log_error ("cannot set up the matcher's loop");
        engine_destroy (&self);
        return NULL;
    }
    self->store = store_new (self->loop, config, s_on_store_up, self);
    self->routes = routes_new ((size_t) config->route_cache,
                               (uint64_t) config->match_ttl * 1000);
    if (self->store && self->routes) {
        self->relax = relax_new (self->loop, self->store, self->pub,
                                 self->routes, config);
        self->batch = batch_new (self->store, config->batch_max);
    }
    if (!self->store || !self->relax || !self->batch || !self->routes) {
        log_error ("out of memory creating the redis store");
        engine_destroy (&self);
        return NULL;
    }
    probe_sources_t sources = {self->store, self->pub, self->gateways,
                               &self->n_bad, self->routes};
    self->probe = probe_new (self->loop, config, &sources);
    if (!self->probe) {
        log_error ("out of memory creating the http probe");
        engine_destroy (&self);
        return NULL;
    }
    log_ev_info ("matcher_started", "matcher", config->matcher_id, "bus_in",
                 config->bus_in, "bus_out", config->bus_out, "redis",
                 config->redis_url, NULL);
    return self;
}

int
engine_run (engine_t *self)
{
    assert (self);
    while (1) {
        //  -1: our stop check ended the run. 0: zmq_poll was interrupted
        //  (our signal); go round so that the stop check can drain.
        if (zloop_start (self->loop) == -1)
            break;
        if (zsys_interrupted) //  czmq's own handler: its loop won't run
            break;
    }
    return 0;
}

void
engine_destroy (engine_t **self_p)
{
    assert (self_p);
    engine_t *self = *self_p;
    if (!self)
        return;
    probe_destroy (&self->probe); //  it reads the store and the publisher
    //  The store first: it answers its pending calls (NULL replies), which
    //  may still publish or fill the backlog.
    store_destroy (&self->store);
    relax_destroy (&self->relax); //  after the store: it answered relax too
    if (self->batch && batch_calls (self->batch)) {
        uint64_t calls = batch_calls (self->batch);
        uint64_t ops = batch_ops (self->batch);
        log_info ("redis totals: %" PRIu64 " frames in %" PRIu64
                  " script calls (%.1f per call, at most %d)",
                  ops, calls, (double) ops / (double) calls,
                  self->config->batch_max);
    }
    //  Empty: the store answered the batch calls, each sent (or answered)
    //  the ops held back behind it.
    batch_destroy (&self->batch);
    if (self->backlog) {
        size_t lost = zlist_size (self->backlog);
        if (lost)
            log_warn ("redis never came back: %zu open/close frames lost",
                      lost);
        s_job_t *job;
        while ((job = (s_job_t *) zlist_pop (self->backlog)))
            s_job_destroy (&job);
        zlist_destroy (&self->backlog);
    }
    uint64_t drops = self->pub ? publisher_drops (self->pub) : 0;
    uint64_t expired = self->pub ? publisher_expired (self->pub) : 0;
    if (self->n_bad || drops || expired || self->n_unavailable
        || self->n_backlog_drops)
        log_info ("bus totals: %" PRIu64 " bad frames in, %" PRIu64
                  " frames dropped out, %" PRIu64
                  " held frames expired, %" PRIu64
                  " unavailable answers, %" PRIu64
                  " frames lost while redis was down",
                  self->n_bad, drops, expired, self->n_unavailable,
                  self->n_backlog_drops);
    gateways_destroy (&self->gateways);
    if (self->routes
        && (routes_hits (self->routes) || routes_misses (self->routes)))
        log_info ("route totals: %" PRIu64
                  " relays from the route cache, %" PRIu64 " through redis",
                  routes_hits (self->routes), routes_misses (self->routes));
    routes_destroy (&self->routes); //  after the store: its replies use it
    if (self->pub)
        publisher_set_tap (self->pub, NULL);
    tap_destroy (&self->tap);
    //  The publisher leaves the loop (its subscription reader) before the
    //  loop goes.
    publisher_destroy (&self->pub);
    zsock_destroy (&self->pull);
    zap_destroy (&self->zap); //  after the sockets it admitted to
    zloop_destroy (&self->loop);
    free (self);
    *self_p = NULL;
}
