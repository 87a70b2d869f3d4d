//  fuzz_httpreq - libFuzzer target for http_request_parse, the decoder of
//  the request heads the matcher's HTTP endpoint reads from the network.
//
//  Any bytes must give one of the four results, never a read past the
//  input. A whole head must end in CRLFCRLF within the input and the cap,
//  with a token method, a path that starts with '/' and holds no '?', and
//  HTTP/1.0 or 1.1. The scan must be incremental: a prefix of a whole head
//  is partial, a refused prefix stays refused, bytes after the head change
//  nothing, and a smaller cap only ever turns "partial" into "too large".
//  abort() on any violation.
//
//  Built with -DMEGLE_LIBFUZZER it is a libFuzzer target; linked with
//  fuzz_replay.c instead, it replays every file (or every file in each
//  directory) named on argv, so the corpus is a ctest (fuzz.httpreq.replay).

#include "http_request.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_MAX 64

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_check (int ok, const char *what)
{
    if (!ok) {
        fprintf (stderr, "fuzz_httpreq: violated: %s\n", what);
        abort ();
    }
}

static int
s_parse (const uint8_t *data, size_t size, size_t max, http_request_t *req)
{
    //  an exactly-sized copy, so that reading past size is an ASan error
    uint8_t *copy = calloc (size ? size : 1, 1);
    if (!copy)
        abort ();
    if (size)
        memcpy (copy, data, size);
    int rc = http_request_parse ((const char *) copy, size, max, req);
    free (copy);
    return rc;
}

static void
s_check_done (const uint8_t *data, size_t size, const http_request_t *req)
{
    s_check (req->head_len >= 16 && req->head_len <= size
                 && req->head_len <= HTTP_REQUEST_MAX,
             "head inside the input and the cap");
    s_check (memcmp (data + req->head_len - 4, "\r\n\r\n", 4) == 0,
             "head ends with CRLFCRLF");
    size_t method = strnlen (req->method, sizeof req->method);
    s_check (method >= 1 && method <= HTTP_REQUEST_METHOD_MAX, "method length");
    s_check (memcmp (data, req->method, method) == 0 && data[method] == ' ',
             "method is the first token");
    size_t path = strnlen (req->path, sizeof req->path);
    s_check (path >= 1 && path <= HTTP_REQUEST_PATH_MAX && req->path[0] == '/',
             "path");
    s_check (strchr (req->path, '?') == NULL, "no query in the path");
    s_check (memcmp (data + method + 1, req->path, path) == 0,
             "path is the target's start");
    for (size_t i = 0; i < path; i++)
        s_check (req->path[i] > 0x20 && req->path[i] < 0x7f,
                 "path is visible ASCII");
    s_check (req->minor == 0 || req->minor == 1, "HTTP/1.0 or 1.1");
    for (size_t i = 0; i + 1 < req->head_len; i++)
        if (data[i] == '\r')
            s_check (data[i + 1] == '\n', "no bare CR");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    http_request_t req, again;
    memset (&req, 0, sizeof req);
    int rc = s_parse (data, size, 0, &req);
    s_check (rc == HTTP_REQUEST_PARTIAL || rc == HTTP_REQUEST_DONE
                 || rc == HTTP_REQUEST_BAD || rc == HTTP_REQUEST_TOO_LARGE,
             "known result");
    s_check (rc != HTTP_REQUEST_PARTIAL || size < HTTP_REQUEST_MAX,
             "partial only below the cap");
    s_check (rc != HTTP_REQUEST_TOO_LARGE || size >= HTTP_REQUEST_MAX,
             "too large only at the cap");
    if (rc == HTTP_REQUEST_DONE) {
        s_check_done (data, size, &req);
        //  bytes after the head change nothing
        s_check (s_parse (data, req.head_len, 0, &again) == HTTP_REQUEST_DONE
                     && memcmp (&again, &req, sizeof req) == 0,
                 "the head alone decodes the same");
        //  one byte less is still partial
        s_check (s_parse (data, req.head_len - 1, 0, &again)
                     == HTTP_REQUEST_PARTIAL,
                 "a prefix of a head is partial");
    }
    //  prefixes: refused stays refused; a whole head stays whole
    size_t cuts[] = {size / 2, size > 0 ? size - 1 : 0, size / 3};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        int prc = s_parse (data, cuts[i], 0, &again);
        if (prc == HTTP_REQUEST_BAD)
            s_check (rc == HTTP_REQUEST_BAD, "a refused prefix stays refused");
        if (prc == HTTP_REQUEST_DONE)
            s_check (rc == HTTP_REQUEST_DONE && again.head_len == req.head_len,
                     "a whole head stays whole");
    }
    //  a smaller cap
    int src = s_parse (data, size, SMALL_MAX, &again);
    if (rc == HTTP_REQUEST_DONE && req.head_len <= SMALL_MAX)
        s_check (src == HTTP_REQUEST_DONE, "a small head fits a small cap");
    else if (rc == HTTP_REQUEST_DONE || rc == HTTP_REQUEST_PARTIAL)
        s_check (src == HTTP_REQUEST_TOO_LARGE
                     || (rc == HTTP_REQUEST_PARTIAL
                         && src == HTTP_REQUEST_PARTIAL && size < SMALL_MAX),
                 "a small cap only turns partial into too large");
    else if (rc == HTTP_REQUEST_BAD)
        s_check (src == HTTP_REQUEST_BAD || src == HTTP_REQUEST_TOO_LARGE,
                 "a small cap never accepts what a big one refuses");
    return 0;
}
