//  routes - the matcher's route cache (see routes.h).
//
//  Entries live in one array (indexes, not pointers: it moves when it
//  grows), chained per hash bucket. An entry holds a session's route, or
//  its count of Redis ops in flight, or both; it is freed when it holds
//  neither. Entries with a route are also on a list, oldest put first:
//  every route lives the same ttl, so the list's head is the first to
//  expire, and the one evicted when the cache is full. Entries that only
//  count ops in flight are not routes and do not count against the cap
//  (they are as many as the sessions with an op in Redis).

#include "routes.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/id.h"
#include "common/log.h"
#include "reply.h"

#define NIL        UINT32_MAX
#define FIRST_SIZE 1024 //  entries of the first array (a power of two)

typedef struct {
    char sid[ID_STRLEN + 1];
    char partner[ID_STRLEN + 1];
    char mid[ID_STRLEN + 1];
    char gw[ID_GATEWAY_MAX + 1]; //  the partner's
    uint64_t expires;            //  monotonic ms
    uint32_t chain;              //  next in bucket, or in the free list
    uint32_t older, newer;       //  on the route list
    uint32_t pending;            //  Redis ops in flight
    uint8_t live;                //  in a bucket (else free)
    uint8_t routed;              //  holds a route (on the route list)
} s_entry_t;

struct _routes_t {
    size_t cap;       //  routes at most; 0 = off
    uint64_t ttl;     //  ms
    s_entry_t *slots; //  nslots entries; the first `top` ever used
    uint32_t nslots, top;
    uint32_t free; //  free list head
    uint32_t *buckets;
    uint32_t mask;         //  nslots - 1 (buckets = nslots)
    uint32_t oldest;       //  route list
    uint32_t newest;       //
    size_t nroutes;        //  entries routed
    uint32_t held;         //  ops about no session in flight
    int broken;            //  out of memory once: off for good
    uint64_t hits, misses; //  lookups
};

routes_t *
routes_new (size_t cap, uint64_t ttl_ms)
{
    routes_t *self = (routes_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = cap;
    self->ttl = ttl_ms;
    self->free = NIL;
    self->oldest = NIL;
    self->newest = NIL;
    return self;
}

void
routes_destroy (routes_t **self_p)
{
    assert (self_p);
    routes_t *self = *self_p;
    if (!self)
        return;
    free (self->slots);
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

//  FNV-1a: session ids are random, any spread of their bytes does.
static uint32_t
s_hash (const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) {
        h ^= (uint8_t) *s;
        h *= 1099511628211ull;
    }
    return (uint32_t) (h ^ (h >> 32));
}

static uint32_t
s_find (routes_t *self, const char *sid)
{
    if (!self->buckets)
        return NIL;
    uint32_t i = self->buckets[s_hash (sid) & self->mask];
    while (i != NIL && strcmp (self->slots[i].sid, sid) != 0)
        i = self->slots[i].chain;
    return i;
}

static void
s_link (routes_t *self, uint32_t i)
{
    uint32_t *head = &self->buckets[s_hash (self->slots[i].sid) & self->mask];
    self->slots[i].chain = *head;
    *head = i;
}

//  Double the array (and the buckets); rehash. Returns 0 or -1.
static int
s_grow (routes_t *self)
{
    if (self->nslots >= NIL / 2)
        return -1;
    uint32_t n = self->nslots ? self->nslots * 2 : FIRST_SIZE;
    s_entry_t *slots =
        (s_entry_t *) realloc (self->slots, (size_t) n * sizeof *slots);
    if (!slots)
        return -1;
    self->slots = slots;
    uint32_t *buckets = (uint32_t *) malloc ((size_t) n * sizeof *buckets);
    if (!buckets)
        return -1; //  slots grew: harmless, the old buckets still hold
    free (self->buckets);
    self->buckets = buckets;
    self->nslots = n;
    self->mask = n - 1;
    for (uint32_t b = 0; b < n; b++)
        buckets[b] = NIL;
    for (uint32_t i = 0; i < self->top; i++)
        if (slots[i].live)
            s_link (self, i);
    return 0;
}

//  sid's entry, made if missing. Returns NIL if out of memory.
static uint32_t
s_get (routes_t *self, const char *sid)
{
    uint32_t i = s_find (self, sid);
    if (i != NIL)
        return i;
    if (self->free == NIL && self->top == self->nslots && s_grow (self))
        return NIL;
    if (self->free != NIL) {
        i = self->free;
        self->free = self->slots[i].chain;
    } else
        i = self->top++;
    s_entry_t *e = &self->slots[i];
    memset (e, 0, sizeof *e);
    strcpy (e->sid, sid);
    e->older = e->newer = NIL;
    e->live = 1;
    s_link (self, i);
    return i;
}

//  Free entry i if it holds neither a route nor ops in flight.
static void
s_release (routes_t *self, uint32_t i)
{
    s_entry_t *e = &self->slots[i];
    if (e->routed || e->pending)
        return;
    uint32_t *link = &self->buckets[s_hash (e->sid) & self->mask];
    while (*link != i)
        link = &self->slots[*link].chain;
    *link = e->chain;
    e->live = 0;
    e->chain = self->free;
    self->free = i;
}

static void
s_list_remove (routes_t *self, uint32_t i)
{
    s_entry_t *e = &self->slots[i];
    if (e->older != NIL)
        self->slots[e->older].newer = e->newer;
    else
        self->oldest = e->newer;
    if (e->newer != NIL)
        self->slots[e->newer].older = e->older;
    else
        self->newest = e->older;
    e->older = e->newer = NIL;
}

static void
s_list_append (routes_t *self, uint32_t i)
{
    s_entry_t *e = &self->slots[i];
    e->older = self->newest;
    e->newer = NIL;
    if (self->newest != NIL)
        self->slots[self->newest].newer = i;
    else
        self->oldest = i;
    self->newest = i;
}

//  Drop entry i's route (freeing the entry if nothing else holds it).
static void
s_unroute (routes_t *self, uint32_t i)
{
    if (!self->slots[i].routed)
        return;
    s_list_remove (self, i);
    self->slots[i].routed = 0;
    self->nroutes--;
    s_release (self, i);
}

static int
s_fits (const char *s, size_t max)
{
    size_t n = strnlen (s, max + 1);
    return n > 0 && n <= max;
}

int
routes_put (routes_t *self, const char *sid, const char *partner,
            const char *partner_gw, const char *mid, uint64_t now_ms)
{
    assert (self);
    if (self->cap == 0 || self->broken || !s_fits (sid, ID_STRLEN)
        || !s_fits (partner, ID_STRLEN) || !s_fits (mid, ID_STRLEN)
        || !s_fits (partner_gw, ID_GATEWAY_MAX))
        return -1;
    //  The list is in expiry order: drop what is over.
    while (self->oldest != NIL && self->slots[self->oldest].expires <= now_ms)
        s_unroute (self, self->oldest);
    uint32_t i = s_find (self, sid);
    if (i != NIL && self->slots[i].routed)
        s_list_remove (self, i); //  re-appended below
    else {
        if (self->nroutes >= self->cap)
            s_unroute (self, self->oldest); //  full: the oldest goes
        i = s_get (self, sid);
        if (i == NIL)
            return -1;
        self->slots[i].routed = 1;
        self->nroutes++;
    }
    s_entry_t *e = &self->slots[i];
    strcpy (e->partner, partner);
    strcpy (e->mid, mid);
    strcpy (e->gw, partner_gw);
    e->expires = now_ms + self->ttl;
    s_list_append (self, i);
    return 0;
}

void
routes_forget (routes_t *self, const char *sid)
{
    assert (self);
    if (!sid || !*sid)
        return;
    uint32_t i = s_find (self, sid);
    if (i != NIL)
        s_unroute (self, i);
}

void
routes_forget_gateway (routes_t *self, const char *gw)
{
    assert (self);
    uint32_t i = self->oldest;
    while (i != NIL) {
        uint32_t next = self->slots[i].newer;
        if (strcmp (self->slots[i].gw, gw) == 0)
            s_unroute (self, i);
        i = next;
    }
}

void
routes_clear (routes_t *self)
{
    assert (self);
    while (self->oldest != NIL)
        s_unroute (self, self->oldest);
}

void
routes_pending_add (routes_t *self, const char *sid)
{
    assert (self);
    if (!sid || !*sid) {
        self->held++;
        return;
    }
    //  Off, or an id no route can have (routes_put refuses it).
    if (self->cap == 0 || self->broken || !s_fits (sid, ID_STRLEN))
        return;
    uint32_t i = s_get (self, sid);
    if (i == NIL) {
        //  Without the count a cached route could overtake this op.
        log_error ("route cache: out of memory; turned off");
        self->broken = 1;
        routes_clear (self);
        return;
    }
    self->slots[i].pending++;
}

void
routes_pending_done (routes_t *self, const char *sid)
{
    assert (self);
    if (!sid || !*sid) {
        if (self->held)
            self->held--;
        return;
    }
    uint32_t i = s_find (self, sid);
    if (i == NIL || self->slots[i].pending == 0)
        return;
    self->slots[i].pending--;
    s_release (self, i);
}

const char *
routes_lookup (routes_t *self, const char *sid, const char *mid,
               const char *target, uint64_t now_ms, const char **partner_p)
{
    assert (self);
    uint32_t i = NIL;
    if (self->cap && !self->broken && !self->held && *mid)
        i = s_find (self, sid);
    s_entry_t *e = i != NIL ? &self->slots[i] : NULL;
    if (e && e->routed && e->expires <= now_ms) {
        s_unroute (self, i);
        e = NULL;
    }
    if (!e || !e->routed || e->pending || strcmp (e->mid, mid) != 0
        || (*target && strcmp (e->partner, target) != 0)) {
        self->misses++;
        return NULL;
    }
    uint32_t p = s_find (self, e->partner);
    if (p != NIL && self->slots[p].pending) {
        self->misses++;
        return NULL;
    }
    self->hits++;
    if (partner_p)
        *partner_p = e->partner;
    return e->gw;
}

void
routes_learn (routes_t *self, const frame_t *f, const char *status,
              const redisReply *reply, uint64_t now_ms)
{
    assert (self);
    assert (f);
    assert (status);
    switch (f->kind) {
    case FRAME_FIND:
        //  {"matched", cand, cand_gw, mid, mode, shared}
        if (!strcmp (status, "matched")) {
            const char *cand = reply_str (reply, 1);
            const char *mid = reply_str (reply, 3);
            routes_put (self, f->session, cand, reply_str (reply, 2), mid,
                        now_ms);
            routes_put (self, cand, f->session, f->gateway, mid, now_ms);
        }
        break;
    case FRAME_SIGNAL:
    case FRAME_CHAT:
    case FRAME_TYPING:
        //  {"ok", partner_gw, mid, partner}: the partner's hash points
        //  back at f->session in the same match, so both ends are known.
        if (!strcmp (status, "ok")) {
            const char *mid = reply_str (reply, 2);
            const char *partner = reply_str (reply, 3);
            routes_put (self, f->session, partner, reply_str (reply, 1), mid,
                        now_ms);
            routes_put (self, partner, f->session, f->gateway, mid, now_ms);
        } else
            routes_forget (self, f->session);
        break;
    case FRAME_LEAVE:
    case FRAME_CLOSE:
        //  {"ended", partner, partner_gw, mid} or anything else
        routes_forget (self, f->session);
        if (!strcmp (status, "ended"))
            routes_forget (self, reply_str (reply, 1));
        break;
    case FRAME_BYE:
        //  {"dead", partner1, partner_gw1, sid1, mid1, ...}
        if (!strcmp (status, "dead")) {
            for (size_t i = 1; reply && i + 3 < reply->elements; i += 4) {
                routes_forget (self, reply_str (reply, i));
                routes_forget (self, reply_str (reply, i + 2));
            }
            routes_forget_gateway (self, f->gateway);
        }
        break;
    default:
        break;
    }
}

size_t
routes_size (routes_t *self)
{
    assert (self);
    return self->nroutes;
}

uint64_t
routes_hits (routes_t *self)
{
    assert (self);
    return self->hits;
}

uint64_t
routes_misses (routes_t *self)
{
    assert (self);
    return self->misses;
}
