//  gateways - gateway liveness table on a czmq zhashx (see gateways.h).

#include "gateways.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct _gateways_t {
    zhashx_t *table; //  gw id -> uint64_t * (last heard, ms), owned
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
    uint64_t *last = (uint64_t *) zhashx_lookup (self->table, gw);
    if (last) {
        *last = now_ms;
        return 0;
    }
    last = (uint64_t *) malloc (sizeof *last);
    if (!last)
        return -1;
    *last = now_ms;
    if (zhashx_insert (self->table, gw, last) != 0) {
        free (last);
        return -1;
    }
    return 1;
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
    for (uint64_t *last = (uint64_t *) zhashx_first (self->table); last;
         last = (uint64_t *) zhashx_next (self->table)) {
        if (*last < deadline_ms)
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
