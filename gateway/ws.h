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

//  Write a message to the session's browser now, if nothing is waiting
//  before it (its queue and lws' buffer are empty) and its connection is
//  open: saves the queue node and the round trip through POLLOUT
//  (epoll_ctl on, a wake-up, epoll_ctl off) per message. *buf_p is a
//  malloc'd buffer of LWS_PRE spare bytes followed by len bytes of text.
//  Returns 1 = written (*buf_p freed and NULLed), 0 = not now (*buf_p
//  untouched: queue it), -1 = the write failed (*buf_p freed and NULLed;
//  the connection is being closed).
int ws_send (gateway_t *gw, session_t *session, uint8_t **buf_p, size_t len);

#endif
