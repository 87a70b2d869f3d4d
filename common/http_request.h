//  http_request - the decoder of an HTTP/1.x request head (request line
//  and header lines, up to the empty line), for the matcher's small HTTP
//  endpoint (/healthz, /readyz, /metrics).
//
//  These are outside bytes, so this is the one place that reads them: a
//  bounded, single-pass scan that never reads past len, allocates nothing
//  and refuses anything that is not a plain HTTP/1.0 or 1.1 request head
//  (bare LF, NUL, obsolete line folding, control bytes, overlong method
//  or path). It may be called again with the same buffer grown by newly
//  read bytes: a head that is still incomplete and valid so far is
//  "partial"; one refused stays refused whatever follows. Fuzzed by
//  tests/fuzz_httpreq.c.

#ifndef MEGLE_HTTP_REQUEST_H
#define MEGLE_HTTP_REQUEST_H

#include <stddef.h>

#define HTTP_REQUEST_MAX        4096 //  default cap of a request head, bytes
#define HTTP_REQUEST_METHOD_MAX 15   //  longest method
#define HTTP_REQUEST_PATH_MAX   255  //  longest request target

typedef enum {
    HTTP_REQUEST_PARTIAL = 0,    //  valid so far; read more
    HTTP_REQUEST_DONE = 1,       //  a whole head; *request is filled
    HTTP_REQUEST_BAD = -1,       //  not an HTTP/1.x request head
    HTTP_REQUEST_TOO_LARGE = -2, //  no end within max bytes
} http_request_status_t;

typedef struct {
    char method[HTTP_REQUEST_METHOD_MAX + 1]; //  e.g. "GET", NUL-terminated
    char path[HTTP_REQUEST_PATH_MAX + 1];     //  target up to any '?'
    int minor;                                //  HTTP/1.<minor>: 0 or 1
    size_t head_len; //  bytes of the head, including the final CRLFCRLF
} http_request_t;

//  Decode the request head at the start of data (len bytes; any bytes
//  after the head are not looked at). max caps the head's length (0 =
//  HTTP_REQUEST_MAX). request is filled only on HTTP_REQUEST_DONE.
http_request_status_t http_request_parse (const char *data, size_t len,
                                          size_t max, http_request_t *request);

#endif
