//  floor_client - megle-floor's client (see floor.h): 2 * pairs TCP
//  connections on one epoll loop, sending paced or flat out like
//  megle-bench relay (same sizes, same pacing, same window), a turn's
//  messages to one socket leaving in one send(), and checking every
//  message: destination, sender, sequence; one-way latency from the send
//  time it carries.

#include "floor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENT_EVENTS     1024
#define CLIENT_RBUF       (FLOOR_MAX_MSG + 4)
#define CLIENT_SMALL      200  //  a candidate's bytes, header included
#define CLIENT_SDP_MIN    2048 //  an offer/answer: 2-4 KB, 1 in 10
#define CLIENT_SDP_SPREAD 2048
#define CLIENT_MAX_UNSENT (256 * 1024) //  as megle-bench's RUN_MAX_UNSENT
#define CLIENT_CONNECT_US (10 * 1000000ULL)
#define CLIENT_DRAIN_US   (3 * 1000000ULL)

typedef struct {
    int fd;
    uint32_t idx, partner;
    bool acked;      //  the gateway answered the hello
    bool dirty;      //  on the turn's list of sockets to flush
    bool want_out;   //  EPOLLOUT registered
    uint64_t seq;    //  next to send
    uint64_t expect; //  next expected from the partner
    long outstanding;
    char *rbuf;
    size_t rlen;
    floor_buf_t out;
} s_conn_t;

typedef struct {
    const floor_opts_t *o;
    floor_result_t *r;
    int epfd;
    s_conn_t *conns;
    size_t n;
    s_conn_t **dirty;
    size_t ndirty;
    char payload[CLIENT_SDP_MIN + CLIENT_SDP_SPREAD];
    bool sending;
    size_t acked;
    size_t rr;
} s_client_t;

static void
s_mark_dirty (s_client_t *self, s_conn_t *c)
{
    if (!c->dirty) {
        c->dirty = true;
        self->dirty[self->ndirty++] = c;
    }
}

static void
s_want_out (s_client_t *self, s_conn_t *c, bool want)
{
    if (c->want_out == want || c->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
                             .data.ptr = c};
    epoll_ctl (self->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

static void
s_conn_fail (s_client_t *self, s_conn_t *c, const char *what)
{
    if (c->fd < 0)
        return;
    if (!self->r->why[0])
        snprintf (self->r->why, sizeof self->r->why, "connection %u: %s: %s",
                  c->idx, what, errno ? strerror (errno) : "closed");
    epoll_ctl (self->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close (c->fd);
    c->fd = -1;
}

static void
s_send (s_client_t *self, s_conn_t *c)
{
    bool sdp = c->seq % 10 == 0;
    size_t size =
        !sdp ? CLIENT_SMALL
             : CLIENT_SDP_MIN
                   + (size_t) ((c->seq * 2654435761ULL) % CLIENT_SDP_SPREAD);
    char header[FLOOR_HEADER];
    floor_put32 (header, (uint32_t) (size - 4));
    floor_put32 (header + 4, c->partner);
    floor_put32 (header + 8, c->idx);
    floor_put64 (header + 12, c->seq);
    floor_put64 (header + 20, procstat_now_us ());
    if (floor_buf_append (&c->out, header, sizeof header)
        || floor_buf_append (&c->out, self->payload, size - FLOOR_HEADER))
        return;
    c->seq++;
    c->outstanding++;
    self->r->sent++;
    s_mark_dirty (self, c);
}

static bool
s_may_send (const s_client_t *self, const s_conn_t *c)
{
    return c->fd >= 0 && c->outstanding < self->o->window
           && floor_buf_pending (&c->out) < CLIENT_MAX_UNSENT
           && (!self->o->count || self->r->sent < (uint64_t) self->o->count);
}

static void
s_on_message (s_client_t *self, s_conn_t *c, const char *msg, size_t len)
{
    floor_result_t *r = self->r;
    uint64_t now = procstat_now_us ();
    r->delivered++;
    if (len + 4 < FLOOR_HEADER) {
        r->misdelivered++;
        return;
    }
    uint32_t dst = floor_get32 (msg + 4), src = floor_get32 (msg + 8);
    uint64_t seq = floor_get64 (msg + 12), ts = floor_get64 (msg + 20);
    if (dst != c->idx || src != c->partner) {
        r->misdelivered++;
        return;
    }
    if (ts <= now)
        hist_add (r->latency, now - ts);
    if (seq == c->expect)
        c->expect++;
    else if (seq < c->expect)
        r->duplicated++;
    else {
        r->reordered++;
        r->lost += seq - c->expect;
        c->expect = seq + 1;
    }
    s_conn_t *from = &self->conns[src];
    if (from->outstanding > 0)
        from->outstanding--;
    if (self->sending && self->o->rate <= 0)
        while (s_may_send (self, from))
            s_send (self, from);
}

static void
s_read (s_client_t *self, s_conn_t *c)
{
    ssize_t n = recv (c->fd, c->rbuf + c->rlen, CLIENT_RBUF - c->rlen, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        s_conn_fail (self, c, "read");
        return;
    }
    if (n < 0)
        return;
    c->rlen += (size_t) n;
    size_t off = 0;
    if (!c->acked && c->rlen > 0) {
        if (c->rbuf[0] != 'A') {
            errno = 0;
            s_conn_fail (self, c, "no hello answer");
            return;
        }
        c->acked = true;
        self->acked++;
        off = 1;
    }
    while (c->rlen - off >= 4) {
        uint32_t len = floor_get32 (c->rbuf + off);
        if (len > FLOOR_MAX_MSG) {
            errno = 0;
            s_conn_fail (self, c, "oversized message");
            return;
        }
        if (c->rlen - off < 4 + (size_t) len)
            break;
        s_on_message (self, c, c->rbuf + off, len);
        off += 4 + (size_t) len;
    }
    memmove (c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
}

//  One turn: wait up to timeout_ms, handle what came, flush what the turn
//  queued (one send() per socket).
static int
s_turn (s_client_t *self, int timeout_ms)
{
    struct epoll_event ev[CLIENT_EVENTS];
    //  Writes queued before the turn (the pacer's) go out before we sleep,
    //  as megle-bench's wsnet_run_once does.
    int n = epoll_wait (self->epfd, ev, CLIENT_EVENTS,
                        self->ndirty ? 0 : timeout_ms);
    if (n < 0 && errno != EINTR) {
        snprintf (self->r->why, sizeof self->r->why, "epoll: %s",
                  strerror (errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        s_conn_t *c = ev[i].data.ptr;
        if (c->fd >= 0 && (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            s_read (self, c);
        if (c->fd >= 0 && (ev[i].events & EPOLLOUT))
            s_mark_dirty (self, c);
    }
    for (size_t i = 0; i < self->ndirty; i++) {
        s_conn_t *c = self->dirty[i];
        c->dirty = false;
        if (c->fd < 0)
            continue;
        if (floor_buf_flush (&c->out, c->fd))
            s_conn_fail (self, c, "write");
        else
            s_want_out (self, c, floor_buf_pending (&c->out) > 0);
    }
    self->ndirty = 0;
    return 0;
}

static int
s_connect_all (s_client_t *self, const struct sockaddr_in *addr)
{
    for (size_t i = 0; i < self->n; i++) {
        s_conn_t *c = &self->conns[i];
        int gw = floor_conn_gateway (c->idx, self->o->gateways);
        c->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        if (c->fd < 0 || floor_socket_setup (c->fd)
            || (connect (c->fd, (const struct sockaddr *) &addr[gw],
                         sizeof addr[gw])
                    < 0
                && errno != EINPROGRESS)
            || epoll_ctl (self->epfd, EPOLL_CTL_ADD, c->fd, &ev)) {
            snprintf (self->r->why, sizeof self->r->why, "connect: %s",
                      strerror (errno));
            return -1;
        }
        c->want_out = true;
        char hello[8];
        floor_put32 (hello, 4);
        floor_put32 (hello + 4, c->idx);
        if (floor_buf_append (&c->out, hello, sizeof hello))
            return -1;
    }
    uint64_t deadline = procstat_now_us () + CLIENT_CONNECT_US;
    while (self->acked < self->n && !self->r->why[0]) {
        if (floor_interrupted || procstat_now_us () >= deadline) {
            snprintf (self->r->why, sizeof self->r->why,
                      "only %zu of %zu connections answered", self->acked,
                      self->n);
            return -1;
        }
        if (s_turn (self, 10))
            return -1;
    }
    return self->r->why[0] ? -1 : 0;
}

static void
s_sample (const floor_result_t *r, procstat_t *out, uint64_t *cs)
{
    for (int i = 0; i < r->nprocs; i++) {
        procstat_read (r->pid[i], &out[i]);
        cs[i] = floor_switches (r->pid[i]);
    }
}

//  Send for the window: paced (the tokens megle-bench relay uses) or flat
//  out (each connection keeps the window full).
static int
s_measure (s_client_t *self)
{
    const floor_opts_t *o = self->o;
    floor_result_t *r = self->r;
    s_sample (r, r->before, r->cs_before);
    uint64_t cs0 = floor_switches (getpid ());
    uint64_t cpu0 = procstat_self_cpu_us ();
    uint64_t start = procstat_now_us ();
    uint64_t end = start + (uint64_t) (o->duration * 1e6);
    self->sending = true;
    if (o->rate <= 0)
        for (size_t i = 0; i < self->n; i++)
            while (s_may_send (self, &self->conns[i]))
                s_send (self, &self->conns[i]);
    double due = 0;
    uint64_t last = start;
    while (!floor_interrupted) {
        uint64_t now = procstat_now_us ();
        if (now >= end || (o->count && r->sent >= (uint64_t) o->count))
            break;
        if (o->rate > 0) {
            due += (double) (now - last) * o->rate / 1e6;
            last = now;
            if (due > 64 + o->rate / 50)
                due = 64 + o->rate / 50; //  at most ~20 ms burst
            for (size_t tries = 0; due >= 1 && tries < self->n; tries++) {
                s_conn_t *c = &self->conns[self->rr];
                self->rr = (self->rr + 1) % self->n;
                if (s_may_send (self, c)) {
                    s_send (self, c);
                    due -= 1;
                    tries = 0;
                }
            }
        }
        if (s_turn (self, o->rate > 0 ? 1 : 10))
            return -1;
    }
    self->sending = false;
    r->delivered_window = r->delivered;
    r->client_cpu_us = procstat_self_cpu_us () - cpu0;
    r->client_cs = floor_switches (getpid ()) - cs0;
    s_sample (r, r->after, r->cs_after);
    r->window_s = (double) (procstat_now_us () - start) / 1e6;
    //  Let what is in flight arrive, then count what did not.
    uint64_t drain = procstat_now_us () + CLIENT_DRAIN_US;
    while (!floor_interrupted && procstat_now_us () < drain) {
        long out = 0;
        for (size_t i = 0; i < self->n; i++)
            out += self->conns[i].outstanding;
        if (out == 0)
            break;
        if (s_turn (self, 10))
            return -1;
    }
    for (size_t i = 0; i < self->n; i++) {
        const s_conn_t *c = &self->conns[i];
        uint64_t sent = self->conns[c->partner].seq;
        if (sent > c->expect)
            r->lost += sent - c->expect;
    }
    return 0;
}

int
floor_client_run (const floor_opts_t *opts, const struct sockaddr_in *addr,
                  floor_result_t *result)
{
    s_client_t self = {.o = opts, .r = result, .epfd = -1};
    self.n = (size_t) opts->pairs * 2;
    self.conns = calloc (self.n, sizeof *self.conns);
    self.dirty = calloc (self.n, sizeof *self.dirty);
    self.epfd = epoll_create1 (EPOLL_CLOEXEC);
    int rc = -1;
    if (!self.conns || !self.dirty || self.epfd < 0) {
        snprintf (result->why, sizeof result->why, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < sizeof self.payload; i++)
        self.payload[i] = (char) ('a' + i % 26);
    for (size_t i = 0; i < self.n; i++) {
        s_conn_t *c = &self.conns[i];
        c->fd = -1;
        c->idx = (uint32_t) i;
        c->partner = (uint32_t) (i ^ 1);
        c->rbuf = malloc (CLIENT_RBUF);
        if (!c->rbuf) {
            snprintf (result->why, sizeof result->why, "out of memory");
            goto done;
        }
    }
    if (s_connect_all (&self, addr) == 0 && s_measure (&self) == 0
        && !floor_interrupted && !result->why[0])
        rc = 0;
    if (floor_interrupted && !result->why[0])
        snprintf (result->why, sizeof result->why, "interrupted");
done:
    for (size_t i = 0; self.conns && i < self.n; i++) {
        if (self.conns[i].fd >= 0)
            close (self.conns[i].fd);
        free (self.conns[i].rbuf);
        floor_buf_free (&self.conns[i].out);
    }
    free (self.conns);
    free (self.dirty);
    if (self.epfd >= 0)
        close (self.epfd);
    result->ok = rc == 0;
    return rc;
}
