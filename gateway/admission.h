//  admission - who may open a WebSocket on this gateway: the Origin check,
//  the client's real address (the socket peer, or X-Forwarded-For when the
//  peer is a trusted proxy), and the connection caps (per gateway, per
//  client address).
//
//  Per-address counts are kept in a small hash table keyed by the salted
//  hash of the address (the same hash the OPEN frame carries), never by
//  the address itself. Pure logic on strings: no libwebsockets, so it is
//  Check-tested (tests/test_admission.c); ws.c feeds it the headers.

#ifndef MEGLE_ADMISSION_H
#define MEGLE_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>

//  Longest address text admission_client_ip writes, with the NUL.
#define ADMISSION_IP_MAX 64

typedef enum {
    ADMISSION_OK = 0,     //  admit
    ADMISSION_FULL = 1,   //  the gateway holds max_conns connections
    ADMISSION_PER_IP = 2, //  this address holds max_per_ip connections
} admission_verdict_t;

typedef struct _admission_t admission_t;

//  trusted_proxies: comma list of IPv4/IPv6 addresses or CIDRs ("" =
//  none); allowed_origins: comma list of origins ("scheme://host[:port]",
//  or "*" for any; "" = same host as the Host header); max_conns and
//  max_per_ip: 0 = no cap. Returns NULL and writes the reason to err if a
//  list does not parse or out of memory.
admission_t *admission_new (const char *trusted_proxies,
                            const char *allowed_origins, size_t max_conns,
                            size_t max_per_ip, char *err, size_t err_size);

//  Destroy. NULL-safe; nulls *self_p.
void admission_destroy (admission_t **self_p);

//  May a WebSocket upgrade with this Origin header (NULL or "" = none:
//  not a browser, allowed) and Host header (NULL = none) proceed? With an
//  allow-list, the origin must be in it (case-insensitive, a trailing "/"
//  ignored). Without, its host[:port] must equal the Host header, a
//  default port (80 for http, 443 for https) counting as absent.
bool admission_origin_ok (admission_t *self, const char *origin,
                          const char *host);

//  The client's address, written into out (ADMISSION_IP_MAX bytes is
//  always enough): the peer, unless the peer is a trusted proxy and an
//  X-Forwarded-For header (xff, NULL = none) is present; then the
//  right-most address in it that is not a trusted proxy (the left-most if
//  all are). An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is written as
//  a.b.c.d, so that a client hashes the same on any socket.
void admission_client_ip (admission_t *self, const char *peer, const char *xff,
                          char *out, size_t out_size);

//  May one more connection from the address whose salted hash is key be
//  opened, with `live` connections open on this gateway? Changes nothing.
admission_verdict_t admission_check (admission_t *self, const char *key,
                                     size_t live);

//  Count a connection of key in (acquire) or out (release). Returns 0, or
//  -1 if out of memory (the connection is then not counted). No-ops when
//  there is no per-address cap.
int admission_acquire (admission_t *self, const char *key);
void admission_release (admission_t *self, const char *key);

//  Connections counted for key; addresses with at least one.
size_t admission_count (admission_t *self, const char *key);
size_t admission_addresses (admission_t *self);

#endif
