//  admission - Origin check, real client address, connection caps (see
//  admission.h).
//
//  The per-address table is chained hashing over a power-of-two bucket
//  array that doubles when it holds more entries than buckets. Keys are
//  salted hashes (hex), so their first bytes are already uniform; FNV-1a
//  over the whole key costs nothing and also copes with other keys.

#include "admission.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_KEY_MAX     64
#define S_BUCKETS_MIN 64
#define S_LIST_MAX    64 //  entries per list (proxies, origins)
#define S_ORIGIN_MAX  256

typedef struct {
    int family; //  AF_INET or AF_INET6
    uint8_t addr[16];
    int bits; //  prefix length
} s_net_t;

typedef struct _s_entry_t s_entry_t;
struct _s_entry_t {
    s_entry_t *next;
    size_t count;
    char key[S_KEY_MAX + 1];
};

struct _admission_t {
    s_net_t proxies[S_LIST_MAX];
    size_t proxy_count;
    char origins[S_LIST_MAX][S_ORIGIN_MAX];
    size_t origin_count;
    bool any_origin;
    size_t max_conns;
    size_t max_per_ip;
    s_entry_t **buckets;
    size_t bucket_count; //  a power of two
    size_t entries;
};

// ---------------------------------------------------------------------
//  Lists

//  Call fn on each trimmed, non-empty item of a comma list. Stops at the
//  first nonzero return and returns it.
static int
s_each (const char *list, int (*fn) (admission_t *, const char *, size_t),
        admission_t *self)
{
    const char *p = list ? list : "";
    while (*p) {
        const char *end = strchr (p, ',');
        if (!end)
            end = p + strlen (p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            int rc = fn (self, a, (size_t) (b - a));
            if (rc)
                return rc;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

//  Parse an address (no prefix) into net. Accepts "[v6]" brackets.
static int
s_parse_addr (const char *text, size_t len, s_net_t *net)
{
    char buf[ADMISSION_IP_MAX];
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy (buf, text, len);
    buf[len] = '\0';
    memset (net, 0, sizeof *net);
    if (inet_pton (AF_INET, buf, net->addr) == 1) {
        net->family = AF_INET;
        net->bits = 32;
        return 0;
    }
    if (inet_pton (AF_INET6, buf, net->addr) == 1) {
        //  An IPv4-mapped address is the IPv4 address.
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                           0, 0, 0, 0, 0xff, 0xff};
        if (memcmp (net->addr, mapped, 12) == 0) {
            memmove (net->addr, net->addr + 12, 4);
            memset (net->addr + 4, 0, 12);
            net->family = AF_INET;
            net->bits = 32;
            return 0;
        }
        net->family = AF_INET6;
        net->bits = 128;
        return 0;
    }
    return -1;
}

static int
s_add_proxy (admission_t *self, const char *item, size_t len)
{
    if (self->proxy_count == S_LIST_MAX)
        return -1;
    const char *slash = memchr (item, '/', len);
    s_net_t *net = &self->proxies[self->proxy_count];
    if (s_parse_addr (item, slash ? (size_t) (slash - item) : len, net))
        return -1;
    if (slash) {
        const char *d = slash + 1;
        size_t n = len - (size_t) (d - item);
        if (n == 0 || n > 3)
            return -1;
        int bits = 0;
        for (size_t i = 0; i < n; i++) {
            if (d[i] < '0' || d[i] > '9')
                return -1;
            bits = bits * 10 + (d[i] - '0');
        }
        if (bits > (net->family == AF_INET ? 32 : 128))
            return -1;
        net->bits = bits;
    }
    self->proxy_count++;
    return 0;
}

static int
s_add_origin (admission_t *self, const char *item, size_t len)
{
    if (len == 1 && item[0] == '*') {
        self->any_origin = true;
        return 0;
    }
    if (self->origin_count == S_LIST_MAX)
        return -1;
    while (len > 0 && item[len - 1] == '/')
        len--;
    if (len == 0 || len >= S_ORIGIN_MAX)
        return -1;
    memcpy (self->origins[self->origin_count], item, len);
    self->origins[self->origin_count][len] = '\0';
    self->origin_count++;
    return 0;
}

static bool
s_net_has (const s_net_t *net, const s_net_t *addr)
{
    if (net->family != addr->family)
        return false;
    int bits = net->bits;
    size_t whole = (size_t) bits / 8;
    if (memcmp (net->addr, addr->addr, whole) != 0)
        return false;
    int rest = bits % 8;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t) (0xffu << (8 - rest));
    return (net->addr[whole] & mask) == (addr->addr[whole] & mask);
}

static bool
s_trusted (admission_t *self, const s_net_t *addr)
{
    for (size_t i = 0; i < self->proxy_count; i++)
        if (s_net_has (&self->proxies[i], addr))
            return true;
    return false;
}

// ---------------------------------------------------------------------
//  Life cycle

admission_t *
admission_new (const char *trusted_proxies, const char *allowed_origins,
               size_t max_conns, size_t max_per_ip, char *err, size_t err_size)
{
    admission_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->max_conns = max_conns;
    self->max_per_ip = max_per_ip;
    if (s_each (trusted_proxies, s_add_proxy, self)) {
        snprintf (err, err_size,
                  "trusted proxies: not a list of at most %d IP addresses "
                  "or CIDRs",
                  S_LIST_MAX);
        free (self);
        return NULL;
    }
    if (s_each (allowed_origins, s_add_origin, self)) {
        snprintf (err, err_size,
                  "allowed origins: not a list of at most %d origins",
                  S_LIST_MAX);
        free (self);
        return NULL;
    }
    self->bucket_count = S_BUCKETS_MIN;
    self->buckets = calloc (self->bucket_count, sizeof *self->buckets);
    if (!self->buckets) {
        snprintf (err, err_size, "out of memory");
        free (self);
        return NULL;
    }
    return self;
}

void
admission_destroy (admission_t **self_p)
{
    assert (self_p);
    admission_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->bucket_count; i++) {
        s_entry_t *e = self->buckets[i];
        while (e) {
            s_entry_t *next = e->next;
            free (e);
            e = next;
        }
    }
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

// ---------------------------------------------------------------------
//  Origin

//  Does authority (host[:port], len bytes) equal host, ignoring case and
//  a default port on either side?
static bool
s_same_host (const char *authority, size_t len, const char *host,
             const char *default_port)
{
    size_t host_len = strlen (host);
    size_t port_len = strlen (default_port);
    if (len > port_len
        && strncmp (authority + len - port_len, default_port, port_len) == 0)
        len -= port_len;
    if (host_len > port_len
        && strcmp (host + host_len - port_len, default_port) == 0)
        host_len -= port_len;
    return len == host_len && strncasecmp (authority, host, len) == 0;
}

bool
admission_origin_ok (admission_t *self, const char *origin, const char *host)
{
    assert (self);
    if (!origin || !*origin)
        return true; //  not a browser: nothing to check
    if (self->any_origin)
        return true;
    size_t len = strlen (origin);
    while (len > 0 && origin[len - 1] == '/')
        len--;
    if (self->origin_count) {
        for (size_t i = 0; i < self->origin_count; i++)
            if (strlen (self->origins[i]) == len
                && strncasecmp (self->origins[i], origin, len) == 0)
                return true;
        return false;
    }
    //  Same host: scheme://authority, compared with the Host header.
    if (!host || !*host)
        return false;
    const char *sep = strstr (origin, "://");
    if (!sep || sep == origin || (size_t) (sep - origin) >= len)
        return false; //  "null" (sandboxed, file:) and garbage
    const char *authority = sep + 3;
    const char *end = origin + len;
    if (authority >= end)
        return false; //  "http://" (its slashes trimmed above)
    const char *slash = memchr (authority, '/', (size_t) (end - authority));
    if (slash)
        end = slash;
    size_t scheme_len = (size_t) (sep - origin);
    const char *default_port = "";
    if (scheme_len == 4 && strncasecmp (origin, "http", 4) == 0)
        default_port = ":80";
    else if (scheme_len == 5 && strncasecmp (origin, "https", 5) == 0)
        default_port = ":443";
    return s_same_host (authority, (size_t) (end - authority), host,
                        default_port);
}

// ---------------------------------------------------------------------
//  Client address

static void
s_copy (char *out, size_t out_size, const char *text, size_t len)
{
    if (out_size == 0)
        return;
    if (len >= out_size)
        len = out_size - 1;
    memcpy (out, text, len);
    out[len] = '\0';
}

//  Write addr as text (normalised: a mapped IPv4 address as IPv4).
static void
s_format (const s_net_t *addr, char *out, size_t out_size)
{
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop (addr->family, addr->addr, buf, sizeof buf))
        buf[0] = '\0';
    s_copy (out, out_size, buf, strlen (buf));
}

void
admission_client_ip (admission_t *self, const char *peer, const char *xff,
                     char *out, size_t out_size)
{
    assert (self);
    assert (out);
    if (!peer)
        peer = "";
    s_net_t addr;
    if (s_parse_addr (peer, strlen (peer), &addr)) {
        s_copy (out, out_size, peer, strlen (peer)); //  as lws gave it
        return;
    }
    s_format (&addr, out, out_size);
    if (!xff || !*xff || !s_trusted (self, &addr))
        return;
    //  Walk X-Forwarded-For from the right: each trusted proxy appended
    //  the address it saw; the first one that is not a trusted proxy is
    //  the client. What lies left of it is the client's own claim.
    const char *end = xff + strlen (xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        const char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        s_net_t hop;
        if (b > a) {
            if (s_parse_addr (a, (size_t) (b - a), &hop))
                return; //  not an address: keep the last one we trust
            s_format (&hop, out, out_size);
            if (!s_trusted (self, &hop))
                return;
        }
        end = start > xff ? start - 1 : xff;
    }
}

// ---------------------------------------------------------------------
//  Counts

static size_t
s_hash (const char *key)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return (size_t) h;
}

static s_entry_t **
s_slot (admission_t *self, const char *key)
{
    s_entry_t **slot = &self->buckets[s_hash (key) & (self->bucket_count - 1)];
    while (*slot && strcmp ((*slot)->key, key) != 0)
        slot = &(*slot)->next;
    return slot;
}

static void
s_grow (admission_t *self)
{
    size_t count = self->bucket_count * 2;
    s_entry_t **buckets = calloc (count, sizeof *buckets);
    if (!buckets)
        return; //  longer chains, still correct
    for (size_t i = 0; i < self->bucket_count; i++) {
        s_entry_t *e = self->buckets[i];
        while (e) {
            s_entry_t *next = e->next;
            size_t b = s_hash (e->key) & (count - 1);
            e->next = buckets[b];
            buckets[b] = e;
            e = next;
        }
    }
    free (self->buckets);
    self->buckets = buckets;
    self->bucket_count = count;
}

size_t
admission_count (admission_t *self, const char *key)
{
    assert (self);
    if (!key || strlen (key) > S_KEY_MAX)
        return 0;
    s_entry_t *e = *s_slot (self, key);
    return e ? e->count : 0;
}

size_t
admission_addresses (admission_t *self)
{
    assert (self);
    return self->entries;
}

admission_verdict_t
admission_check (admission_t *self, const char *key, size_t live)
{
    assert (self);
    if (self->max_conns && live >= self->max_conns)
        return ADMISSION_FULL;
    if (self->max_per_ip && admission_count (self, key) >= self->max_per_ip)
        return ADMISSION_PER_IP;
    return ADMISSION_OK;
}

int
admission_acquire (admission_t *self, const char *key)
{
    assert (self);
    if (!self->max_per_ip)
        return 0;
    if (!key || strlen (key) > S_KEY_MAX)
        return -1;
    s_entry_t **slot = s_slot (self, key);
    if (*slot) {
        (*slot)->count++;
        return 0;
    }
    s_entry_t *e = calloc (1, sizeof *e);
    if (!e)
        return -1;
    memcpy (e->key, key, strlen (key) + 1);
    e->count = 1;
    *slot = e;
    self->entries++;
    if (self->entries > self->bucket_count)
        s_grow (self);
    return 0;
}

void
admission_release (admission_t *self, const char *key)
{
    assert (self);
    if (!self->max_per_ip || !key || strlen (key) > S_KEY_MAX)
        return;
    s_entry_t **slot = s_slot (self, key);
    s_entry_t *e = *slot;
    if (!e)
        return;
    if (--e->count == 0) {
        *slot = e->next;
        free (e);
        self->entries--;
    }
}
