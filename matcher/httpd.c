//  httpd - the matcher's HTTP/1.1 responder on zloop (see httpd.h).
//
//  Life of a client: accepted (non-blocking) and polled for input; bytes
//  read until http_request_parse says the head is whole (or bad, or too
//  large); the answer built in memory and written, polling for output if
//  the socket will not take it at once; then closed. A client is freed
//  only by its own poller handler: zloop runs timers before pollers in a
//  round, so a timer that freed a client could leave its handler to be
//  called with a dangling argument. The deadline timer therefore only
//  shuts a late client's socket down, which wakes its handler to close it.

#include "httpd.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define SWEEP_MS       500 //  how often deadlines are checked
#define ACCEPT_MAX     16  //  connections accepted per wake-up
#define LISTEN_BACKLOG 64

typedef struct {
    httpd_t *server;
    int fd;
    uint64_t deadline_ms; //  monotonic
    int late;             //  shut down by the deadline timer
    char in[HTTP_REQUEST_MAX];
    size_t in_len;
    char *out; //  the whole answer, NULL until built
    size_t out_len;
    size_t out_off; //  bytes written so far
} s_client_t;

struct _httpd_t {
    zloop_t *loop; //  borrowed
    int fd;        //  listening socket
    int port;
    int timer_id;
    httpd_handler_fn *handler;
    void *arg;
    s_client_t *clients[HTTPD_CLIENTS_MAX]; //  NULL = free slot
};

static int s_on_client (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static int
s_nonblocking (int fd)
{
    int flags = fcntl (fd, F_GETFL, 0);
    return flags == -1 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) == -1 ? -1
                                                                        : 0;
}

//  Poll the client's socket for input (events = ZMQ_POLLIN) or output.
//  Errors (a reset, a hang-up) are passed to the handler, not handled by
//  zloop, which would otherwise end the poller behind our back.
static int
s_watch (s_client_t *client, short events)
{
    zmq_pollitem_t item = {NULL, client->fd, events, 0};
    if (zloop_poller (client->server->loop, &item, s_on_client, client))
        return -1;
    zloop_poller_set_tolerant (client->server->loop, &item);
    return 0;
}

static void
s_unwatch (s_client_t *client)
{
    zmq_pollitem_t item = {NULL, client->fd, 0, 0};
    zloop_poller_end (client->server->loop, &item);
}

static void
s_client_close (s_client_t *client)
{
    httpd_t *self = client->server;
    s_unwatch (client);
    close (client->fd);
    for (size_t i = 0; i < HTTPD_CLIENTS_MAX; i++)
        if (self->clients[i] == client)
            self->clients[i] = NULL;
    free (client->out);
    free (client);
}

static const char *
s_reason (int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

//  Build the whole answer into client->out. request is NULL for a refused
//  head (status 400 or 431).
static int
s_build (s_client_t *client, const http_request_t *request, int status)
{
    char *body = NULL;
    size_t body_len = 0;
    const char *type = "text/plain; charset=utf-8";
    FILE *out = open_memstream (&body, &body_len);
    if (!out)
        return -1;
    int head = 0;
    if (!request)
        fprintf (out, "%s\n", s_reason (status));
    else if (strcmp (request->method, "GET")
             && strcmp (request->method, "HEAD")) {
        status = 405;
        fputs ("only GET and HEAD\n", out);
    } else {
        head = strcmp (request->method, "HEAD") == 0;
        httpd_t *self = client->server;
        status = self->handler (request, out, &type, self->arg);
    }
    if (fclose (out)) {
        free (body);
        return -1;
    }
    char *answer = NULL;
    size_t answer_len = 0;
    out = open_memstream (&answer, &answer_len);
    if (!out) {
        free (body);
        return -1;
    }
    fprintf (out,
             "HTTP/1.1 %d %s\r\n"
             "Content-Type: %s\r\n"
             "Content-Length: %zu\r\n"
             "Cache-Control: no-store\r\n"
             "%s"
             "Connection: close\r\n\r\n",
             status, s_reason (status), type, body_len,
             status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!head && body_len)
        fwrite (body, 1, body_len, out);
    free (body);
    if (fclose (out)) {
        free (answer);
        return -1;
    }
    client->out = answer;
    client->out_len = answer_len;
    client->out_off = 0;
    return 0;
}

//  Write what the socket takes. Returns 1 when all is written, 0 if more
//  remains, -1 on error.
static int
s_flush (s_client_t *client)
{
    while (client->out_off < client->out_len) {
        ssize_t n = send (client->fd, client->out + client->out_off,
                          client->out_len - client->out_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        client->out_off += (size_t) n;
    }
    return 1;
}

//  Read what arrived; once the head is decided, answer. Returns 0 to keep
//  the client, -1 to close it.
static int
s_read (s_client_t *client)
{
    for (;;) {
        size_t room = sizeof client->in - client->in_len;
        ssize_t n =
            room ? recv (client->fd, client->in + client->in_len, room, 0) : 0;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 && room)
            return -1; //  closed (or failed) before a whole head
        client->in_len += (size_t) (n > 0 ? n : 0);
        http_request_t request;
        int status = 0;
        switch (http_request_parse (client->in, client->in_len,
                                    sizeof client->in, &request)) {
        case HTTP_REQUEST_PARTIAL:
            continue;
        case HTTP_REQUEST_DONE:
            status = 200;
            break;
        case HTTP_REQUEST_BAD:
            status = 400;
            break;
        case HTTP_REQUEST_TOO_LARGE:
            status = 431;
            break;
        }
        if (s_build (client, status == 200 ? &request : NULL, status))
            return -1;
        int rc = s_flush (client);
        if (rc != 0)
            return -1; //  all written (or failed): done
        //  The rest when the socket takes it.
        s_unwatch (client);
        return s_watch (client, ZMQ_POLLOUT);
    }
}

static int
s_on_client (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    s_client_t *client = (s_client_t *) arg;
    int rc = client->late  ? -1
             : client->out ? (s_flush (client) == 0 ? 0 : -1)
                           : s_read (client);
    if (rc != 0) {
        //  Our answer is complete: say so before closing, so that unread
        //  bytes from the client do not turn the close into a reset.
        shutdown (client->fd, SHUT_WR);
        s_client_close (client);
    }
    return 0; //  never end the loop
}

static int
s_on_listener (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    httpd_t *self = (httpd_t *) arg;
    for (int count = 0; count < ACCEPT_MAX; count++) {
        int fd = accept (self->fd, NULL, NULL);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                && errno != ECONNABORTED)
                log_warn ("http: accept failed: %s", strerror (errno));
            break;
        }
        size_t slot = 0;
        while (slot < HTTPD_CLIENTS_MAX && self->clients[slot])
            slot++;
        s_client_t *client = slot < HTTPD_CLIENTS_MAX
                                 ? (s_client_t *) calloc (1, sizeof *client)
                                 : NULL;
        if (!client || s_nonblocking (fd)) {
            //  Busy (or out of memory): refuse by closing.
            free (client);
            close (fd);
            continue;
        }
        client->server = self;
        client->fd = fd;
        client->deadline_ms = clock_mono_ms () + HTTPD_TIMEOUT_MS;
        if (s_watch (client, ZMQ_POLLIN)) {
            free (client);
            close (fd);
            continue;
        }
        self->clients[slot] = client;
    }
    return 0;
}

//  Shut down the sockets of clients past their deadline; their handlers
//  then close them (see the top of this file).
static int
s_on_sweep (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    httpd_t *self = (httpd_t *) arg;
    uint64_t now = clock_mono_ms ();
    for (size_t i = 0; i < HTTPD_CLIENTS_MAX; i++) {
        s_client_t *client = self->clients[i];
        if (client && !client->late && now >= client->deadline_ms) {
            client->late = 1;
            shutdown (client->fd, SHUT_RDWR);
        }
    }
    return 0;
}

//  A non-blocking listening socket on host:port, or -1 (reason logged).
static int
s_listen (const char *host, int port)
{
    char service[16];
    snprintf (service, sizeof service, "%d", port);
    struct addrinfo hints, *result = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo (host[0] ? host : NULL, service, &hints, &result);
    if (rc != 0) {
        log_error ("http: cannot resolve %s: %s", host, gai_strerror (rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = result; ai && fd < 0; ai = ai->ai_next) {
        fd = socket (ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind (fd, ai->ai_addr, ai->ai_addrlen)
            || listen (fd, LISTEN_BACKLOG) || s_nonblocking (fd)) {
            log_error ("http: cannot listen on %s:%d: %s", host, port,
                       strerror (errno));
            close (fd);
            fd = -1;
        }
    }
    freeaddrinfo (result);
    return fd;
}

static int
s_bound_port (int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname (fd, (struct sockaddr *) &addr, &len))
        return -1;
    char service[16];
    if (getnameinfo ((struct sockaddr *) &addr, len, NULL, 0, service,
                     sizeof service, NI_NUMERICSERV))
        return -1;
    return atoi (service);
}

httpd_t *
httpd_new (zloop_t *loop, const char *host, int port, httpd_handler_fn *handler,
           void *arg)
{
    assert (loop);
    assert (host);
    assert (handler);
    httpd_t *self = (httpd_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->handler = handler;
    self->arg = arg;
    self->timer_id = -1;
    self->fd = s_listen (host, port);
    if (self->fd < 0) {
        free (self);
        return NULL;
    }
    self->port = s_bound_port (self->fd);
    zmq_pollitem_t item = {NULL, self->fd, ZMQ_POLLIN, 0};
    if (zloop_poller (loop, &item, s_on_listener, self)) {
        close (self->fd);
        free (self);
        return NULL;
    }
    zloop_poller_set_tolerant (loop, &item);
    self->timer_id = zloop_timer (loop, SWEEP_MS, 0, s_on_sweep, self);
    if (self->timer_id == -1) {
        httpd_destroy (&self);
        return NULL;
    }
    return self;
}

int
httpd_port (httpd_t *self)
{
    assert (self);
    return self->port;
}

void
httpd_destroy (httpd_t **self_p)
{
    assert (self_p);
    httpd_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < HTTPD_CLIENTS_MAX; i++)
        if (self->clients[i])
            s_client_close (self->clients[i]);
    if (self->timer_id != -1)
        zloop_timer_end (self->loop, self->timer_id);
    zmq_pollitem_t item = {NULL, self->fd, 0, 0};
    zloop_poller_end (self->loop, &item);
    close (self->fd);
    free (self);
    *self_p = NULL;
}
