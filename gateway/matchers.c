//  matchers - the matchers one gateway talks to (see matchers.h).
//
//  The score is 64-bit FNV-1a over the session id, a 0xff separator (no
//  id or endpoint holds that byte) and the matcher's name, then a 64-bit
//  avalanche finalizer: FNV-1a alone mixes its last bytes poorly, and the
//  names differ mostly in their last bytes (ports), which would make one
//  matcher win far more than its share.

#include "matchers.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    uint64_t heard_ms; //  monotonic ms of its last frame
    bool live;
} s_matcher_t;

struct _matchers_t {
    s_matcher_t items[MATCHERS_MAX];
    int count;
    int live_count;
    uint64_t timeout_ms;
};

matchers_t *
matchers_new (const char *const *names, int count, uint64_t timeout_ms)
{
    if (!names || count < 1 || count > MATCHERS_MAX)
        return NULL;
    matchers_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->timeout_ms = timeout_ms;
    for (int i = 0; i < count; i++) {
        if (!names[i] || !names[i][0]
            || !(self->items[i].name = strdup (names[i]))) {
            matchers_destroy (&self);
            return NULL;
        }
        self->count = i + 1;
    }
    return self;
}

void
matchers_destroy (matchers_t **self_p)
{
    assert (self_p);
    matchers_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->count; i++)
        free (self->items[i].name);
    free (self);
    *self_p = NULL;
}

int
matchers_count (matchers_t *self)
{
    assert (self);
    return self->count;
}

const char *
matchers_name (matchers_t *self, int i)
{
    assert (self);
    assert (i >= 0 && i < self->count);
    return self->items[i].name;
}

bool
matchers_heard (matchers_t *self, int i, uint64_t now_ms)
{
    assert (self);
    assert (i >= 0 && i < self->count);
    s_matcher_t *m = &self->items[i];
    m->heard_ms = now_ms;
    if (m->live)
        return false;
    m->live = true;
    self->live_count++;
    return true;
}

uint32_t
matchers_expire (matchers_t *self, uint64_t now_ms)
{
    assert (self);
    uint32_t dead = 0;
    for (int i = 0; i < self->count; i++) {
        s_matcher_t *m = &self->items[i];
        if (m->live && now_ms > m->heard_ms
            && now_ms - m->heard_ms > self->timeout_ms) {
            m->live = false;
            self->live_count--;
            dead |= 1u << i;
        }
    }
    return dead;
}

bool
matchers_live (matchers_t *self, int i)
{
    assert (self);
    return i >= 0 && i < self->count && self->items[i].live;
}

int
matchers_live_count (matchers_t *self)
{
    assert (self);
    return self->live_count;
}

bool
matchers_candidate (matchers_t *self, int i)
{
    assert (self);
    return i >= 0 && i < self->count
           && (self->items[i].live || self->live_count == 0);
}

int
matchers_pick (matchers_t *self, const char *sid, uint32_t exclude)
{
    assert (self);
    assert (sid);
    int best = -1;
    uint64_t best_score = 0;
    for (int i = 0; i < self->count; i++) {
        if ((exclude & (1u << i)) || !matchers_candidate (self, i))
            continue;
        uint64_t score = matchers_score (sid, self->items[i].name);
        if (best < 0 || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

static uint64_t
s_fnv1a (uint64_t hash, const char *text)
{
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        hash ^= *p;
        hash *= 0x100000001b3ull; //  the 64-bit FNV prime
    }
    return hash;
}

uint64_t
matchers_score (const char *sid, const char *name)
{
    assert (sid);
    assert (name);
    uint64_t hash = s_fnv1a (0xcbf29ce484222325ull, sid); //  FNV offset
    hash ^= 0xff;
    hash *= 0x100000001b3ull;
    hash = s_fnv1a (hash, name);
    //  Finalizer: xor-shifts and odd multipliers so that every input bit
    //  reaches every output bit.
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ull;
    hash ^= hash >> 33;
    return hash;
}
