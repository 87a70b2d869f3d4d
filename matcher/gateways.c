//  gateways - gateway liveness table on a czmq zhashx (see gateways.h).

#include "gateways.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t last;     //  last heard, monotonic ms
    uint32_t sessions; //  live sessions it reported last
} s_entry_t;

struct _gateways_t {
    zhashx_t *table; //  gw id -> s_entry_t *, owned
};

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

gateways_t *
gateways_new (void)
{
    gateways_t *self = (gateways_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->table = zhashx_new ();
    if (!self->table) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->table, s_free_item);
    return self;
}

void
gateways_destroy (gateways_t **self_p)
{
    assert (self_p);
    gateways_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->table);
    free (self);
    *self_p = NULL;
}

int
gateways_beat (gateways_t *self, const char *gw, uint64_t now_ms)
{
    assert (self);
    assert (gw);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->table, gw);
    if (entry) {
        entry->last = now_ms;
        return 0;
    }
    entry = (s_entry_t *) calloc (1, sizeof *entry);
    if (!entry)
        return -1;
    entry->last = now_ms;
    if (zhashx_insert (self->table, gw, entry) != 0) {
        free (entry);
        return -1;
    }
    return 1;
}

void
gateways_set_sessions (gateways_t *self, const char *gw, uint32_t sessions)
{
    assert (self);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->table, gw);
    if (entry)
        entry->sessions = sessions;
}

uint64_t
gateways_sessions (gateways_t *self)
{
    assert (self);
    uint64_t total = 0;
    for (s_entry_t *entry = (s_entry_t *) zhashx_first (self->table); entry;
         entry = (s_entry_t *) zhashx_next (self->table))
        total += entry->sessions;
    return total;
}

int
gateways_has (gateways_t *self, const char *gw)
{
    assert (self);
    return zhashx_lookup (self->table, gw) != NULL;
}

int
gateways_remove (gateways_t *self, const char *gw)
{
    assert (self);
    if (!zhashx_lookup (self->table, gw))
        return -1;
    zhashx_delete (self->table, gw);
    return 0;
}

size_t
gateways_expire (gateways_t *self, uint64_t deadline_ms, zlist_t *dead)
{
    assert (self);
    assert (dead);
    //  Collect first: the table must not change while we iterate it.
    zlist_t *expired = zlist_new ();
    if (!expired)
        return 0;
    for (s_entry_t *entry = (s_entry_t *) zhashx_first (self->table); entry;
         entry = (s_entry_t *) zhashx_next (self->table)) {
        if (entry->last < deadline_ms)
            zlist_append (expired, (void *) zhashx_cursor (self->table));
    }
    size_t count = 0;
    for (const char *gw = (const char *) zlist_first (expired); gw;
         gw = (const char *) zlist_next (expired)) {
        //  dead autofrees, so it holds a copy; delete by that copy, since
        //  deleting frees the table's own key that `gw` points to.
        if (zlist_append (dead, (void *) gw) == 0) {
            zhashx_delete (self->table, (const char *) zlist_last (dead));
            count++;
        }
    }
    zlist_destroy (&expired);
    return count;
}

size_t
gateways_size (gateways_t *self)
{
    assert (self);
    return zhashx_size (self->table);
}

int
gateways_id_valid (const char *gw)
{
    size_t len = strlen (gw);
    if (len < 1 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = gw[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}
