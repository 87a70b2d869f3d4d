//  curve - CURVE keys for megle's ZeroMQ bus clients (docs/security.md).
//
//  With MEGLE_CURVE=1 the matcher is the CURVE server of bus_in, bus_out
//  and the tap socket (matcher/zap.c); gateways and megle-tap are its
//  clients. A client needs two things: the matcher's public key
//  (MEGLE_CURVE_SERVER_KEY: 40 characters of Z85, or the path of the
//  matcher's public cert file) and its own key pair (MEGLE_CURVE_CERT: a
//  secret cert file written by megle-keygen). Cert files are czmq zcert
//  files; only the secret one holds a secret key.
//
//  Used by plain-libzmq code (the gateway's bus, megle-tap): the socket
//  arguments are libzmq socket handles (zsock_resolve () of a zsock_t).

#ifndef MEGLE_CURVE_H
#define MEGLE_CURVE_H

#include <stddef.h>

#include "config.h"

#define CURVE_KEY_LEN 40 //  a Z85 key, without the NUL

//  The keys a client applies to each of its sockets.
typedef struct {
    char server_public[CURVE_KEY_LEN + 1];
    char public_key[CURVE_KEY_LEN + 1];
    char secret_key[CURVE_KEY_LEN + 1];
} curve_client_t;

//  Read config's MEGLE_CURVE_SERVER_KEY and MEGLE_CURVE_CERT into *keys.
//  Returns 0; 1 if config->curve is 0 (nothing to do: plain sockets); -1
//  with the reason in err if a key is missing, unreadable or malformed.
int curve_client_load (const config_t *config, curve_client_t *keys, char *err,
                       size_t err_size);

//  Make socket a CURVE client with keys (before it connects). Returns 0,
//  or -1 (errno set by libzmq).
int curve_client_apply (const curve_client_t *keys, void *socket);

//  True if key is CURVE_KEY_LEN characters of valid Z85 encoding 32 bytes.
int curve_key_valid (const char *key);

//  Wipe the secret key from memory.
void curve_client_clear (curve_client_t *keys);

#endif
