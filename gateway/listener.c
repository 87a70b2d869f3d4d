//  listener - the gateway's own listening socket (see listener.h).

//  SO_REUSEPORT is a BSD/Linux extension, outside _POSIX_C_SOURCE.
#define _DEFAULT_SOURCE

#include "listener.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define LISTENER_BACKLOG    4096
#define LISTENER_ACCEPT_MAX 256 //  accepts per wake-up, then the loop runs

struct _listener_t {
    int fd;          //  the listening socket; -1 once lws owns it
    int port;        //  the port bound
    struct lws *wsi; //  the adopted socket, or NULL
    struct lws_vhost *vhost;
    bool stopped; //  listener_stop was called
};

listener_t *
listener_new (const char *host, int port, bool reuseport)
{
    assert (host);
    struct addrinfo hints, *result = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    char service[16];
    snprintf (service, sizeof service, "%d", port);
    bool any = host[0] == '\0' || strcmp (host, "0.0.0.0") == 0;
    int rc = getaddrinfo (any ? NULL : host, service, &hints, &result);
    if (rc != 0 || !result) {
        log_error ("listener: %s: %s", host, gai_strerror (rc));
        return NULL;
    }
    int fd = socket (result->ai_family, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)
        || (reuseport
            && setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one))
        || bind (fd, result->ai_addr, result->ai_addrlen)
        || listen (fd, LISTENER_BACKLOG) || fcntl (fd, F_SETFD, FD_CLOEXEC)
        || fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK)) {
        log_error ("listener: cannot listen on %s port %d: %s", host, port,
                   strerror (errno));
        if (fd >= 0)
            close (fd);
        freeaddrinfo (result);
        return NULL;
    }
    freeaddrinfo (result);
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof addr;
    int bound = port;
    if (getsockname (fd, (struct sockaddr *) &addr, &addr_len) == 0) {
        if (addr.ss_family == AF_INET)
            bound = ntohs (((struct sockaddr_in *) &addr)->sin_port);
        else if (addr.ss_family == AF_INET6)
            bound = ntohs (((struct sockaddr_in6 *) &addr)->sin6_port);
    }
    listener_t *self = calloc (1, sizeof *self);
    if (!self) {
        close (fd);
        return NULL;
    }
    self->fd = fd;
    self->port = bound;
    return self;
}

int
listener_port (listener_t *self)
{
    assert (self);
    return self->port;
}

int
listener_attach (listener_t *self, struct lws_vhost *vhost,
                 const char *protocol_name)
{
    assert (self);
    assert (vhost);
    lws_sock_file_fd_type fd;
    memset (&fd, 0, sizeof fd);
    fd.filefd = self->fd;
    self->vhost = vhost;
    //  lws owns (and closes) the descriptor from here, even on failure.
    self->fd = -1;
    self->wsi = lws_adopt_descriptor_vhost (vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                            protocol_name, NULL);
    if (!self->wsi) {
        log_error ("listener: cannot adopt the listening socket");
        return -1;
    }
    lws_set_opaque_user_data (self->wsi, self);
    return 0;
}

void
listener_destroy (listener_t **self_p)
{
    assert (self_p);
    listener_t *self = *self_p;
    if (!self)
        return;
    if (self->wsi)
        lws_set_opaque_user_data (self->wsi, NULL);
    if (self->fd >= 0)
        close (self->fd);
    free (self);
    *self_p = NULL;
}

int
listener_prepare (int fd)
{
    //  Small messages must leave at once: without TCP_NODELAY, Nagle
    //  holds a message back until the peer's delayed ACK (~40 ms) of the
    //  one before it. (lws sets it on connections its own listener takes.)
    int one = 1;
    int flags = fcntl (fd, F_GETFL);
    if (flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK)
        || fcntl (fd, F_SETFD, FD_CLOEXEC)
        || setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one))
        return -1;
    return 0;
}

//  Accept what is waiting and hand each connection to lws, as its own
//  listener would.
static void
s_accept (listener_t *self, int fd)
{
    for (int n = 0; n < LISTENER_ACCEPT_MAX; n++) {
        int conn = accept (fd, NULL, NULL);
        if (conn < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                && errno != ECONNABORTED)
                log_warn ("listener: accept: %s", strerror (errno));
            return;
        }
        listener_prepare (conn);
        //  lws closes the socket if it cannot adopt it.
        if (!lws_adopt_socket_vhost (self->vhost, conn))
            log_warn ("listener: lws could not adopt a connection");
    }
}

void
listener_stop (listener_t *self)
{
    assert (self);
    if (self->stopped)
        return;
    self->stopped = true;
    if (!self->wsi) {
        if (self->fd >= 0) {
            close (self->fd);
            self->fd = -1;
        }
        return;
    }
    int fd = lws_get_socket_fd (self->wsi);
    s_accept (self, fd);
    //  shutdown() takes a listening socket out of its SO_REUSEPORT group
    //  at once; lws closes the descriptor on its next timeout pass.
    if (shutdown (fd, SHUT_RD))
        log_warn ("listener: shutdown: %s", strerror (errno));
    lws_set_timeout (self->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT,
                     LWS_TO_KILL_ASYNC);
    log_ev_info ("listener_stopped", NULL);
}

int
listener_callback (struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len)
{
    listener_t *self = lws_get_opaque_user_data (wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (self && self->stopped)
            return -1; //  shut down: let lws close it now
        if (self)
            s_accept (self, lws_get_socket_fd (wsi));
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (self)
            self->wsi = NULL;
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; //  no WebSocket may ever bind to this protocol
    default:
        return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}
