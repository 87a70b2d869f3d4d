//  zap - the matcher's side of CURVE (MEGLE_CURVE=1, docs/security.md):
//  its server key pair, and a ZAP handler (ZeroMQ RFC 27) that admits a
//  client only if its public key is in MEGLE_CURVE_CLIENTS.
//
//  libzmq asks "may this client in?" on inproc://zeromq.zap.01 during
//  every CURVE handshake on a server socket of the same context. czmq's
//  zauth answers from a thread of its own; megle keeps one thread per
//  process (STYLE rule 9), so the handler is a REP socket on the
//  matcher's zloop instead. The allowed keys come from a czmq cert store
//  on the MEGLE_CURVE_CLIENTS directory (public cert files, as megle-keygen
//  writes them); the store rereads the directory when it changed, so a
//  client added or removed there counts from its next connection on,
//  without a restart. A refused client's frames never reach the matcher:
//  the handshake fails and libzmq keeps its messages on its side.

#ifndef MEGLE_ZAP_H
#define MEGLE_ZAP_H

#include <stdint.h>
#include <czmq.h>

#include "common/config.h"

typedef struct _zap_t zap_t;

//  Load the server cert (MEGLE_CURVE_SERVER_CERT) and the allowed clients
//  (MEGLE_CURVE_CLIENTS), bind the ZAP handler and serve it from loop
//  (which must outlive the handler). Call before binding any server
//  socket. Returns NULL (reason logged) on failure.
zap_t *zap_new (const config_t *config, zloop_t *loop);

//  Unregister and close. NULL-safe; nulls *self_p.
void zap_destroy (zap_t **self_p);

//  Make socket a CURVE server with the matcher's keys; call before it
//  binds. A NULL self (CURVE off) does nothing. Returns 0 or -1.
int zap_apply (zap_t *self, zsock_t *socket);

//  Handshakes admitted and refused so far (0 for a NULL self).
uint64_t zap_allowed (const zap_t *self);
uint64_t zap_denied (const zap_t *self);

#endif
