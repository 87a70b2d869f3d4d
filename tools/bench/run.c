//  run - megle-bench's clients and scenarios (see bench.h).
//
//  Every client is one WebSocket connection speaking the public protocol
//  (docs/protocol.md). Messages in are scanned, not parsed: the server's
//  envelopes have a fixed shape and the bench only needs the event name,
//  a few ids and the numbers it put into its own signal payloads. Signal
//  payloads carry {"seq", "ts" (send time, µs), "src" (sender's index),
//  "to" (the id the sender meant)}, so the receiver can tell lost,
//  duplicated, reordered and misdelivered signals and the one-way latency
//  (sender and receiver share this process's clock).

#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#define RUN_CONNECT_TIMEOUT_US (60 * 1000000ULL)
#define RUN_CONNECT_PER_US     3000 //  more connect time per connection
#define RUN_MATCH_TIMEOUT_US   (30 * 1000000ULL)
#define RUN_DRAIN_US           (3 * 1000000ULL)
#define RUN_MAX_UNSENT         (256 * 1024)
#define RUN_MIXED_GAP_US       50000 //  between one side's signals
#define RUN_MIXED_NEXT         0.7   //  chance a skipper looks again
#define RUN_SCAN_US            5000  //  mixed: timer scan period
#define RUN_FD_SPARE           64    //  descriptors kept for other uses
#define RUN_MAX_PROCS          64    //  conns: most worker processes

typedef enum {
    CS_CONNECTING,
    CS_IDLE,
    CS_FINDING,
    CS_MATCHED,
    CS_GONE
} s_cstate_t;

typedef struct {
    wsc_t *ws;
    long idx;
    int dst;
    s_cstate_t state;
    bool initiator;
    bool queued;
    bool talking; //  mixed: has started sending signals
    char id[BENCH_ID_LEN + 1];
    char partner[BENCH_ID_LEN + 1];
    long partner_idx; //  relay: index of the partner, -1 unknown
    uint64_t t_connect, t_find;
    uint64_t seq;     //  next sequence number to send
    uint64_t expect;  //  next sequence number expected from the partner
    long outstanding; //  sent, not yet delivered
    uint64_t talk_end, next_signal;
    long to_send;
} s_client_t;

typedef struct {
    const bench_opts_t *o;
    bench_result_t *r;
    wsnet_t *net;
    s_client_t **clients;
    size_t nclients, cap;
    size_t live;       //  connecting or open
    size_t connecting; //  handshakes in flight
    size_t per_dst[BENCH_MAX_URLS];
    long *q; //  clients waiting to send find_match (rate limit)
    size_t qcap, qhead, qlen;
    double tokens;
    uint64_t t_tokens;
    bool measuring; //  counts and histograms are taken
    bool sending;   //  relay: new signals may go out
    bool closing;   //  our own closes: not counted as drops
    uint64_t rng;
    size_t rr;
    uint64_t delivered_at_end;
    char *buf;
    size_t bufcap;
    uint64_t *hs; //  worker: handshake times, sent to the parent
    size_t nhs, hscap;
    char sdp[4200];
    char cand[300];
} s_run_t;

// ---------------------------------------------------------------------
//  Helpers

static double
s_rand (s_run_t *self)
{
    //  xorshift64*
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return (double) ((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static double
s_exp (s_run_t *self, double mean)
{
    double u = s_rand (self);
    if (u < 1e-12)
        u = 1e-12;
    return -log (u) * mean;
}

//  The first occurrence of needle in hay[0..len), or NULL.
static const char *
s_find (const char *hay, size_t len, const char *needle)
{
    size_t n = strlen (needle);
    if (n == 0 || len < n)
        return NULL;
    const char *end = hay + len - n + 1;
    for (const char *p = hay; p < end;) {
        p = memchr (p, needle[0], (size_t) (end - p));
        if (!p)
            return NULL;
        if (memcmp (p, needle, n) == 0)
            return p;
        p++;
    }
    return NULL;
}

//  Copy the string value after key ("\"key\":\"") into out; 0 or -1.
static int
s_str (const char *msg, size_t len, const char *key, char *out, size_t size)
{
    const char *p = s_find (msg, len, key);
    if (!p)
        return -1;
    p += strlen (key);
    const char *end = msg + len;
    size_t n = 0;
    while (p < end && *p != '"' && n + 1 < size)
        out[n++] = *p++;
    out[n] = '\0';
    return p < end && *p == '"' ? 0 : -1;
}

static int
s_num (const char *msg, size_t len, const char *key, uint64_t *out)
{
    const char *p = s_find (msg, len, key);
    if (!p)
        return -1;
    p += strlen (key);
    const char *end = msg + len;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t) (*p++ - '0');
    *out = v;
    return 0;
}

static void
s_count_error (s_run_t *self, const char *code)
{
    bench_counts_t *n = &self->r->n;
    n->errors++;
    for (int i = 0; i < BENCH_ERROR_KIND; i++) {
        if (n->error_code[i][0] == '\0') {
            snprintf (n->error_code[i], sizeof n->error_code[i], "%s", code);
            n->error_count[i] = 1;
            return;
        }
        if (strcmp (n->error_code[i], code) == 0) {
            n->error_count[i]++;
            return;
        }
    }
}

static int
s_send (s_client_t *c, const char *text, size_t len)
{
    if (!c->ws || wsc_send_text (c->ws, text, len))
        return -1;
    return 0;
}

static void
s_send_find (s_run_t *self, s_client_t *c)
{
    static const char msg[] = "{\"event\":\"find_match\",\"data\":{}}";
    if (s_send (c, msg, sizeof msg - 1))
        return;
    c->state = CS_FINDING;
    c->t_find = procstat_now_us ();
    self->r->n.finds++;
}

static void
s_send_leave (s_client_t *c)
{
    char msg[128];
    int n = snprintf (msg, sizeof msg,
                      "{\"event\":\"leave\",\"data\":{\"target_id\":\"%s\"}}",
                      c->partner);
    if (s_send (c, msg, (size_t) n) == 0)
        c->state = CS_IDLE;
}

//  One signal to the partner: an offer/answer (2-4 KB of SDP) every tenth
//  (and first), else a candidate (~200 B).
static void
s_send_signal (s_run_t *self, s_client_t *c)
{
    bool sdp = c->seq % 10 == 0;
    const char *type = !sdp ? "candidate" : c->initiator ? "offer" : "answer";
    size_t sdp_len = 2048 + (size_t) ((c->seq * 2654435761ULL) % 2048);
    size_t need = 512 + (sdp ? sdp_len : strlen (self->cand));
    if (need > self->bufcap) {
        char *p = realloc (self->buf, need);
        if (!p)
            return;
        self->buf = p;
        self->bufcap = need;
    }
    int n = snprintf (self->buf, self->bufcap,
                      "{\"event\":\"signal\",\"data\":{\"target_id\":\"%s\","
                      "\"type\":\"%s\",\"payload\":{\"seq\":%" PRIu64
                      ",\"ts\":%" PRIu64 ",\"src\":%ld,\"to\":\"%s\",",
                      c->partner, type, c->seq, procstat_now_us (), c->idx,
                      c->partner);
    if (n < 0)
        return;
    size_t len = (size_t) n;
    if (sdp) {
        len += (size_t) sprintf (self->buf + len, "\"type\":\"%s\",\"sdp\":\"",
                                 type);
        memcpy (self->buf + len, self->sdp, sdp_len);
        len += sdp_len;
        memcpy (self->buf + len, "\"}}}", 4);
        len += 4;
    } else {
        size_t cl = strlen (self->cand);
        memcpy (self->buf + len, self->cand, cl);
        len += cl;
        memcpy (self->buf + len, "}}}", 3);
        len += 3;
    }
    if (s_send (c, self->buf, len))
        return;
    c->seq++;
    c->outstanding++;
    self->r->n.sent++;
}

static void
s_enqueue_find (s_run_t *self, s_client_t *c)
{
    if (c->queued || !c->ws)
        return;
    if (self->qlen == self->qcap) {
        size_t n = self->qcap ? self->qcap * 2 : 1024;
        long *p = malloc (n * sizeof *p);
        if (!p)
            return;
        for (size_t i = 0; i < self->qlen; i++)
            p[i] = self->q[(self->qhead + i) % self->qcap];
        free (self->q);
        self->q = p;
        self->qcap = n;
        self->qhead = 0;
    }
    self->q[(self->qhead + self->qlen) % self->qcap] = c->idx;
    self->qlen++;
    c->queued = true;
    c->state = CS_IDLE;
}

//  Release queued find_match messages: all of them when flat out, else as
//  many as the token bucket allows (2 finds per pair).
static void
s_pump_finds (s_run_t *self)
{
    uint64_t now = procstat_now_us ();
    double budget;
    if (self->o->rate > 0) {
        self->tokens +=
            (double) (now - self->t_tokens) * 2.0 * self->o->rate / 1e6;
        self->t_tokens = now;
        if (self->tokens > 64 + self->o->rate / 50)
            self->tokens = 64 + self->o->rate / 50; //  at most ~20 ms burst
        budget = self->tokens;
    } else
        budget = 1e18;
    while (self->qlen && budget >= 1) {
        long idx = self->q[self->qhead];
        self->qhead = (self->qhead + 1) % self->qcap;
        self->qlen--;
        s_client_t *c = self->clients[idx];
        if (!c)
            continue;
        c->queued = false;
        if (c->ws && c->state == CS_IDLE) {
            s_send_find (self, c);
            budget -= 1;
            if (self->o->rate > 0)
                self->tokens -= 1;
        }
    }
}

// ---------------------------------------------------------------------
//  Clients

static s_client_t *
s_client_new (s_run_t *self, int dst)
{
    if (self->nclients == self->cap) {
        size_t n = self->cap ? self->cap * 2 : 1024;
        s_client_t **p = realloc (self->clients, n * sizeof *p);
        if (!p)
            return NULL;
        self->clients = p;
        self->cap = n;
    }
    s_client_t *c = calloc (1, sizeof *c);
    if (!c)
        return NULL;
    c->idx = (long) self->nclients;
    c->dst = dst;
    c->partner_idx = -1;
    c->t_connect = procstat_now_us ();
    //  Past per_src connections to one gateway, use 127.0.0.2, .3, ...
    //  as the source so that ephemeral ports do not run out (a worker of
    //  a --procs run starts at its own address, src_first).
    struct sockaddr_in src, *srcp = NULL;
    size_t k = self->per_dst[dst];
    size_t srci = (size_t) self->o->src_first
                  + (self->o->per_src > 0 ? k / (size_t) self->o->per_src : 0);
    if (srci > 0) {
        memset (&src, 0, sizeof src);
        src.sin_family = AF_INET;
        src.sin_addr.s_addr =
            htonl (0x7f000001u + (uint32_t) (srci % 0xfffffe));
        srcp = &src;
    }
    c->ws = wsnet_connect (self->net, &self->o->dst[dst], srcp,
                           self->o->host[dst], self->o->path[dst], c);
    if (!c->ws) {
        self->r->n.failed++;
        free (c);
        return NULL;
    }
    self->per_dst[dst]++;
    self->clients[self->nclients++] = c;
    self->live++;
    self->connecting++;
    if (self->live > self->r->n.peak_conns)
        self->r->n.peak_conns = self->live;
    return c;
}

static void
s_client_close (s_run_t *self, s_client_t *c)
{
    if (!c->ws)
        return;
    if (c->state == CS_CONNECTING)
        self->connecting--;
    wsc_close (c->ws);
    c->ws = NULL;
    c->state = CS_GONE;
    self->live--;
}

//  Mixed: a client that leaves the site for good.
static void
s_client_depart (s_run_t *self, s_client_t *c)
{
    s_client_close (self, c);
    self->r->n.departures++;
    self->clients[c->idx] = NULL;
    free (c);
}

static void
s_on_open (wsc_t *ws, void *arg)
{
    (void) ws;
    (void) arg; //  the session exists once "welcome" arrives
}

static void
s_on_pong (wsc_t *ws, void *arg)
{
    (void) ws;
    s_run_t *self = arg;
    self->r->n.pongs++;
}

static void
s_on_close (wsc_t *ws, const char *why, void *arg)
{
    s_run_t *self = arg;
    s_client_t *c = wsc_user (ws);
    if (c->state == CS_CONNECTING) {
        self->connecting--;
        self->r->n.failed++;
        if (!self->o->quiet && self->r->n.failed <= 5)
            fprintf (stderr, "megle-bench: connection %ld failed: %s\n", c->idx,
                     why);
    } else if (!self->closing) {
        self->r->n.dropped++;
        if (!self->o->quiet && self->r->n.dropped <= 5)
            fprintf (stderr, "megle-bench: connection %ld dropped: %s\n",
                     c->idx, why);
    }
    c->ws = NULL;
    c->state = CS_GONE;
    self->live--;
}

static void
s_on_welcome (s_run_t *self, s_client_t *c, const char *msg, size_t len)
{
    if (c->state != CS_CONNECTING)
        return;
    self->connecting--;
    s_str (msg, len, "\"id\":\"", c->id, sizeof c->id);
    c->state = CS_IDLE;
    self->r->n.opened++;
    uint64_t hs = procstat_now_us () - c->t_connect;
    hist_add (self->r->h_handshake, hs);
    if (self->o->sync_up >= 0) {
        if (self->nhs == self->hscap) {
            size_t n = self->hscap ? self->hscap * 2 : 1024;
            uint64_t *p = realloc (self->hs, n * sizeof *p);
            if (p) {
                self->hs = p;
                self->hscap = n;
            }
        }
        if (self->nhs < self->hscap)
            self->hs[self->nhs++] = hs;
    }
    switch (self->o->scenario) {
    case SCENARIO_MATCH:
        if (self->measuring)
            s_enqueue_find (self, c);
        break;
    case SCENARIO_RELAY:
    case SCENARIO_MIXED:
        s_send_find (self, c);
        break;
    default:
        break;
    }
}

static void
s_on_match (s_run_t *self, s_client_t *c, const char *msg, size_t len)
{
    uint64_t now = procstat_now_us ();
    if (s_str (msg, len, "\"partner_id\":\"", c->partner, sizeof c->partner))
        return;
    c->initiator = s_find (msg, len, "\"initiator\":true") != NULL;
    bool found = c->state == CS_FINDING;
    c->state = CS_MATCHED;
    c->seq = c->expect = 0;
    c->outstanding = 0;
    c->talking = false;
    if (self->measuring) {
        self->r->n.matched++;
        if (c->initiator)
            self->r->n.pairs++;
        if (found)
            hist_add (self->r->h_match, now - c->t_find);
    }
    switch (self->o->scenario) {
    case SCENARIO_MATCH:
        if (c->initiator) {
            s_send_leave (c);
            s_enqueue_find (self, c);
        }
        break;
    case SCENARIO_MIXED:
        c->talk_end = now + (uint64_t) (s_exp (self, self->o->talk) * 1e6);
        c->to_send = (self->o->signals + (c->initiator ? 1 : 0)) / 2;
        c->next_signal = now;
        c->talking = c->initiator; //  the other side answers the offer
        break;
    default:
        break;
    }
}

static void
s_on_signal (s_run_t *self, s_client_t *c, const char *msg, size_t len)
{
    uint64_t now = procstat_now_us ();
    bench_counts_t *n = &self->r->n;
    n->delivered++;
    char sender[BENCH_ID_LEN + 1] = "", to[BENCH_ID_LEN + 1] = "";
    uint64_t seq = 0, ts = 0, src = 0;
    const char *payload = s_find (msg, len, "\"payload\":");
    if (!payload || s_str (msg, len, "\"sender_id\":\"", sender, sizeof sender)
        || s_num (payload, len - (size_t) (payload - msg), "\"seq\":", &seq)
        || s_num (payload, len - (size_t) (payload - msg), "\"ts\":", &ts)
        || s_num (payload, len - (size_t) (payload - msg), "\"src\":", &src)
        || s_str (payload, len - (size_t) (payload - msg), "\"to\":\"", to,
                  sizeof to)) {
        n->misdelivered++;
        return;
    }
    s_client_t *from =
        src < self->nclients ? self->clients[(size_t) src] : NULL;
    if (strcmp (to, c->id) != 0 || strcmp (sender, c->partner) != 0
        || (from && strcmp (from->id, sender) != 0)) {
        n->misdelivered++;
        return;
    }
    if (ts <= now)
        hist_add (self->r->h_relay, now - ts);
    if (seq == c->expect)
        c->expect++;
    else if (seq < c->expect)
        n->duplicated++;
    else {
        n->reordered++;
        n->lost += seq - c->expect;
        c->expect = seq + 1;
    }
    if (from && from->outstanding > 0)
        from->outstanding--;
    if (self->o->scenario == SCENARIO_RELAY && from && self->sending
        && self->o->rate <= 0 && from->ws
        && wsc_unsent (from->ws) < RUN_MAX_UNSENT)
        while (from->outstanding < self->o->window)
            s_send_signal (self, from);
    if (self->o->scenario == SCENARIO_MIXED && !c->talking
        && c->state == CS_MATCHED) {
        c->talking = true; //  answer the offer now
        c->next_signal = now;
    }
}

static void
s_on_partner_left (s_run_t *self, s_client_t *c)
{
    self->r->n.partner_left++;
    c->partner[0] = '\0';
    switch (self->o->scenario) {
    case SCENARIO_MATCH:
        c->state = CS_IDLE;
        if (self->measuring)
            s_enqueue_find (self, c);
        break;
    case SCENARIO_MIXED:
        c->state = CS_IDLE;
        if (s_rand (self) < RUN_MIXED_NEXT)
            s_send_find (self, c);
        else
            s_client_depart (self, c);
        break;
    default:
        c->state = CS_IDLE;
        break;
    }
}

static void
s_on_text (wsc_t *ws, char *msg, size_t len, void *arg)
{
    s_run_t *self = arg;
    s_client_t *c = wsc_user (ws);
    char event[24];
    if (s_str (msg, len, "\"event\":\"", event, sizeof event)) {
        s_count_error (self, "bench:unparsed");
        return;
    }
    if (strcmp (event, "signal") == 0)
        s_on_signal (self, c, msg, len);
    else if (strcmp (event, "match_found") == 0)
        s_on_match (self, c, msg, len);
    else if (strcmp (event, "waiting") == 0)
        self->r->n.waiting++;
    else if (strcmp (event, "partner_left") == 0)
        s_on_partner_left (self, c);
    else if (strcmp (event, "welcome") == 0)
        s_on_welcome (self, c, msg, len);
    else if (strcmp (event, "error") == 0) {
        char code[24] = "?";
        s_str (msg, len, "\"code\":\"", code, sizeof code);
        s_count_error (self, code);
    }
    //  other events (online, chat, ...) are ignored, as old clients do
}

// ---------------------------------------------------------------------
//  Phases

//  How long count connections may take to open (gateways with tens of
//  thousands of sockets accept slower).
static uint64_t
s_connect_timeout_us (long count)
{
    return RUN_CONNECT_TIMEOUT_US + (uint64_t) count * RUN_CONNECT_PER_US;
}

static int
s_turn (s_run_t *self, int timeout_ms)
{
    if (wsnet_run_once (self->net, timeout_ms) < 0) {
        snprintf (self->r->why, sizeof self->r->why, "epoll: %s",
                  strerror (errno));
        return -1;
    }
    return 0;
}

//  Open count connections spread over the gateways, at most burst
//  handshakes at once; returns when all are open or failed.
static int
s_connect_all (s_run_t *self, long count)
{
    uint64_t timeout = s_connect_timeout_us (count);
    uint64_t deadline = procstat_now_us () + timeout;
    long created = 0;
    while (procstat_now_us () < deadline) {
        while (created < count && (long) self->connecting < self->o->burst) {
            int dst = (int) (created % self->o->nurls);
            created++;
            if (!s_client_new (self, dst)) {
                if (!self->o->quiet && self->r->n.failed <= 5)
                    fprintf (stderr, "megle-bench: connect: %s\n",
                             strerror (errno));
                if (errno == EMFILE || errno == ENFILE)
                    created = count;
            }
        }
        if (created >= count && self->connecting == 0)
            return 0;
        if (s_turn (self, 10))
            return -1;
    }
    snprintf (self->r->why, sizeof self->r->why,
              "connections still opening after %llu s",
              (unsigned long long) (timeout / 1000000));
    return -1;
}

static void
s_sample (s_run_t *self, procstat_t *out)
{
    for (int i = 0; i < self->o->npids; i++)
        procstat_read (self->o->pid[i], &out[i]);
}

//  Start and end of the measured window: server and bench CPU.
static void
s_window_start (s_run_t *self)
{
    s_sample (self, self->r->usage.before);
    self->r->usage.self_cpu_us = procstat_self_cpu_us ();
    self->r->usage.wall_us = procstat_now_us ();
}

static void
s_window_end (s_run_t *self)
{
    s_sample (self, self->r->usage.after);
    self->r->usage.self_cpu_us =
        procstat_self_cpu_us () - self->r->usage.self_cpu_us;
    self->r->usage.wall_us = procstat_now_us () - self->r->usage.wall_us;
    self->r->window_s = (double) self->r->usage.wall_us / 1e6;
}

static void
s_close_all (s_run_t *self)
{
    self->closing = true;
    for (size_t i = 0; i < self->nclients; i++)
        if (self->clients[i])
            s_client_close (self, self->clients[i]);
    s_turn (self, 0);
}

// ---------------------------------------------------------------------
//  Several processes (conns --procs): each worker holds a share of the
//  connections; the parent samples RSS and CPU once all of them hold
//  theirs. Worker -> parent: 'R' (connected) then 'D' + s_report_t +
//  handshake times; parent -> worker: 'G' (hold now), 'X' (close, exit).

typedef struct {
    int rc;
    bench_counts_t n;
    uint64_t still_open;
    uint64_t self_cpu_us;
    uint64_t nhs; //  handshake times that follow
    char why[160];
} s_report_t;

typedef enum { W_DEAD = -1, W_CONNECTING, W_READY, W_DONE } s_wstate_t;

typedef struct {
    pid_t pid;
    int up, down; //  parent's ends
    s_wstate_t state;
    int rc;
} s_worker_t;

static int
s_write_all (int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write (fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static int
s_read_all (int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read (fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

//  Worker: serve the connections until the parent sends a byte; 0, or -1
//  if the parent is gone.
static int
s_worker_wait (s_run_t *self)
{
    for (;;) {
        struct pollfd p = {.fd = self->o->sync_down, .events = POLLIN};
        int n = poll (&p, 1, 0);
        if (n > 0) {
            char c;
            return s_read_all (self->o->sync_down, &c, 1);
        }
        if (n < 0 && errno != EINTR)
            return -1;
        if (s_turn (self, 5))
            return -1;
    }
}

//  Worker: send the result, then hold the connections until told to close.
static void
s_worker_report (s_run_t *self, int rc)
{
    s_report_t rep;
    memset (&rep, 0, sizeof rep);
    rep.rc = rc;
    rep.n = self->r->n;
    rep.still_open = self->r->still_open;
    rep.self_cpu_us = self->r->usage.self_cpu_us;
    rep.nhs = self->nhs;
    snprintf (rep.why, sizeof rep.why, "%s", self->r->why);
    int fd = self->o->sync_up;
    if (s_write_all (fd, "D", 1) || s_write_all (fd, &rep, sizeof rep)
        || s_write_all (fd, self->hs, self->nhs * sizeof *self->hs))
        return;
    s_worker_wait (self);
}

static void
s_merge_counts (bench_counts_t *to, const bench_counts_t *from)
{
    to->opened += from->opened;
    to->failed += from->failed;
    to->dropped += from->dropped;
    to->pings += from->pings;
    to->pongs += from->pongs;
    to->errors += from->errors;
    to->peak_conns += from->peak_conns;
    for (int i = 0; i < BENCH_ERROR_KIND && from->error_code[i][0]; i++)
        for (int j = 0; j < BENCH_ERROR_KIND; j++) {
            if (to->error_code[j][0] == '\0')
                snprintf (to->error_code[j], sizeof to->error_code[j], "%s",
                          from->error_code[i]);
            if (strcmp (to->error_code[j], from->error_code[i]) == 0) {
                to->error_count[j] += from->error_count[i];
                break;
            }
        }
}

//  Parent: one message of worker w ('R', or 'D' and its report).
static void
s_worker_read (s_worker_t *w, bench_result_t *r)
{
    char tag;
    s_report_t rep;
    if (s_read_all (w->up, &tag, 1)) {
        w->state = W_DEAD;
        return;
    }
    if (tag == 'R') {
        w->state = W_READY;
        return;
    }
    if (tag != 'D' || s_read_all (w->up, &rep, sizeof rep)) {
        w->state = W_DEAD;
        return;
    }
    uint64_t chunk[512];
    for (uint64_t left = rep.nhs; left;) {
        size_t k = left < 512 ? (size_t) left : 512;
        if (s_read_all (w->up, chunk, k * sizeof chunk[0])) {
            w->state = W_DEAD;
            return;
        }
        for (size_t i = 0; i < k; i++)
            hist_add (r->h_handshake, chunk[i]);
        left -= k;
    }
    s_merge_counts (&r->n, &rep.n);
    r->still_open += rep.still_open;
    r->usage.self_cpu_us += rep.self_cpu_us;
    if (rep.self_cpu_us > r->usage.self_cpu_max_us)
        r->usage.self_cpu_max_us = rep.self_cpu_us;
    if (rep.rc && !r->why[0])
        snprintf (r->why, sizeof r->why, "worker %d: %.140s", (int) w->pid,
                  rep.why);
    w->rc = rep.rc;
    w->state = W_DONE;
}

//  Parent: read messages until every live worker reached state want or
//  the deadline passed; 0 if all did.
static int
s_workers_wait (s_worker_t *w, long n, s_wstate_t want, uint64_t deadline,
                bench_result_t *r)
{
    for (;;) {
        struct pollfd p[RUN_MAX_PROCS];
        long idx[RUN_MAX_PROCS], np = 0;
        for (long i = 0; i < n; i++)
            if (w[i].state != W_DEAD && w[i].state < want) {
                p[np].fd = w[i].up;
                p[np].events = POLLIN;
                p[np].revents = 0;
                idx[np++] = i;
            }
        if (np == 0)
            break;
        uint64_t now = procstat_now_us ();
        if (now >= deadline)
            return -1;
        uint64_t wait_ms = (deadline - now) / 1000 + 1;
        int k = poll (p, (nfds_t) np, wait_ms > 1000 ? 1000 : (int) wait_ms);
        if (k < 0 && errno != EINTR)
            return -1;
        for (long j = 0; k > 0 && j < np; j++)
            if (p[j].revents)
                s_worker_read (&w[idx[j]], r);
    }
    for (long i = 0; i < n; i++)
        if (w[i].state == W_DEAD)
            return -1;
    return 0;
}

//  Parent: send what to every worker in state in.
static void
s_worker_tell (s_worker_t *w, long n, s_wstate_t in, char what)
{
    for (long i = 0; i < n; i++)
        if (w[i].state == in && s_write_all (w[i].down, &what, 1))
            w[i].state = W_DEAD;
}

//  Parent: let the workers close and exit (or stop them, on failure).
static void
s_workers_end (s_worker_t *w, long n, int failed)
{
    s_worker_tell (w, n, W_DONE, 'X');
    for (long i = 0; i < n; i++) {
        if (failed && w[i].state != W_DONE)
            kill (w[i].pid, SIGTERM);
        close (w[i].down);
        int st;
        while (waitpid (w[i].pid, &st, 0) < 0 && errno == EINTR)
            ;
        close (w[i].up);
    }
}

static int
s_conns_procs (const bench_opts_t *o, bench_result_t *r, long procs)
{
    s_worker_t w[RUN_MAX_PROCS];
    long n = 0;
    procstat_t rss0[BENCH_MAX_PIDS];
    for (int i = 0; i < o->npids; i++)
        procstat_read (o->pid[i], &rss0[i]);
    for (int i = 0; i < o->npids; i++)
        procstat_read (o->pid[i], &r->usage.before[i]);
    uint64_t t0 = procstat_now_us ();
    r->procs = (int) procs;
    //  Each worker's connections per gateway need this many addresses.
    long per_dst = (o->conns / procs + 1) / o->nurls + 1;
    long stride = 1 + per_dst / (o->per_src > 0 ? o->per_src : per_dst + 1);
    signal (SIGPIPE, SIG_IGN);
    fflush (stdout);
    fflush (stderr);
    int rc = 0;
    for (; n < procs; n++) {
        int up[2], down[2];
        if (pipe (up))
            break;
        if (pipe (down)) {
            close (up[0]);
            close (up[1]);
            break;
        }
        pid_t pid = fork ();
        if (pid < 0) {
            close (up[0]);
            close (up[1]);
            close (down[0]);
            close (down[1]);
            break;
        }
        if (pid == 0) {
            for (long i = 0; i < n; i++) {
                close (w[i].up);
                close (w[i].down);
            }
            close (up[0]);
            close (down[1]);
            bench_opts_t c = *o;
            c.conns = o->conns / procs + (n < o->conns % procs ? 1 : 0);
            c.npids = 0;
            c.procs = 1;
            c.src_first = o->src_first + n * stride;
            c.sync_up = up[1];
            c.sync_down = down[0];
            bench_result_t cr;
            int crc = bench_run (&c, &cr);
            hist_destroy (&cr.h_handshake);
            hist_destroy (&cr.h_match);
            hist_destroy (&cr.h_relay);
            _exit (crc ? 1 : 0);
        }
        close (up[1]);
        close (down[0]);
        w[n] = (s_worker_t){
            .pid = pid, .up = up[0], .down = down[1], .state = W_CONNECTING};
    }
    if (n < procs) {
        snprintf (r->why, sizeof r->why, "fork/pipe: %s", strerror (errno));
        rc = -1;
    }
    //  All connected (or failed): then everybody holds for o->hold.
    if (rc == 0
        && s_workers_wait (w, n, W_READY,
                           procstat_now_us ()
                               + s_connect_timeout_us (o->conns / procs + 1)
                               + 10000000ULL,
                           r))
        rc = -1;
    double secs = (double) (procstat_now_us () - t0) / 1e6;
    r->connect_s = secs;
    for (int i = 0; i < o->npids; i++)
        procstat_read (o->pid[i], &r->hold_from[i]);
    uint64_t t_hold = procstat_now_us ();
    s_worker_tell (w, n, W_READY, 'G');
    if (rc == 0
        && s_workers_wait (
            w, n, W_DONE,
            procstat_now_us () + (uint64_t) (o->hold * 1e6) + 60000000ULL, r))
        rc = -1;
    for (int i = 0; i < o->npids; i++)
        procstat_read (o->pid[i], &r->usage.after[i]);
    r->usage.wall_us = procstat_now_us () - t0;
    r->hold_us = procstat_now_us () - t_hold;
    r->window_s = (double) r->usage.wall_us / 1e6;
    for (int i = 0; i < o->npids; i++)
        r->usage.before[i].rss_kb = rss0[i].rss_kb;
    r->handshake_rate = secs > 0 ? (double) r->n.opened / secs : 0;
    for (long i = 0; i < n; i++)
        if (w[i].state != W_DONE || w[i].rc)
            rc = -1;
    s_workers_end (w, n, rc);
    if (rc && !r->why[0])
        snprintf (r->why, sizeof r->why, "a worker process failed or died");
    r->ok = rc == 0;
    return rc;
}

static int
s_conns (s_run_t *self)
{
    const bench_opts_t *o = self->o;
    procstat_t rss0[BENCH_MAX_PIDS];
    s_sample (self, rss0);
    s_window_start (self);
    uint64_t t0 = procstat_now_us ();
    if (s_connect_all (self, o->conns))
        return -1;
    double secs = (double) (procstat_now_us () - t0) / 1e6;
    self->r->handshake_rate = secs > 0 ? (double) self->r->n.opened / secs : 0;
    self->r->connect_s = secs;
    if (o->sync_up >= 0
        && (s_write_all (o->sync_up, "R", 1) || s_worker_wait (self))) {
        snprintf (self->r->why, sizeof self->r->why, "parent gone");
        return -1;
    }
    //  Hold: each connection pings every o->ping seconds, spread evenly.
    s_sample (self, self->r->hold_from);
    uint64_t start = procstat_now_us ();
    uint64_t end = start + (uint64_t) (o->hold * 1e6);
    double per_us = (double) self->nclients / (o->ping * 1e6);
    double due = 0;
    uint64_t last = start;
    size_t cursor = 0;
    while (procstat_now_us () < end) {
        uint64_t now = procstat_now_us ();
        due += (double) (now - last) * per_us;
        last = now;
        while (due >= 1 && self->nclients) {
            s_client_t *c = self->clients[cursor];
            cursor = (cursor + 1) % self->nclients;
            due -= 1;
            if (c && c->ws && wsc_send_ping (c->ws) == 0)
                self->r->n.pings++;
        }
        if (s_turn (self, 5))
            return -1;
    }
    //  Pongs in flight come back before the count.
    uint64_t settle = procstat_now_us () + 1000000;
    while (self->r->n.pongs < self->r->n.pings && procstat_now_us () < settle)
        if (s_turn (self, 5))
            return -1;
    s_window_end (self);
    self->r->hold_us = procstat_now_us () - start;
    for (int i = 0; i < o->npids; i++)
        self->r->usage.before[i].rss_kb = rss0[i].rss_kb;
    for (size_t i = 0; i < self->nclients; i++) {
        s_client_t *c = self->clients[i];
        if (c && c->ws && wsc_is_open (c->ws))
            self->r->still_open++;
    }
    return 0;
}

static int
s_match (s_run_t *self)
{
    const bench_opts_t *o = self->o;
    if (s_connect_all (self, o->clients))
        return -1;
    self->measuring = true;
    self->t_tokens = procstat_now_us ();
    s_window_start (self);
    for (size_t i = 0; i < self->nclients; i++)
        if (self->clients[i] && self->clients[i]->ws)
            s_enqueue_find (self, self->clients[i]);
    uint64_t end = procstat_now_us () + (uint64_t) (o->duration * 1e6);
    while (procstat_now_us () < end) {
        s_pump_finds (self);
        if (s_turn (self, o->rate > 0 ? 1 : 10))
            return -1;
    }
    self->measuring = false;
    s_window_end (self);
    return 0;
}

static int
s_cmp_id (const void *a, const void *b)
{
    const s_client_t *x = *(s_client_t *const *) a;
    const s_client_t *y = *(s_client_t *const *) b;
    return strcmp (x->id, y->id);
}

static int
s_relay (s_run_t *self)
{
    const bench_opts_t *o = self->o;
    self->measuring = true; //  (match counters are not reported here)
    if (s_connect_all (self, o->pairs * 2))
        return -1;
    uint64_t deadline = procstat_now_us () + RUN_MATCH_TIMEOUT_US;
    while (self->r->n.matched < self->r->n.opened
           && procstat_now_us () < deadline)
        if (s_turn (self, 10))
            return -1;
    if (self->r->n.matched < self->r->n.opened) {
        snprintf (self->r->why, sizeof self->r->why,
                  "only %" PRIu64 " of %" PRIu64 " clients matched",
                  self->r->n.matched, self->r->n.opened);
        return -1;
    }
    //  Find each client's partner (for the loss count at the end).
    size_t n = self->nclients;
    s_client_t **sorted = malloc (n * sizeof *sorted);
    if (!sorted)
        return -1;
    memcpy (sorted, self->clients, n * sizeof *sorted);
    qsort (sorted, n, sizeof *sorted, s_cmp_id);
    for (size_t i = 0; i < n; i++) {
        s_client_t key, *kp = &key;
        memcpy (key.id, self->clients[i]->partner, sizeof key.id);
        s_client_t **hit = bsearch (&kp, sorted, n, sizeof *sorted, s_cmp_id);
        self->clients[i]->partner_idx = hit ? (*hit)->idx : -1;
    }
    free (sorted);

    self->measuring = true;
    self->sending = true;
    self->r->n.matched = self->r->n.pairs = 0;
    hist_reset (self->r->h_match);
    s_window_start (self);
    uint64_t start = procstat_now_us ();
    uint64_t end = start + (uint64_t) (o->duration * 1e6);
    if (o->rate <= 0)
        for (size_t i = 0; i < n; i++)
            while (self->clients[i]->outstanding < o->window)
                s_send_signal (self, self->clients[i]);
    double due = 0;
    uint64_t last = start;
    while (procstat_now_us () < end) {
        if (o->rate > 0) {
            uint64_t now = procstat_now_us ();
            due += (double) (now - last) * o->rate / 1e6;
            last = now;
            if (due > 64 + o->rate / 50)
                due = 64 + o->rate / 50;
            for (size_t tries = 0; due >= 1 && tries < n; tries++) {
                s_client_t *c = self->clients[self->rr];
                self->rr = (self->rr + 1) % n;
                if (c->ws && c->outstanding < o->window
                    && wsc_unsent (c->ws) < RUN_MAX_UNSENT) {
                    s_send_signal (self, c);
                    due -= 1;
                    tries = 0;
                }
            }
        }
        if (s_turn (self, o->rate > 0 ? 1 : 10))
            return -1;
    }
    self->sending = false;
    self->delivered_at_end = self->r->n.delivered;
    s_window_end (self);
    //  Let what is in flight arrive, then count what did not.
    uint64_t drain = procstat_now_us () + RUN_DRAIN_US;
    for (;;) {
        long out = 0;
        for (size_t i = 0; i < n; i++)
            out += self->clients[i]->outstanding;
        if (out == 0 || procstat_now_us () >= drain)
            break;
        if (s_turn (self, 10))
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        s_client_t *c = self->clients[i];
        if (c->partner_idx < 0)
            continue;
        s_client_t *p = self->clients[c->partner_idx];
        if (p->seq > c->expect)
            self->r->n.lost += p->seq - c->expect;
    }
    return 0;
}

//  Mixed: timers of matched clients (send the next signal, skip).
static void
s_mixed_scan (s_run_t *self, uint64_t now)
{
    for (size_t i = 0; i < self->nclients; i++) {
        s_client_t *c = self->clients[i];
        if (!c || !c->ws || c->state != CS_MATCHED)
            continue;
        if (c->talking && c->to_send > 0 && now >= c->next_signal
            && wsc_unsent (c->ws) < RUN_MAX_UNSENT) {
            s_send_signal (self, c);
            c->to_send--;
            c->next_signal = now + RUN_MIXED_GAP_US;
        }
        if (c->initiator && now >= c->talk_end) {
            self->r->n.skips++;
            if (s_rand (self) < RUN_MIXED_NEXT) {
                s_send_leave (c);
                s_send_find (self, c);
            } else
                s_client_depart (self, c);
        }
    }
}

static int
s_mixed (s_run_t *self)
{
    const bench_opts_t *o = self->o;
    self->measuring = true;
    s_window_start (self);
    uint64_t start = procstat_now_us ();
    uint64_t end = start + (uint64_t) (o->duration * 1e6);
    uint64_t next = start + (uint64_t) (s_exp (self, 1.0 / o->rate) * 1e6);
    uint64_t next_scan = start;
    int dst = 0;
    uint64_t now;
    while ((now = procstat_now_us ()) < end) {
        while (now >= next) {
            self->r->n.arrivals++;
            if ((long) self->live < o->max_conns) {
                s_client_new (self, dst);
                dst = (dst + 1) % o->nurls;
            }
            next += (uint64_t) (s_exp (self, 1.0 / o->rate) * 1e6);
        }
        if (now >= next_scan) {
            s_mixed_scan (self, now);
            next_scan = now + RUN_SCAN_US;
        }
        if (s_turn (self, 1))
            return -1;
    }
    self->measuring = false;
    s_window_end (self);
    self->delivered_at_end = self->r->n.delivered;
    return 0;
}

// ---------------------------------------------------------------------
//  Entry

static void
s_fill_payloads (s_run_t *self)
{
    static const char *lines[] = {
        "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\n",
        "t=0 0\\r\\na=group:BUNDLE 0 1\\r\\na=msid-semantic: WMS\\r\\n",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 102\\r\\n",
        "a=rtpmap:96 VP8/90000\\r\\na=rtcp-fb:96 goog-remb\\r\\n",
        "a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3\\r\\n",
        "a=ice-ufrag:EsAw\\r\\na=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\\r\\n"};
    size_t at = 0, i = 0;
    while (at + 80 < sizeof self->sdp - 1) {
        size_t l = strlen (lines[i % 6]);
        memcpy (self->sdp + at, lines[i % 6], l);
        at += l;
        i++;
    }
    memset (self->sdp + at, 'x', sizeof self->sdp - 1 - at);
    self->sdp[sizeof self->sdp - 1] = '\0';
    //  s_send_signal cuts this at any length from 2048 to 4095 bytes; a
    //  cut through a "\\r" escape would break the JSON, so the filler
    //  carries no backslash at all.
    for (size_t k = 0; k < sizeof self->sdp - 1; k++)
        if (self->sdp[k] == '\\')
            self->sdp[k] = '/';
    snprintf (self->cand, sizeof self->cand, "%s",
              "\"candidate\":\"candidate:842163049 1 udp 1677729535 "
              "203.0.113.7 54321 typ srflx raddr 192.168.1.7 rport 54321 "
              "generation 0 ufrag EsAw network-id 1 network-cost 10\","
              "\"sdpMid\":\"0\",\"sdpMLineIndex\":0");
}

int
bench_run (const bench_opts_t *opts, bench_result_t *result)
{
    memset (result, 0, sizeof *result);
    result->h_handshake = hist_new ();
    result->h_match = hist_new ();
    result->h_relay = hist_new ();
    result->procs = 1;
    //  Sockets up to the hard open-file limit; conns beyond it fork.
    struct rlimit rl;
    long cap = 1000000000L;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit (RLIMIT_NOFILE, &rl);
            getrlimit (RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY
            && rl.rlim_cur < (rlim_t) cap + RUN_FD_SPARE)
            cap = rl.rlim_cur > 2 * RUN_FD_SPARE
                      ? (long) rl.rlim_cur - RUN_FD_SPARE
                      : RUN_FD_SPARE;
    }
    if (opts->scenario == SCENARIO_CONNS && opts->sync_up < 0
        && result->h_handshake) {
        long procs =
            opts->procs > 0 ? opts->procs : (opts->conns + cap - 1) / cap;
        if (procs > opts->conns)
            procs = opts->conns;
        if (procs > RUN_MAX_PROCS) {
            snprintf (result->why, sizeof result->why,
                      "%ld connections need more than %d processes",
                      opts->conns, RUN_MAX_PROCS);
            return -1;
        }
        if (procs > 1)
            return s_conns_procs (opts, result, procs);
    }
    s_run_t run;
    memset (&run, 0, sizeof run);
    run.o = opts;
    run.r = result;
    run.rng = opts->seed ? opts->seed : 0x853c49e6748fea9bULL;
    s_fill_payloads (&run);
    wsc_handler_t handler = {s_on_open, s_on_text, s_on_pong, s_on_close};
    run.net = wsnet_new (&handler, &run);
    if (!run.net || !result->h_handshake || !result->h_match
        || !result->h_relay) {
        snprintf (result->why, sizeof result->why, "out of memory");
        wsnet_destroy (&run.net);
        return -1;
    }
    int rc = -1;
    switch (opts->scenario) {
    case SCENARIO_CONNS:
        rc = s_conns (&run);
        break;
    case SCENARIO_MATCH:
        rc = s_match (&run);
        break;
    case SCENARIO_RELAY:
        rc = s_relay (&run);
        break;
    case SCENARIO_MIXED:
        rc = s_mixed (&run);
        break;
    }
    result->delivered_window = run.delivered_at_end;
    if (opts->sync_up >= 0)
        s_worker_report (&run, rc);
    s_close_all (&run);
    wsnet_destroy (&run.net);
    for (size_t i = 0; i < run.nclients; i++)
        free (run.clients[i]);
    free (run.clients);
    free (run.q);
    free (run.buf);
    free (run.hs);
    result->ok = rc == 0;
    return rc;
}
