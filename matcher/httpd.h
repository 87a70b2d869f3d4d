//  httpd - a small HTTP/1.1 responder on the matcher's zloop, for
//  /healthz, /readyz and /metrics: one request per connection, answered
//  and closed.
//
//  One thread, one loop (STYLE rule 9): the listening socket and each
//  client socket are zloop pollers. A client's request head is read until
//  its empty line (common/http_request.h decodes it) with a cap of
//  HTTP_REQUEST_MAX bytes and a deadline of HTTPD_TIMEOUT_MS; at most
//  HTTPD_CLIENTS_MAX clients are served at once (more are closed at
//  accept). Only GET and HEAD are answered; the handler writes the body.

#ifndef MEGLE_HTTPD_H
#define MEGLE_HTTPD_H

#include <stdio.h>
#include <czmq.h>

#include "common/http_request.h"

#define HTTPD_CLIENTS_MAX 16
#define HTTPD_TIMEOUT_MS  5000

typedef struct _httpd_t httpd_t;

//  Answer one GET or HEAD request: write the body to out, set *type_p to
//  its Content-Type (a static string) and return the HTTP status.
typedef int (httpd_handler_fn) (const http_request_t *request, FILE *out,
                                const char **type_p, void *arg);

//  Listen on host:port (port 0 = any free one) and serve on loop (which
//  must outlive the server). Returns NULL, with the reason logged, if the
//  address cannot be bound or out of memory.
httpd_t *httpd_new (zloop_t *loop, const char *host, int port,
                    httpd_handler_fn *handler, void *arg);

//  The port actually listened on.
int httpd_port (httpd_t *self);

//  Close the listening socket and every client. NULL-safe; nulls *self_p.
void httpd_destroy (httpd_t **self_p);

#endif
