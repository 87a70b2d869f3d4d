//  filter - which frames megle-tap shows (see filter.h).

#include "filter.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

#define KIND_CORRUPT 0 //  "corrupt" in the kind list (no real kind is 0)
#define KIND_SLOTS   256

struct _filter_t {
    bool by_kind;
    bool kinds[KIND_SLOTS]; //  by frame_kind_t, [0] = corrupt
    size_t n_sessions;
    char sessions[FILTER_LIST_MAX][FRAME_ID_MAX + 1];
    size_t n_gateways;
    char gateways[FILTER_LIST_MAX][FRAME_ID_MAX + 1];
    int direction; //  0 = both
};

//  Calls item (self-contained copy of each non-empty comma-separated entry)
//  for each entry of list; stops at the first that fails.
typedef int (item_fn) (void *ctx, const char *item, char *err, size_t err_size);

static int
s_each (const char *list, const char *option, item_fn *fn, void *ctx, char *err,
        size_t err_size)
{
    if (!list || !*list) {
        snprintf (err, err_size, "%s: empty value", option);
        return -1;
    }
    const char *p = list;
    size_t n = 0;
    while (1) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        char item[FRAME_ID_MAX + 2];
        if (len == 0) {
            snprintf (err, err_size, "%s: empty entry in '%.80s'", option,
                      list);
            return -1;
        }
        if (len >= sizeof item) {
            snprintf (err, err_size, "%s: '%.*s...' is too long", option, 40,
                      p);
            return -1;
        }
        if (++n > FILTER_LIST_MAX) {
            snprintf (err, err_size, "%s: more than %d entries", option,
                      FILTER_LIST_MAX);
            return -1;
        }
        memcpy (item, p, len);
        item[len] = '\0';
        if (fn (ctx, item, err, err_size))
            return -1;
        if (!end)
            return 0;
        p = end + 1;
    }
}

filter_t *
filter_new (void)
{
    return (filter_t *) calloc (1, sizeof (filter_t));
}

void
filter_destroy (filter_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

static int
s_kind_by_name (const char *name)
{
    if (!strcmp (name, "corrupt"))
        return KIND_CORRUPT;
    for (int kind = 1; kind < KIND_SLOTS; kind++) {
        const char *known = frame_kind_name (kind);
        if (known && !strcmp (known, name))
            return kind;
    }
    return -1;
}

static void
s_kind_names (char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int kind = 1; kind < KIND_SLOTS; kind++) {
        const char *known = frame_kind_name (kind);
        if (known && len < size)
            len += (size_t) snprintf (buf + len, size - len, "%s, ", known);
    }
    if (len < size)
        snprintf (buf + len, size - len, "corrupt");
}

static int
s_add_kind (void *ctx, const char *item, char *err, size_t err_size)
{
    bool *kinds = (bool *) ctx;
    int kind = s_kind_by_name (item);
    if (kind < 0) {
        char names[512];
        s_kind_names (names, sizeof names);
        snprintf (err, err_size, "--type: unknown frame type '%s' (one of: %s)",
                  item, names);
        return -1;
    }
    kinds[kind] = true;
    return 0;
}

int
filter_set_types (filter_t *self, const char *list, char *err, size_t err_size)
{
    assert (self);
    bool kinds[KIND_SLOTS] = {false};
    if (s_each (list, "--type", s_add_kind, kinds, err, err_size))
        return -1;
    memcpy (self->kinds, kinds, sizeof kinds);
    self->by_kind = true;
    return 0;
}

typedef struct {
    char (*ids)[FRAME_ID_MAX + 1];
    size_t n;
} id_list_t;

static int
s_add_session (void *ctx, const char *item, char *err, size_t err_size)
{
    id_list_t *list = (id_list_t *) ctx;
    size_t len = strlen (item);
    bool ok = len <= 32;
    for (size_t i = 0; ok && i < len; i++)
        ok = (item[i] >= '0' && item[i] <= '9')
             || (item[i] >= 'a' && item[i] <= 'f');
    if (!ok) {
        snprintf (err, err_size,
                  "--session: '%s' is not a session id or a prefix of one "
                  "(1..32 lower-case hex digits)",
                  item);
        return -1;
    }
    memcpy (list->ids[list->n++], item, len + 1);
    return 0;
}

static int
s_add_gateway (void *ctx, const char *item, char *err, size_t err_size)
{
    id_list_t *list = (id_list_t *) ctx;
    size_t len = strlen (item);
    bool ok = len >= 1 && len <= FRAME_ID_MAX;
    for (size_t i = 0; ok && i < len; i++) {
        char c = item[i];
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
             || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
    }
    if (!ok && strcmp (item, "*") != 0) {
        snprintf (err, err_size,
                  "--gateway: '%s' is not a gateway id (1..%d of "
                  "[A-Za-z0-9._-], or *)",
                  item, FRAME_ID_MAX);
        return -1;
    }
    memcpy (list->ids[list->n++], item, len + 1);
    return 0;
}

int
filter_set_sessions (filter_t *self, const char *list, char *err,
                     size_t err_size)
{
    assert (self);
    char ids[FILTER_LIST_MAX][FRAME_ID_MAX + 1];
    id_list_t parsed = {ids, 0};
    if (s_each (list, "--session", s_add_session, &parsed, err, err_size))
        return -1;
    memcpy (self->sessions, ids, sizeof ids);
    self->n_sessions = parsed.n;
    return 0;
}

int
filter_set_gateways (filter_t *self, const char *list, char *err,
                     size_t err_size)
{
    assert (self);
    char ids[FILTER_LIST_MAX][FRAME_ID_MAX + 1];
    id_list_t parsed = {ids, 0};
    if (s_each (list, "--gateway", s_add_gateway, &parsed, err, err_size))
        return -1;
    memcpy (self->gateways, ids, sizeof ids);
    self->n_gateways = parsed.n;
    return 0;
}

int
filter_set_direction (filter_t *self, const char *value, char *err,
                      size_t err_size)
{
    assert (self);
    if (value && !strcmp (value, "in"))
        self->direction = RECORD_IN;
    else if (value && !strcmp (value, "out"))
        self->direction = RECORD_OUT;
    else {
        snprintf (err, err_size, "--direction: '%.80s' is not in or out",
                  value ? value : "");
        return -1;
    }
    return 0;
}

int
filter_direction (const filter_t *self)
{
    assert (self);
    return self->direction;
}

static bool
s_prefix (const char *prefix, const char *id)
{
    size_t len = strlen (prefix);
    return *id && strncmp (prefix, id, len) == 0;
}

bool
filter_match (const filter_t *self, int dir, const frame_t *frame)
{
    assert (self);
    if (self->direction && dir != self->direction)
        return false;
    if (!frame)
        return (!self->by_kind || self->kinds[KIND_CORRUPT])
               && self->n_sessions == 0 && self->n_gateways == 0;
    if (self->by_kind
        && (frame->kind == KIND_CORRUPT || !self->kinds[frame->kind]))
        return false;
    if (self->n_sessions) {
        bool hit = false;
        for (size_t i = 0; !hit && i < self->n_sessions; i++)
            hit = s_prefix (self->sessions[i], frame->session)
                  || s_prefix (self->sessions[i], frame->peer);
        if (!hit)
            return false;
    }
    if (self->n_gateways) {
        bool hit = false;
        for (size_t i = 0; !hit && i < self->n_gateways; i++)
            hit = !strcmp (self->gateways[i], frame->gateway);
        if (!hit)
            return false;
    }
    return true;
}
