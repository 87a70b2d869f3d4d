//  wsc - a minimal WebSocket client for load generation: many connections
//  on one epoll loop in one thread, non-blocking sockets, RFC 6455 framing
//  (masked text frames out; text, continuation, ping, pong and close
//  frames in, fragmented messages reassembled). No TLS, no extensions.
//
//  wsnet_t owns the epoll descriptor and every connection. Writes are
//  buffered per connection and flushed once per loop turn, so several
//  messages to one socket cost one send().
#ifndef MEGLE_BENCH_WSC_H
#define MEGLE_BENCH_WSC_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _wsnet_t wsnet_t;
typedef struct _wsc_t wsc_t;

//  Callbacks; arg is the one given to wsnet_new. on_close is called once
//  when the peer closes or the connection fails (not after wsc_close); the
//  connection is freed after it returns.
typedef struct {
    void (*on_open) (wsc_t *ws, void *arg);
    void (*on_text) (wsc_t *ws, char *data, size_t len, void *arg);
    void (*on_pong) (wsc_t *ws, void *arg);
    void (*on_close) (wsc_t *ws, const char *why, void *arg);
} wsc_handler_t;

//  A new loop, or NULL. Caller owns it. handler is copied.
wsnet_t *wsnet_new (const wsc_handler_t *handler, void *arg);

//  Close every connection (no callbacks) and free the loop; NULL-safe.
void wsnet_destroy (wsnet_t **self_p);

//  Wait up to timeout_ms for events, dispatch them, flush pending writes.
//  Returns the number of events handled, or -1 on an epoll error.
int wsnet_run_once (wsnet_t *self, int timeout_ms);

//  Start connecting to dst (bound to src first if src is not NULL) and
//  upgrading to a WebSocket on path with the given Host header. Returns
//  the connection (owned by the loop) or NULL with errno set.
wsc_t *wsnet_connect (wsnet_t *self, const struct sockaddr_in *dst,
                      const struct sockaddr_in *src, const char *host,
                      const char *path, void *user);

//  How many connections the loop holds.
size_t wsnet_size (const wsnet_t *self);

//  Queue one text message. 0, or -1 if the connection is not open.
int wsc_send_text (wsc_t *self, const char *data, size_t len);

//  Queue a ping. 0, or -1 if the connection is not open.
int wsc_send_ping (wsc_t *self);

//  Send a close frame and drop the connection now (no on_close call). The
//  object stays valid until the current wsnet_run_once returns.
void wsc_close (wsc_t *self);

//  1 once the upgrade has completed and until the connection is gone.
int wsc_is_open (const wsc_t *self);

//  Bytes queued but not yet accepted by the kernel.
size_t wsc_unsent (const wsc_t *self);

//  The user pointer given to wsnet_connect.
void *wsc_user (const wsc_t *self);

#endif
