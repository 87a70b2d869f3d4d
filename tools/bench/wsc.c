//  wsc - minimal epoll WebSocket client (see wsc.h).
//
//  Why not the libwebsockets client: the bench must cost less than what it
//  measures. A hand-written client keeps a connection at ~100 bytes plus
//  its buffers, coalesces a turn's messages into one send(), reads with a
//  shared scratch buffer and uses epoll, so 10k+ sockets cost nothing
//  while idle. Edge-triggered: every socket is registered once for
//  EPOLLIN | EPOLLOUT, read until EAGAIN, written until EAGAIN.

#include "wsc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define WSC_SCRATCH    (256 * 1024)
#define WSC_EVENTS     1024
#define WSC_HEADER_MAX 4096
#define WSC_MSG_MAX    (16 * 1024 * 1024)

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

typedef enum { WSC_CONNECTING, WSC_UPGRADING, WSC_OPEN, WSC_DEAD } s_state_t;

struct _wsc_t {
    wsnet_t *net;
    int fd;
    s_state_t state;
    int dirty;     //  on the net's dirty list
    uint32_t mask; //  xorshift state for masking keys
    void *user;
    char *rbuf; //  bytes read but not yet parsed
    size_t rlen, rcap;
    char *wbuf; //  bytes queued for the socket
    size_t wlen, woff, wcap;
    char *msg; //  a fragmented message being reassembled
    size_t msg_len, msg_cap;
    int in_message; //  a text message's first fragment came
    char *request;  //  the upgrade request (until connected)
    wsc_t *next_dead;
    size_t slot; //  index in the net's list of connections
};

struct _wsnet_t {
    int epfd;
    wsc_handler_t handler;
    void *arg;
    size_t size;
    wsc_t **dirty;
    size_t ndirty, dirty_cap;
    wsc_t *dead; //  freed at the end of the turn
    char *scratch;
    wsc_t **all; //  every live connection, for destroy
    size_t nall, all_cap;
};

// ---------------------------------------------------------------------
//  Buffers

static int
s_reserve (char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *p = realloc (*buf, n);
    if (!p)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static void
s_mark_dirty (wsc_t *self)
{
    wsnet_t *net = self->net;
    if (self->dirty)
        return;
    if (net->ndirty == net->dirty_cap) {
        size_t n = net->dirty_cap ? net->dirty_cap * 2 : 1024;
        wsc_t **p = realloc (net->dirty, n * sizeof *p);
        if (!p)
            return; //  flushed on the next EPOLLOUT instead
        net->dirty = p;
        net->dirty_cap = n;
    }
    net->dirty[net->ndirty++] = self;
    self->dirty = 1;
}

static uint32_t
s_next_mask (wsc_t *self)
{
    uint32_t x = self->mask;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    self->mask = x;
    return x;
}

//  Append one masked frame (opcode op) to the write buffer.
static int
s_queue_frame (wsc_t *self, int op, const char *data, size_t len)
{
    if (self->state != WSC_OPEN)
        return -1;
    if (s_reserve (&self->wbuf, &self->wcap, self->wlen + len + 14))
        return -1;
    unsigned char *h = (unsigned char *) self->wbuf + self->wlen;
    size_t n = 0;
    h[n++] = (unsigned char) (0x80 | op);
    if (len < 126)
        h[n++] = (unsigned char) (0x80 | len);
    else if (len <= 0xffff) {
        h[n++] = 0x80 | 126;
        h[n++] = (unsigned char) (len >> 8);
        h[n++] = (unsigned char) len;
    } else {
        h[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[n++] = (unsigned char) ((uint64_t) len >> (8 * i));
    }
    uint32_t key = s_next_mask (self);
    unsigned char k[4];
    memcpy (k, &key, 4);
    memcpy (h + n, k, 4);
    n += 4;
    unsigned char *out = h + n;
    const unsigned char *in = (const unsigned char *) data;
    uint64_t k8;
    memcpy (&k8, k, 4);
    memcpy ((unsigned char *) &k8 + 4, k, 4);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy (&v, in + i, 8);
        v ^= k8;
        memcpy (out + i, &v, 8);
    }
    for (; i < len; i++)
        out[i] = in[i] ^ k[i & 3];
    self->wlen += n + len;
    s_mark_dirty (self);
    return 0;
}

// ---------------------------------------------------------------------
//  Connection life

static void
s_free (wsc_t *self)
{
    free (self->rbuf);
    free (self->wbuf);
    free (self->msg);
    free (self->request);
    free (self);
}

static void
s_unlist (wsc_t *self)
{
    wsnet_t *net = self->net;
    wsc_t *last = net->all[net->nall - 1];
    net->all[self->slot] = last;
    last->slot = self->slot;
    net->nall--;
}

//  Drop the socket; the object is freed at the end of the turn.
static void
s_kill (wsc_t *self)
{
    if (self->state == WSC_DEAD)
        return;
    self->state = WSC_DEAD;
    epoll_ctl (self->net->epfd, EPOLL_CTL_DEL, self->fd, NULL);
    close (self->fd);
    self->fd = -1;
    self->net->size--;
    self->next_dead = self->net->dead;
    self->net->dead = self;
}

static void
s_fail (wsc_t *self, const char *why)
{
    if (self->state == WSC_DEAD)
        return;
    s_kill (self);
    if (self->net->handler.on_close)
        self->net->handler.on_close (self, why, self->net->arg);
}

//  Write what is queued. -1 if the socket failed.
static int
s_flush (wsc_t *self)
{
    while (self->woff < self->wlen) {
        ssize_t n = send (self->fd, self->wbuf + self->woff,
                          self->wlen - self->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            return -1;
        }
        self->woff += (size_t) n;
    }
    self->woff = self->wlen = 0;
    return 0;
}

// ---------------------------------------------------------------------
//  Reading

//  Parse complete frames from data; returns the bytes consumed, or -1
//  when the connection must go (already reported).
static ssize_t
s_parse (wsc_t *self, char *data, size_t len)
{
    wsnet_t *net = self->net;
    size_t at = 0;
    while (self->state == WSC_OPEN && len - at >= 2) {
        unsigned char *h = (unsigned char *) data + at;
        int fin = h[0] & 0x80;
        int op = h[0] & 0x0f;
        int masked = h[1] & 0x80;
        uint64_t plen = h[1] & 0x7f;
        size_t hl = 2;
        if (plen == 126) {
            if (len - at < 4)
                break;
            plen = ((uint64_t) h[2] << 8) | h[3];
            hl = 4;
        } else if (plen == 127) {
            if (len - at < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = (plen << 8) | h[2 + i];
            hl = 10;
        }
        if (plen > WSC_MSG_MAX) {
            s_fail (self, "frame too large");
            return -1;
        }
        if (masked)
            hl += 4;
        if (len - at < hl + plen)
            break;
        char *payload = data + at + hl;
        if (masked) {
            unsigned char *k = h + hl - 4;
            for (uint64_t i = 0; i < plen; i++)
                payload[i] ^= (char) k[i & 3];
        }
        at += hl + (size_t) plen;
        switch (op) {
        case 0x0: //  continuation
        case 0x1: //  text
        case 0x2: //  binary (treated as text: the bench never expects it)
            if (op != 0 && !fin) {
                self->in_message = 1;
                self->msg_len = 0;
            }
            if (op == 0 && !self->in_message) {
                s_fail (self, "unexpected continuation frame");
                return -1;
            }
            if (self->in_message) {
                if (s_reserve (&self->msg, &self->msg_cap,
                               self->msg_len + plen + 1)) {
                    s_fail (self, "out of memory");
                    return -1;
                }
                memcpy (self->msg + self->msg_len, payload, plen);
                self->msg_len += plen;
                if (fin) {
                    self->in_message = 0;
                    self->msg[self->msg_len] = '\0';
                    if (net->handler.on_text)
                        net->handler.on_text (self, self->msg, self->msg_len,
                                              net->arg);
                }
            } else if (net->handler.on_text)
                net->handler.on_text (self, payload, plen, net->arg);
            break;
        case 0x8: //  close: answer it and go
            s_queue_frame (self, 0x8, payload, plen >= 2 ? 2 : 0);
            s_flush (self);
            s_fail (self, "closed by the server");
            return -1;
        case 0x9: //  ping
            s_queue_frame (self, 0xA, payload, plen);
            break;
        case 0xA:
            if (net->handler.on_pong)
                net->handler.on_pong (self, net->arg);
            break;
        default:
            s_fail (self, "unknown opcode");
            return -1;
        }
    }
    return self->state == WSC_DEAD ? -1 : (ssize_t) at;
}

//  Handle the upgrade response in rbuf; frames after it are left there.
static int
s_upgrade (wsc_t *self)
{
    char *end = NULL;
    for (size_t i = 0; i + 3 < self->rlen; i++)
        if (memcmp (self->rbuf + i, "\r\n\r\n", 4) == 0) {
            end = self->rbuf + i + 4;
            break;
        }
    if (!end) {
        if (self->rlen > WSC_HEADER_MAX) {
            s_fail (self, "upgrade response too long");
            return -1;
        }
        return 0;
    }
    if (self->rlen < 12 || memcmp (self->rbuf, "HTTP/1.1 101", 12) != 0) {
        s_fail (self, "upgrade refused");
        return -1;
    }
    size_t rest = self->rlen - (size_t) (end - self->rbuf);
    memmove (self->rbuf, end, rest);
    self->rlen = rest;
    self->state = WSC_OPEN;
    if (self->net->handler.on_open)
        self->net->handler.on_open (self, self->net->arg);
    return self->state == WSC_OPEN ? 0 : -1;
}

static void
s_on_readable (wsc_t *self)
{
    char *scratch = self->net->scratch;
    while (self->state == WSC_UPGRADING || self->state == WSC_OPEN) {
        ssize_t n = recv (self->fd, scratch, WSC_SCRATCH, 0);
        if (n == 0) {
            s_fail (self, "connection closed");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                s_fail (self, strerror (errno));
            return;
        }
        if (self->state == WSC_OPEN && self->rlen == 0) {
            //  Fast path: parse straight from the scratch buffer.
            ssize_t used = s_parse (self, scratch, (size_t) n);
            if (used < 0)
                return;
            size_t left = (size_t) n - (size_t) used;
            if (left) {
                if (s_reserve (&self->rbuf, &self->rcap, left)) {
                    s_fail (self, "out of memory");
                    return;
                }
                memcpy (self->rbuf, scratch + used, left);
                self->rlen = left;
            }
            continue;
        }
        if (s_reserve (&self->rbuf, &self->rcap, self->rlen + (size_t) n)) {
            s_fail (self, "out of memory");
            return;
        }
        memcpy (self->rbuf + self->rlen, scratch, (size_t) n);
        self->rlen += (size_t) n;
        if (self->state == WSC_UPGRADING && s_upgrade (self))
            return;
        if (self->state == WSC_OPEN && self->rlen) {
            ssize_t used = s_parse (self, self->rbuf, self->rlen);
            if (used < 0)
                return;
            memmove (self->rbuf, self->rbuf + used, self->rlen - (size_t) used);
            self->rlen -= (size_t) used;
        }
    }
}

static void
s_on_writable (wsc_t *self)
{
    if (self->state == WSC_CONNECTING) {
        int err = 0;
        socklen_t elen = sizeof err;
        if (getsockopt (self->fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err) {
            s_fail (self, err ? strerror (err) : "connect failed");
            return;
        }
        self->state = WSC_UPGRADING;
        size_t len = strlen (self->request);
        if (s_reserve (&self->wbuf, &self->wcap, len)) {
            s_fail (self, "out of memory");
            return;
        }
        memcpy (self->wbuf, self->request, len);
        self->wlen = len;
        free (self->request);
        self->request = NULL;
    }
    if (s_flush (self))
        s_fail (self, "send failed");
}

// ---------------------------------------------------------------------
//  The loop

wsnet_t *
wsnet_new (const wsc_handler_t *handler, void *arg)
{
    wsnet_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->handler = *handler;
    self->arg = arg;
    self->scratch = malloc (WSC_SCRATCH);
    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    if (!self->scratch || self->epfd < 0) {
        if (self->epfd >= 0)
            close (self->epfd);
        free (self->scratch);
        free (self);
        return NULL;
    }
    return self;
}

static void
s_reap (wsnet_t *self)
{
    while (self->dead) {
        wsc_t *c = self->dead;
        self->dead = c->next_dead;
        s_unlist (c);
        s_free (c);
    }
}

void
wsnet_destroy (wsnet_t **self_p)
{
    assert (self_p);
    wsnet_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nall; i++) {
        wsc_t *c = self->all[i];
        if (c->state != WSC_DEAD)
            close (c->fd);
        s_free (c);
    }
    self->nall = 0;
    self->dead = NULL;
    close (self->epfd);
    free (self->all);
    free (self->dirty);
    free (self->scratch);
    free (self);
    *self_p = NULL;
}

int
wsnet_run_once (wsnet_t *self, int timeout_ms)
{
    assert (self);
    struct epoll_event ev[WSC_EVENTS];
    //  Writes queued outside a turn (timers) go out before we sleep.
    int n = 0;
    if (self->ndirty == 0) {
        n = epoll_wait (self->epfd, ev, WSC_EVENTS, timeout_ms);
        if (n < 0)
            return errno == EINTR ? 0 : -1;
    } else {
        n = epoll_wait (self->epfd, ev, WSC_EVENTS, 0);
        if (n < 0)
            n = 0;
    }
    for (int i = 0; i < n; i++) {
        wsc_t *c = ev[i].data.ptr;
        if (c->state == WSC_DEAD)
            continue;
        if (ev[i].events & (EPOLLOUT | EPOLLERR))
            s_on_writable (c);
        if (c->state != WSC_DEAD
            && ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR))
            s_on_readable (c);
    }
    for (size_t i = 0; i < self->ndirty; i++) {
        wsc_t *c = self->dirty[i];
        c->dirty = 0;
        if (c->state == WSC_OPEN && s_flush (c))
            s_fail (c, "send failed");
    }
    self->ndirty = 0;
    s_reap (self);
    return n;
}

wsc_t *
wsnet_connect (wsnet_t *self, const struct sockaddr_in *dst,
               const struct sockaddr_in *src, const char *host,
               const char *path, void *user)
{
    assert (self);
    if (self->nall == self->all_cap) {
        size_t n = self->all_cap ? self->all_cap * 2 : 1024;
        wsc_t **p = realloc (self->all, n * sizeof *p);
        if (!p)
            return NULL;
        self->all = p;
        self->all_cap = n;
    }
    wsc_t *c = calloc (1, sizeof *c);
    if (!c)
        return NULL;
    c->net = self;
    c->user = user;
    c->mask = (uint32_t) (uintptr_t) c ^ 0x9e3779b9u;
    if (c->mask == 0)
        c->mask = 1;
    char req[512];
    int rl = snprintf (req, sizeof req,
                       "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: bWVnbGUtYmVuY2gta2V5IQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n",
                       path, host);
    if (rl < 0 || (size_t) rl >= sizeof req || !(c->request = strdup (req))) {
        free (c);
        errno = EINVAL;
        return NULL;
    }
    c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        int e = errno;
        s_free (c);
        errno = e;
        return NULL;
    }
    int one = 1;
    setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src) {
        //  Pick the port at connect time (per destination), not at bind.
        setsockopt (c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                    sizeof one);
        if (bind (c->fd, (const struct sockaddr *) src, sizeof *src))
            goto fail;
    }
    if (connect (c->fd, (const struct sockaddr *) dst, sizeof *dst)
        && errno != EINPROGRESS)
        goto fail;
    c->state = WSC_CONNECTING;
    struct epoll_event ev;
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl (self->epfd, EPOLL_CTL_ADD, c->fd, &ev))
        goto fail;
    c->slot = self->nall;
    self->all[self->nall++] = c;
    self->size++;
    return c;
fail : {
    int e = errno;
    close (c->fd);
    s_free (c);
    errno = e;
    return NULL;
}
}

size_t
wsnet_size (const wsnet_t *self)
{
    assert (self);
    return self->size;
}

// ---------------------------------------------------------------------
//  Connections

int
wsc_send_text (wsc_t *self, const char *data, size_t len)
{
    assert (self);
    return s_queue_frame (self, 0x1, data, len);
}

int
wsc_send_ping (wsc_t *self)
{
    assert (self);
    return s_queue_frame (self, 0x9, "", 0);
}

void
wsc_close (wsc_t *self)
{
    assert (self);
    if (self->state == WSC_DEAD)
        return;
    if (self->state == WSC_OPEN) {
        static const char code[2] = {0x03, (char) 0xe8}; //  1000
        s_queue_frame (self, 0x8, code, 2);
        s_flush (self);
    }
    s_kill (self);
}

int
wsc_is_open (const wsc_t *self)
{
    assert (self);
    return self->state == WSC_OPEN;
}

size_t
wsc_unsent (const wsc_t *self)
{
    assert (self);
    return self->wlen - self->woff;
}

void *
wsc_user (const wsc_t *self)
{
    assert (self);
    return self->user;
}
