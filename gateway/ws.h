//  ws - the "megle" WebSocket protocol of the gateway (ws.c): its lws
//  callback (declared in gateway.h with the other protocols) and its
//  keep-alive sweep.

#ifndef MEGLE_WS_H
#define MEGLE_WS_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"

//  One tick (every tick_ms) of the keep-alive sweep (keepalive.h): look at
//  the next slice of the gateway's roster from *cursor (the gateway keeps
//  it between ticks, starting at 0), so the whole roster is seen about
//  once per KEEPALIVE_PERIOD_MS; ping the connections quiet for
//  MEGLE_PING_INTERVAL_S, drop those silent for MEGLE_IDLE_TIMEOUT_S.
void ws_sweep (gateway_t *gw, size_t *cursor, uint32_t tick_ms);

#endif
