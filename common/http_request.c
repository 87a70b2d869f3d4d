//  http_request - HTTP/1.x request head decoder (see http_request.h).
//
//  One forward scan over at most max bytes. Each step checks the byte it
//  is at against what the grammar (RFC 9112, simplified to what a probe
//  or a scraper sends) allows there, so the answer never depends on bytes
//  not yet received: a refused prefix stays refused.

#include "http_request.h"

#include <string.h>

//  RFC 9110 token characters.
static int
s_tchar (unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z'))
        return 1;
    return c && strchr ("!#$%&'*+-.^_`|~", c) != NULL;
}

//  Bytes allowed in a header value: visible ASCII, blanks, obs-text.
static int
s_value_char (unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

http_request_status_t
http_request_parse (const char *data, size_t len, size_t max,
                    http_request_t *request)
{
    if (max == 0)
        max = HTTP_REQUEST_MAX;
    const unsigned char *p = (const unsigned char *) data;
    size_t end = len < max ? len : max;
    size_t i = 0;
    http_request_t req;
    memset (&req, 0, sizeof req);

    //  Running out of bytes: partial, unless the cap was the limit.
#define NEED(n)                                                                \
    do {                                                                       \
        if (i + (n) > end)                                                     \
            goto out_of_bytes;                                                 \
    } while (0)

    //  Method: 1..METHOD_MAX token characters, then one SP.
    size_t n = 0;
    for (;; i++, n++) {
        NEED (1);
        if (p[i] == ' ')
            break;
        if (!s_tchar (p[i]) || n == HTTP_REQUEST_METHOD_MAX)
            return HTTP_REQUEST_BAD;
        req.method[n] = (char) p[i];
    }
    if (n == 0)
        return HTTP_REQUEST_BAD;
    i++;

    //  Target: '/' then visible ASCII, at most PATH_MAX, then one SP. The
    //  path is what comes before any '?'.
    n = 0;
    int query = 0;
    for (;; i++, n++) {
        NEED (1);
        unsigned char c = p[i];
        if (c == ' ')
            break;
        if ((n == 0 && c != '/') || c <= 0x20 || c >= 0x7f
            || n == HTTP_REQUEST_PATH_MAX)
            return HTTP_REQUEST_BAD;
        if (c == '?')
            query = 1;
        if (!query)
            req.path[n] = (char) c;
    }
    if (n == 0)
        return HTTP_REQUEST_BAD;
    i++;

    //  Version: "HTTP/1.0" or "HTTP/1.1", then CRLF.
    static const char version[] = "HTTP/1.";
    for (size_t k = 0; k < sizeof version - 1; k++, i++) {
        NEED (1);
        if (p[i] != (unsigned char) version[k])
            return HTTP_REQUEST_BAD;
    }
    NEED (1);
    if (p[i] != '0' && p[i] != '1')
        return HTTP_REQUEST_BAD;
    req.minor = p[i] - '0';
    i++;
    NEED (1);
    if (p[i++] != '\r')
        return HTTP_REQUEST_BAD;
    NEED (1);
    if (p[i++] != '\n')
        return HTTP_REQUEST_BAD;

    //  Header lines "name: value" CRLF, until an empty line. No folding.
    for (;;) {
        NEED (1);
        if (p[i] == '\r') {
            i++;
            NEED (1);
            if (p[i++] != '\n')
                return HTTP_REQUEST_BAD;
            break;
        }
        n = 0;
        for (;; i++, n++) {
            NEED (1);
            if (p[i] == ':')
                break;
            if (!s_tchar (p[i]))
                return HTTP_REQUEST_BAD;
        }
        if (n == 0)
            return HTTP_REQUEST_BAD;
        i++;
        for (;; i++) {
            NEED (1);
            if (p[i] == '\r')
                break;
            if (!s_value_char (p[i]))
                return HTTP_REQUEST_BAD;
        }
        i++;
        NEED (1);
        if (p[i++] != '\n')
            return HTTP_REQUEST_BAD;
    }
#undef NEED
    req.head_len = i;
    *request = req;
    return HTTP_REQUEST_DONE;

out_of_bytes:
    return len >= max ? HTTP_REQUEST_TOO_LARGE : HTTP_REQUEST_PARTIAL;
}
