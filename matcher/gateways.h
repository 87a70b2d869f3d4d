//  gateways - the matcher's liveness table: gateway id -> when it was last
//  heard (monotonic ms) and how many live sessions it reported. A gateway
//  that stays silent past the timeout is declared dead and its sessions
//  are cleaned up (engine.c); the sum of the sessions of the live ones is
//  the "online" count every PULSE carries.

#ifndef MEGLE_GATEWAYS_H
#define MEGLE_GATEWAYS_H

#include <stddef.h>
#include <stdint.h>
#include <czmq.h>

typedef struct _gateways_t gateways_t;

//  Create an empty table. Returns NULL if out of memory.
gateways_t *gateways_new (void);

//  Destroy the table. NULL-safe; nulls *self_p.
void gateways_destroy (gateways_t **self_p);

//  Record that gateway `gw` was heard at now_ms (the id is copied).
//  Returns 1 if the gateway was not in the table, 0 if it was, -1 if out
//  of memory.
int gateways_beat (gateways_t *self, const char *gw, uint64_t now_ms);

//  Record the live sessions gateway `gw` reported (a HEARTBEAT's flags).
//  No-op if the gateway is not in the table.
void gateways_set_sessions (gateways_t *self, const char *gw,
                            uint32_t sessions);

//  The sum of the sessions of every gateway in the table.
uint64_t gateways_sessions (gateways_t *self);

//  True if the gateway is in the table.
int gateways_has (gateways_t *self, const char *gw);

//  Remove a gateway. Returns 0, or -1 if it was not in the table.
int gateways_remove (gateways_t *self, const char *gw);

//  Remove every gateway last heard before deadline_ms and append its id to
//  `dead` (a zlist the caller owns, set to autofree: the ids are copies).
//  Returns how many were removed.
size_t gateways_expire (gateways_t *self, uint64_t deadline_ms, zlist_t *dead);

//  True if gw is a well-formed gateway id: 1..64 of [A-Za-z0-9._-].
int gateways_id_valid (const char *gw);

//  Number of gateways in the table.
size_t gateways_size (gateways_t *self);

#endif
