//  roster - the live WebSocket sessions of one gateway, by session id.
//
//  Open addressing with linear probing. The table is a power of two and
//  kept at most half full, so probe runs stay short; removal shifts the
//  following entries of the run back (Knuth's algorithm R) instead of
//  leaving tombstones, so lookups never degrade after churn.

#include "roster.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROSTER_MIN_SLOTS 16

struct _roster_t {
    session_t **slots; //  NULL = empty
    size_t mask;       //  slot count - 1 (slot count is a power of two)
    size_t size;       //  sessions in the table
};

//  FNV-1a: ids are random, but a lookup key can come from a bus frame, so
//  hash every byte rather than trusting the id's shape.
static size_t
s_hash (const char *key)
{
    uint64_t hash = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
        hash ^= *p;
        hash *= 1099511628211ull;
    }
    return (size_t) (hash ^ (hash >> 32));
}

static size_t
s_slots_for (size_t sessions)
{
    size_t slots = ROSTER_MIN_SLOTS;
    while (slots < sessions * 2 && slots < (SIZE_MAX >> 2))
        slots <<= 1;
    return slots;
}

roster_t *
roster_new (size_t capacity_hint)
{
    roster_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    size_t slots = s_slots_for (capacity_hint);
    self->slots = calloc (slots, sizeof *self->slots);
    if (!self->slots) {
        free (self);
        return NULL;
    }
    self->mask = slots - 1;
    return self;
}

void
roster_destroy (roster_t **self_p)
{
    assert (self_p);
    roster_t *self = *self_p;
    if (!self)
        return;
    free (self->slots);
    free (self);
    *self_p = NULL;
}

//  Index of the slot holding id, or of the empty slot ending its run.
static size_t
s_probe (const roster_t *self, const char *id)
{
    size_t i = s_hash (id) & self->mask;
    while (self->slots[i] && strcmp (session_id (self->slots[i]), id) != 0)
        i = (i + 1) & self->mask;
    return i;
}

static int
s_grow (roster_t *self)
{
    size_t slots = (self->mask + 1) * 2;
    session_t **old = self->slots;
    size_t old_slots = self->mask + 1;
    self->slots = calloc (slots, sizeof *self->slots);
    if (!self->slots) {
        self->slots = old;
        return -1;
    }
    self->mask = slots - 1;
    for (size_t i = 0; i < old_slots; i++)
        if (old[i])
            self->slots[s_probe (self, session_id (old[i]))] = old[i];
    free (old);
    return 0;
}

int
roster_add (roster_t *self, session_t *session)
{
    assert (self);
    assert (session);
    if ((self->size + 1) * 2 > self->mask + 1 && s_grow (self))
        return -1;
    size_t i = s_probe (self, session_id (session));
    if (self->slots[i])
        return -1; //  duplicate id
    self->slots[i] = session;
    self->size++;
    return 0;
}

session_t *
roster_find (roster_t *self, const char *id)
{
    assert (self);
    if (!id)
        return NULL;
    return self->slots[s_probe (self, id)];
}

int
roster_remove (roster_t *self, const char *id)
{
    assert (self);
    if (!id)
        return -1;
    size_t hole = s_probe (self, id);
    if (!self->slots[hole])
        return -1;
    self->slots[hole] = NULL;
    self->size--;
    //  Shift back every later entry of the run that the hole now cuts off
    //  from its home slot.
    size_t i = hole;
    while (true) {
        i = (i + 1) & self->mask;
        session_t *entry = self->slots[i];
        if (!entry)
            break;
        size_t home = s_hash (session_id (entry)) & self->mask;
        //  entry may stay if its home lies cyclically in (hole, i]
        bool stays =
            hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (!stays) {
            self->slots[hole] = entry;
            self->slots[i] = NULL;
            hole = i;
        }
    }
    return 0;
}

size_t
roster_size (roster_t *self)
{
    assert (self);
    return self->size;
}

void
roster_foreach (roster_t *self, void (*fn) (session_t *, void *), void *arg)
{
    assert (self);
    assert (fn);
    for (size_t i = 0; i <= self->mask; i++)
        if (self->slots[i])
            fn (self->slots[i], arg);
}

size_t
roster_slots (roster_t *self)
{
    assert (self);
    return self->mask + 1;
}

void
roster_sweep (roster_t *self, size_t *cursor, size_t count,
              void (*fn) (session_t *, void *), void *arg)
{
    assert (self);
    assert (cursor);
    assert (fn);
    if (count > self->mask + 1)
        count = self->mask + 1;
    size_t i = *cursor & self->mask; //  the table may have grown
    for (size_t n = 0; n < count; n++) {
        if (self->slots[i])
            fn (self->slots[i], arg);
        i = (i + 1) & self->mask;
    }
    *cursor = i;
}
