//  floor_node - megle-floor's server processes (see floor.h): the
//  "gateway" (TCP connections in, ZeroMQ PUSH out, ZeroMQ SUB in, TCP
//  out) and the "matcher" (PULL in, PUB out with the destination
//  gateway's topic). They do what megle's do on the relay path, in the
//  same loops (epoll with the SUB's ZMQ_FD; zmq_poll), minus every piece
//  of logic: no decoding, no routing table, no allocation per message
//  beyond ZeroMQ's own.

#include "floor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#define NODE_EVENTS     256
#define NODE_RBUF       (FLOOR_MAX_MSG + 4)
#define NODE_PROBE_MS   20
#define NODE_TOPIC_MAX  16
#define NODE_DRAIN_MAX  1024 //  messages per wake-up, as megle's matcher
#define NODE_TICK_MS    100
#define NODE_PROBE_WAIT 10000 //  ms for the first probe to come back

static int
s_set_int (void *socket, int option, int value)
{
    return zmq_setsockopt (socket, option, &value, sizeof value);
}

static void
s_topic (int index, char *topic, size_t size)
{
    snprintf (topic, size, "gw-%d", index + 1);
}

// ---------------------------------------------------------------------
//  Matcher

int
floor_matcher_run (const floor_opts_t *opts, int ready_fd)
{
    int rc = 1;
    void *ctx = zmq_ctx_new ();
    void *pull = ctx ? zmq_socket (ctx, ZMQ_PULL) : NULL;
    void *pub = ctx ? zmq_socket (ctx, ZMQ_PUB) : NULL;
    char in[FLOOR_ENDPOINT], out[FLOOR_ENDPOINT];
    size_t in_len = sizeof in, out_len = sizeof out;
    if (!pull || !pub || s_set_int (pull, ZMQ_RCVHWM, FLOOR_HWM)
        || s_set_int (pub, ZMQ_SNDHWM, FLOOR_HWM)
        || s_set_int (pull, ZMQ_LINGER, 0) || s_set_int (pub, ZMQ_LINGER, 0)
        || zmq_bind (pull, "tcp://127.0.0.1:*")
        || zmq_bind (pub, "tcp://127.0.0.1:*")
        || zmq_getsockopt (pull, ZMQ_LAST_ENDPOINT, in, &in_len)
        || zmq_getsockopt (pub, ZMQ_LAST_ENDPOINT, out, &out_len)) {
        fprintf (stderr, "megle-floor matcher: %s\n", zmq_strerror (errno));
        goto done;
    }
    char line[2 * FLOOR_ENDPOINT + 4];
    int n = snprintf (line, sizeof line, "%s\n%s\n", in, out);
    if (n <= 0 || write (ready_fd, line, (size_t) n) != n)
        goto done;
    close (ready_fd);

    char topics[FLOOR_MAX_GW][NODE_TOPIC_MAX];
    for (int i = 0; i < opts->gateways; i++)
        s_topic (i, topics[i], sizeof topics[i]);
    uint64_t bad = 0, drops = 0;
    zmq_pollitem_t item = {pull, 0, ZMQ_POLLIN, 0};
    while (!floor_interrupted) {
        int ready = zmq_poll (&item, 1, NODE_TICK_MS);
        if (ready < 0 && errno != EINTR)
            break;
        for (int count = 0; count < NODE_DRAIN_MAX; count++) {
            zmq_msg_t msg;
            zmq_msg_init (&msg);
            if (zmq_msg_recv (&msg, pull, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (&msg);
                break;
            }
            size_t size = zmq_msg_size (&msg);
            const uint8_t *data = zmq_msg_data (&msg);
            int gw = -1;
            if (size >= 8 && floor_get32 (data) == FLOOR_HELLO)
                gw = (int) floor_get32 (data + 4); //  a gateway's probe
            else if (size >= 4 + FLOOR_HEADER)
                gw = floor_conn_gateway (floor_get32 (data), opts->gateways);
            if (gw < 0 || gw >= opts->gateways) {
                bad++;
                zmq_msg_close (&msg);
                continue;
            }
            //  The received message goes out as it is (no re-encoding):
            //  the floor.
            const char *topic = topics[gw];
            if (zmq_send (pub, topic, strlen (topic) + 1,
                          ZMQ_SNDMORE | ZMQ_DONTWAIT)
                    < 0
                || zmq_msg_send (&msg, pub, ZMQ_DONTWAIT) < 0) {
                drops++;
                zmq_msg_close (&msg);
            }
        }
    }
    if (bad || drops)
        fprintf (stderr, "megle-floor matcher: %llu bad, %llu dropped\n",
                 (unsigned long long) bad, (unsigned long long) drops);
    rc = 0;
done:
    if (pull)
        zmq_close (pull);
    if (pub)
        zmq_close (pub);
    if (ctx)
        zmq_ctx_term (ctx);
    return rc;
}

// ---------------------------------------------------------------------
//  Gateway

typedef struct {
    int fd;
    long conn; //  the client's connection id, -1 until its hello
    char *rbuf;
    size_t rlen;
    floor_buf_t out;
    bool want_out; //  EPOLLOUT registered
} s_peer_t;

typedef struct {
    const floor_opts_t *opts;
    int index;
    int epfd;
    int listen_fd;
    int zfd; //  the SUB's ZMQ_FD (never closed: libzmq owns it)
    void *ctx, *push, *sub;
    s_peer_t **by_conn; //  2 * pairs slots
    size_t nconns;
    bool probed; //  a probe went round the matcher
    uint64_t push_drops, unknown, bad;
} s_gateway_t;

static void
s_peer_close (s_gateway_t *self, s_peer_t *peer)
{
    epoll_ctl (self->epfd, EPOLL_CTL_DEL, peer->fd, NULL);
    close (peer->fd);
    if (peer->conn >= 0 && (size_t) peer->conn < self->nconns
        && self->by_conn[peer->conn] == peer)
        self->by_conn[peer->conn] = NULL;
    floor_buf_free (&peer->out);
    free (peer->rbuf);
    free (peer);
}

static void
s_peer_want_out (s_gateway_t *self, s_peer_t *peer, bool want)
{
    if (peer->want_out == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
                             .data.ptr = peer};
    epoll_ctl (self->epfd, EPOLL_CTL_MOD, peer->fd, &ev);
    peer->want_out = want;
}

//  Write bytes to peer: at once when nothing waits, else queued.
static int
s_peer_write (s_gateway_t *self, s_peer_t *peer, const void *data, size_t size)
{
    if (floor_buf_append (&peer->out, data, size)
        || floor_buf_flush (&peer->out, peer->fd))
        return -1;
    s_peer_want_out (self, peer, floor_buf_pending (&peer->out) > 0);
    return 0;
}

static void
s_accept (s_gateway_t *self)
{
    for (;;) {
        int fd = accept (self->listen_fd, NULL, NULL);
        if (fd < 0)
            return;
        s_peer_t *peer = calloc (1, sizeof *peer);
        char *rbuf = malloc (NODE_RBUF);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = peer};
        if (!peer || !rbuf || floor_socket_setup (fd)
            || epoll_ctl (self->epfd, EPOLL_CTL_ADD, fd, &ev)) {
            free (peer);
            free (rbuf);
            close (fd);
            continue;
        }
        peer->fd = fd;
        peer->conn = -1;
        peer->rbuf = rbuf;
    }
}

//  One complete message from peer (len = bytes after the length).
static int
s_on_message (s_gateway_t *self, s_peer_t *peer, const char *msg, size_t len)
{
    if (peer->conn < 0) {
        uint32_t conn = len == 4 ? floor_get32 (msg + 4) : FLOOR_HELLO;
        if (conn >= self->nconns || self->by_conn[conn])
            return -1;
        peer->conn = conn;
        self->by_conn[conn] = peer;
        return s_peer_write (self, peer, "A", 1);
    }
    if (len + 4 < FLOOR_HEADER) {
        self->bad++;
        return -1;
    }
    //  The bus message: the destination connection, then the message.
    zmq_msg_t out;
    if (zmq_msg_init_size (&out, 4 + 4 + len))
        return -1;
    uint8_t *p = zmq_msg_data (&out);
    memcpy (p, msg + 4, 4);
    memcpy (p + 4, msg, 4 + len);
    if (zmq_msg_send (&out, self->push, ZMQ_DONTWAIT) < 0) {
        self->push_drops++;
        zmq_msg_close (&out);
    }
    return 0;
}

static void
s_peer_read (s_gateway_t *self, s_peer_t *peer)
{
    ssize_t n =
        recv (peer->fd, peer->rbuf + peer->rlen, NODE_RBUF - peer->rlen, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        s_peer_close (self, peer);
        return;
    }
    if (n < 0)
        return;
    peer->rlen += (size_t) n;
    size_t off = 0;
    while (peer->rlen - off >= 4) {
        uint32_t len = floor_get32 (peer->rbuf + off);
        if (len > FLOOR_MAX_MSG) {
            s_peer_close (self, peer);
            return;
        }
        if (peer->rlen - off < 4 + (size_t) len)
            break;
        if (s_on_message (self, peer, peer->rbuf + off, len)) {
            s_peer_close (self, peer);
            return;
        }
        off += 4 + (size_t) len;
    }
    memmove (peer->rbuf, peer->rbuf + off, peer->rlen - off);
    peer->rlen -= off;
}

//  Read every message waiting on the SUB (ZMQ_FD is edge-triggered: only
//  EAGAIN re-arms it).
static void
s_sub_drain (s_gateway_t *self)
{
    for (;;) {
        zmq_msg_t topic, body;
        zmq_msg_init (&topic);
        if (zmq_msg_recv (&topic, self->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&topic);
            return;
        }
        int more = zmq_msg_more (&topic);
        zmq_msg_close (&topic);
        if (!more) {
            self->bad++;
            continue;
        }
        zmq_msg_init (&body);
        if (zmq_msg_recv (&body, self->sub, 0) < 0) {
            zmq_msg_close (&body);
            continue;
        }
        size_t size = zmq_msg_size (&body);
        const uint8_t *data = zmq_msg_data (&body);
        uint32_t dst = size >= 4 ? floor_get32 (data) : FLOOR_HELLO;
        if (dst == FLOOR_HELLO)
            self->probed = self->probed || size >= 8;
        else if (dst < self->nconns && self->by_conn[dst]) {
            s_peer_t *peer = self->by_conn[dst];
            if (s_peer_write (self, peer, data + 4, size - 4))
                s_peer_close (self, peer);
        } else
            self->unknown++;
        zmq_msg_close (&body);
    }
}

static void
s_probe (s_gateway_t *self)
{
    uint8_t msg[8];
    floor_put32 (msg, FLOOR_HELLO);
    floor_put32 (msg + 4, (uint32_t) self->index);
    zmq_send (self->push, msg, sizeof msg, ZMQ_DONTWAIT);
}

static int
s_gateway_open (s_gateway_t *self, const char *pull_ep, const char *pub_ep)
{
    char topic[NODE_TOPIC_MAX];
    s_topic (self->index, topic, sizeof topic);
    size_t zfd_size = sizeof self->zfd;
    self->ctx = zmq_ctx_new ();
    self->push = self->ctx ? zmq_socket (self->ctx, ZMQ_PUSH) : NULL;
    self->sub = self->ctx ? zmq_socket (self->ctx, ZMQ_SUB) : NULL;
    if (!self->push || !self->sub
        || s_set_int (self->push, ZMQ_SNDHWM, FLOOR_HWM)
        || s_set_int (self->sub, ZMQ_RCVHWM, FLOOR_HWM)
        || s_set_int (self->push, ZMQ_LINGER, 0)
        || s_set_int (self->sub, ZMQ_LINGER, 0)
        || zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, topic, strlen (topic) + 1)
        || zmq_connect (self->push, pull_ep) || zmq_connect (self->sub, pub_ep)
        || zmq_getsockopt (self->sub, ZMQ_FD, &self->zfd, &zfd_size)) {
        fprintf (stderr, "megle-floor gateway: %s\n", zmq_strerror (errno));
        return -1;
    }
    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &self->listen_fd};
    struct epoll_event zev = {.events = EPOLLIN | EPOLLET,
                              .data.ptr = &self->zfd};
    if (self->epfd < 0
        || epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->listen_fd, &lev)
        || epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->zfd, &zev)) {
        perror ("megle-floor gateway: epoll");
        return -1;
    }
    return 0;
}

static void
s_gateway_close (s_gateway_t *self)
{
    for (size_t i = 0; i < self->nconns; i++)
        if (self->by_conn[i])
            s_peer_close (self, self->by_conn[i]);
    free (self->by_conn);
    if (self->push)
        zmq_close (self->push);
    if (self->sub)
        zmq_close (self->sub);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    if (self->epfd >= 0)
        close (self->epfd);
}

int
floor_gateway_run (const floor_opts_t *opts, int index, int listen_fd,
                   const char *pull_ep, const char *pub_ep, int ready_fd)
{
    s_gateway_t self = {.opts = opts,
                        .index = index,
                        .epfd = -1,
                        .listen_fd = listen_fd,
                        .nconns = (size_t) opts->pairs * 2};
    self.by_conn = calloc (self.nconns, sizeof *self.by_conn);
    int rc = 1;
    if (!self.by_conn || floor_socket_setup (listen_fd)
        || s_gateway_open (&self, pull_ep, pub_ep))
        goto done;
    //  Probe the matcher until one comes back: then PUSH and SUB are both
    //  connected and subscribed (PUB drops what no subscriber asked for).
    uint64_t deadline = procstat_now_us () + NODE_PROBE_WAIT * 1000ULL;
    uint64_t next_probe = 0;
    struct epoll_event ev[NODE_EVENTS];
    while (!floor_interrupted) {
        uint64_t now = procstat_now_us ();
        if (!self.probed) {
            if (now >= deadline) {
                fprintf (stderr, "megle-floor gateway %d: no probe back\n",
                         index + 1);
                goto done;
            }
            if (now >= next_probe) {
                s_probe (&self);
                next_probe = now + NODE_PROBE_MS * 1000ULL;
            }
            s_sub_drain (&self);
        }
        if (self.probed && ready_fd >= 0) {
            if (write (ready_fd, "R", 1) != 1)
                goto done;
            close (ready_fd);
            ready_fd = -1;
        }
        int n = epoll_wait (self.epfd, ev, NODE_EVENTS,
                            self.probed ? NODE_TICK_MS : NODE_PROBE_MS);
        if (n < 0 && errno != EINTR)
            break;
        bool bus = false;
        for (int i = 0; i < n; i++) {
            void *ptr = ev[i].data.ptr;
            if (ptr == &self.listen_fd)
                s_accept (&self);
            else if (ptr == &self.zfd)
                bus = true;
            else {
                s_peer_t *peer = ptr;
                if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
                    if (floor_buf_flush (&peer->out, peer->fd)) {
                        s_peer_close (&self, peer);
                        continue;
                    }
                    s_peer_want_out (&self, peer,
                                     floor_buf_pending (&peer->out) > 0);
                }
                if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                    s_peer_read (&self, peer);
            }
        }
        //  The SUB's edge fired, or the tick (a safety net: a missed edge
        //  would otherwise stall the bus).
        if (bus || n == 0)
            s_sub_drain (&self);
    }
    rc = 0;
    if (self.push_drops || self.unknown || self.bad)
        fprintf (stderr,
                 "megle-floor gateway %d: %llu push drops, %llu for unknown "
                 "connections, %llu bad\n",
                 index + 1, (unsigned long long) self.push_drops,
                 (unsigned long long) self.unknown,
                 (unsigned long long) self.bad);
done:
    if (ready_fd >= 0)
        close (ready_fd);
    s_gateway_close (&self);
    return rc;
}
