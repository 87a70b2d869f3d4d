//  engine - the matcher itself: reads gateway frames from the PULL socket,
//  runs the Lua script each one needs through the store, and publishes the
//  answers on the PUB socket, topic = destination gateway id + one 0x00.
//
//  One engine per process, on one zloop (STYLE rule 9). Besides frames it
//  runs two timers: every heartbeat_ms it publishes PULSE to "*" (with
//  the users online: the sessions the live gateways last reported) and
//  declares dead the gateways not heard for gateway_timeout_ms; every
//  100 ms it checks the stop flag; relax.c adds the interest-wait timer.
//  Frames that need an answer while Redis is down are answered ERROR
//  "unavailable"; OPEN, CLOSE and gateway deaths are kept (bounded) and
//  replayed when Redis is back, so that no socket close is lost.

#ifndef MEGLE_ENGINE_H
#define MEGLE_ENGINE_H

#include <signal.h>

#include "common/config.h"

typedef struct _engine_t engine_t;

//  Create the engine: bind bus_in (PULL) and bus_out (PUB), start
//  connecting to Redis. config and *stop must outlive the engine; the run
//  ends once *stop becomes nonzero. Returns NULL (reason logged) on
//  failure.
engine_t *engine_new (const config_t *config, volatile sig_atomic_t *stop);

//  Run the loop until *stop is set; then stop reading, wait up to 1 s for
//  Redis's outstanding replies (and publish their answers), and return 0.
int engine_run (engine_t *self);

//  Destroy the engine and everything it owns. NULL-safe; nulls *self_p.
void engine_destroy (engine_t **self_p);

#endif
