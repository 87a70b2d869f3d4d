//  session - one browser connection to this gateway.
//
//  Reassembly: a message that arrives whole is handed back in place (no
//  copy); only a fragmented one is copied into a buffer, grown as pieces
//  arrive and freed as soon as the message is handled. The outbound queue
//  is a singly linked FIFO whose nodes exist only while messages wait.

#include "session.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_PEER_MAX ID_GATEWAY_MAX //  longest partner/match id kept

typedef struct _node_t node_t;
struct _node_t {
    node_t *next;
    uint8_t *buf; //  pre spare bytes, then len bytes of text
    size_t pre;
    size_t len;
};

//  Laid out small (128 bytes on LP64): ws.c embeds one per connection.
struct _session_t {
    void *conn;
    //  "partner\0match\0" while matched, NULL otherwise: most sessions
    //  wait or idle, and an idle session should be a small struct
    char *peer;
    uint64_t find_us; //  monotonic us of the pending find_match, 0 = none
    //  reassembly
    char *rx;        //  NULL unless a fragmented message is in flight
    uint32_t rx_len; //  bytes of it so far (<= max, an int knob)
    uint32_t rx_cap; //  allocated size of rx
    //  outbound queue: a circular list, last->next is the oldest node
    node_t *last;
    uint32_t queued_bytes;    //  <= SESSION_QUEUE_MAX_BYTES
    uint16_t queued;          //  <= SESSION_QUEUE_MAX_MESSAGES
    unsigned state : 2;       //  session_state_t
    unsigned rx_dropping : 1; //  discarding the rest of a refused message
    unsigned rx_partial : 1;  //  a (kept) message has pieces still to come
    unsigned overflowed : 1;  //  a push was refused: close
    unsigned embedded : 1;    //  in caller memory: destroy frees no struct
    int pin; //  the matcher its frames go to (bus.h), -1 = none
    char id[ID_STRLEN + 1];
    //  the salted IP hash its OPEN carried, for a re-OPEN ("" = none)
    char ip_hash[ID_STRLEN + 1];
};

size_t
session_sizeof (void)
{
    return sizeof (session_t);
}

session_t *
session_init (void *mem, void *conn)
{
    assert (mem);
    session_t *self = mem;
    memset (self, 0, sizeof *self);
    if (id_new (self->id))
        return NULL;
    self->conn = conn;
    self->pin = -1;
    self->embedded = true;
    return self;
}

session_t *
session_new (void *conn)
{
    session_t *self = malloc (sizeof *self);
    if (!self)
        return NULL;
    if (!session_init (self, conn)) {
        free (self);
        return NULL;
    }
    self->embedded = false;
    return self;
}

void
session_destroy (session_t **self_p)
{
    assert (self_p);
    session_t *self = *self_p;
    if (!self)
        return;
    while (self->last)
        session_pop (self);
    free (self->rx);
    free (self->peer);
    self->rx = NULL;
    self->peer = NULL;
    if (!self->embedded)
        free (self);
    *self_p = NULL;
}

const char *
session_id (session_t *self)
{
    assert (self);
    return self->id;
}

void *
session_conn (session_t *self)
{
    assert (self);
    return self->conn;
}

session_state_t
session_state (session_t *self)
{
    assert (self);
    return (session_state_t) self->state;
}

void
session_set_state (session_t *self, session_state_t state)
{
    assert (self);
    self->state = (unsigned) state & 3u;
}

const char *
session_partner (session_t *self)
{
    assert (self);
    return self->peer ? self->peer : "";
}

const char *
session_match (session_t *self)
{
    assert (self);
    return self->peer ? self->peer + strlen (self->peer) + 1 : "";
}

int
session_set_partner (session_t *self, const char *partner, const char *match)
{
    assert (self);
    assert (partner);
    assert (match);
    size_t partner_len = strlen (partner);
    size_t match_len = strlen (match);
    if (partner_len > SESSION_PEER_MAX || match_len > SESSION_PEER_MAX)
        return -1;
    char *peer = realloc (self->peer, partner_len + match_len + 2);
    if (!peer)
        return -1;
    memcpy (peer, partner, partner_len + 1);
    memcpy (peer + partner_len + 1, match, match_len + 1);
    self->peer = peer;
    self->state = SESSION_MATCHED;
    return 0;
}

void
session_clear_partner (session_t *self)
{
    assert (self);
    free (self->peer);
    self->peer = NULL;
    self->state = SESSION_IDLE;
}

uint64_t
session_find_start (session_t *self)
{
    assert (self);
    return self->find_us;
}

void
session_set_find_start (session_t *self, uint64_t us)
{
    assert (self);
    self->find_us = us;
}

const char *
session_ip_hash (session_t *self)
{
    assert (self);
    return self->ip_hash;
}

void
session_set_ip_hash (session_t *self, const char *hash)
{
    assert (self);
    assert (hash);
    if (hash == self->ip_hash)
        return; //  already there (ws.c passes it back)
    snprintf (self->ip_hash, sizeof self->ip_hash, "%s", hash);
}

int *
session_pin (session_t *self)
{
    assert (self);
    return &self->pin;
}

void
session_rx_done (session_t *self)
{
    assert (self);
    free (self->rx);
    self->rx = NULL;
    self->rx_len = 0;
    self->rx_cap = 0;
    self->rx_partial = false;
}

session_rx_t
session_rx (session_t *self, const void *data, size_t len, bool final,
            size_t remaining, size_t max, const char **msg_p, size_t *len_p)
{
    assert (self);
    assert (msg_p);
    assert (len_p);
    if (self->rx_dropping) {
        if (final)
            self->rx_dropping = false;
        return SESSION_RX_DROPPED;
    }
    if (max > UINT32_MAX)
        max = UINT32_MAX; //  rx_len and rx_cap are 32 bits
    size_t so_far = self->rx_partial ? self->rx_len : 0;
    //  Refuse as early as the frame header allows; never overflow the sum.
    if (len > max || so_far > max - len || remaining > max - len - so_far) {
        session_rx_done (self);
        self->rx_dropping = !final;
        return SESSION_RX_TOO_LARGE;
    }
    if (!self->rx_partial && final) {
        *msg_p = data; //  the common case: one piece, no copy
        *len_p = len;
        return SESSION_RX_COMPLETE;
    }
    size_t need = so_far + len;
    if (need + remaining > self->rx_cap) {
        //  Reserve what the current frame announces; at least double.
        size_t cap = need + remaining;
        size_t twice = (size_t) self->rx_cap * 2;
        if (cap < twice)
            cap = twice < max ? twice : max;
        if (cap < need)
            cap = need;
        char *rx = realloc (self->rx, cap ? cap : 1);
        if (!rx) {
            //  Out of memory: treat like an oversized message.
            session_rx_done (self);
            self->rx_dropping = !final;
            return SESSION_RX_TOO_LARGE;
        }
        self->rx = rx;
        self->rx_cap = (uint32_t) cap; //  <= max or need, both <= max
    }
    if (len)
        memcpy (self->rx + so_far, data, len);
    self->rx_len = (uint32_t) need;
    self->rx_partial = !final;
    if (!final)
        return SESSION_RX_PARTIAL;
    *msg_p = self->rx;
    *len_p = self->rx_len;
    return SESSION_RX_COMPLETE;
}

bool
session_rx_skip (session_t *self, bool final)
{
    assert (self);
    bool first = !self->rx_dropping;
    if (first)
        session_rx_done (self);
    self->rx_dropping = !final;
    return first;
}

int
session_push (session_t *self, uint8_t **buf_p, size_t pre, size_t len)
{
    assert (self);
    assert (buf_p);
    uint8_t *buf = *buf_p;
    *buf_p = NULL;
    if (!buf)
        return -1;
    if (self->overflowed || self->queued + 1 > SESSION_QUEUE_MAX_MESSAGES
        || self->queued_bytes + len > SESSION_QUEUE_MAX_BYTES) {
        self->overflowed = true;
        free (buf);
        return -1;
    }
    node_t *node = malloc (sizeof *node);
    if (!node) {
        self->overflowed = true;
        free (buf);
        return -1;
    }
    node->next = NULL;
    node->buf = buf;
    node->pre = pre;
    node->len = len;
    if (self->last) {
        node->next = self->last->next;
        self->last->next = node;
    } else
        node->next = node;
    self->last = node;
    self->queued++;                       //  bounded just above
    self->queued_bytes += (uint32_t) len; //  bounded just above
    return 0;
}

uint8_t *
session_peek (session_t *self, size_t *len_p)
{
    assert (self);
    assert (len_p);
    if (!self->last) {
        *len_p = 0;
        return NULL;
    }
    node_t *head = self->last->next;
    *len_p = head->len;
    return head->buf + head->pre;
}

void
session_pop (session_t *self)
{
    assert (self);
    if (!self->last)
        return;
    node_t *node = self->last->next;
    if (node == self->last)
        self->last = NULL;
    else
        self->last->next = node->next;
    self->queued--;
    self->queued_bytes -= (uint32_t) node->len;
    free (node->buf);
    free (node);
}

size_t
session_queued (session_t *self)
{
    assert (self);
    return self->queued;
}

size_t
session_queued_bytes (session_t *self)
{
    assert (self);
    return self->queued_bytes;
}

bool
session_overflowed (session_t *self)
{
    assert (self);
    return self->overflowed;
}
