//  listener - the gateway's own listening socket. With MEGLE_REUSEPORT=1
//  it has SO_REUSEPORT: several gateway processes on one host share one
//  port and the kernel spreads new connections over them
//  (docs/scaling.md).
//
//  The gateway always listens itself rather than through lws: lws 4.1.6
//  built with IPv6 (as Debian's is) listens on every address when given
//  an IPv4 interface such as 127.0.0.1, and a gateway told to listen on
//  loopback must not be reachable from elsewhere.
//
//  lws 4.1.6 sets SO_REUSEPORT only for a context with several service
//  threads (LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE is ignored with one; the
//  Debian build has LWS_MAX_SMP 1), so the gateway listens itself: the
//  socket joins the lws loop as an adopted raw file, and each accepted
//  connection is handed to the vhost with lws_adopt_socket_vhost, which is
//  what lws' own listener does after accept().

#ifndef MEGLE_LISTENER_H
#define MEGLE_LISTENER_H

#include <stdbool.h>

#include <libwebsockets.h>

typedef struct _listener_t listener_t;

//  Listen on host:port (host: a numeric address, or "" for any; port 0 =
//  any) with SO_REUSEADDR, and SO_REUSEPORT if reuseport. Returns NULL on
//  failure (reason logged).
listener_t *listener_new (const char *host, int port, bool reuseport);

//  The port it listens on.
int listener_port (listener_t *self);

//  Adopt the socket into vhost's loop on the protocol named
//  protocol_name, whose callback must be listener_callback; accepted
//  connections go to vhost. From then on lws owns the socket (it closes it
//  with the context). Returns 0 or -1.
int listener_attach (listener_t *self, struct lws_vhost *vhost,
                     const char *protocol_name);

//  Stop listening at once (SIGTERM drain with MEGLE_REUSEPORT: the kernel
//  then gives new connections to the other processes on the port).
//  Connections already waiting are accepted first, so they get an answer
//  (draining: 503) rather than a reset. lws closes the socket soon after.
void listener_stop (listener_t *self);

//  Make an accepted connection ready for lws: non-blocking, close-on-exec,
//  TCP_NODELAY. Returns 0 or -1 (errno set).
int listener_prepare (int fd);

//  Free the listener; closes the socket unless lws owns it. NULL-safe;
//  nulls *self_p.
void listener_destroy (listener_t **self_p);

//  The lws protocol callback of the adopted listening socket.
int listener_callback (struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

#endif
