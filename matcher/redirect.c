//  redirect - parser of Redis Cluster redirect and retry errors (see
//  redirect.h).

#include "redirect.h"

#include <assert.h>
#include <string.h>

//  True if str[0..len) starts with the word w followed by the end or a
//  space.
static int
s_word (const char *str, size_t len, const char *w)
{
    size_t n = strlen (w);
    return len >= n && memcmp (str, w, n) == 0 && (len == n || str[n] == ' ');
}

//  Plain decimal in [lo, hi]: at least one digit, no leading zero (but
//  "0"), no sign. Returns the value or -1.
static long
s_number (const char *str, size_t len, long lo, long hi)
{
    if (len < 1 || len > 5 || (len > 1 && str[0] == '0'))
        return -1;
    long value = 0;
    for (size_t i = 0; i < len; i++) {
        if (str[i] < '0' || str[i] > '9')
            return -1;
        value = value * 10 + (str[i] - '0');
    }
    return value >= lo && value <= hi ? value : -1;
}

static int
s_host_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == ':' || c == '-'
           || c == '_';
}

redirect_kind_t
redirect_parse (const char *str, size_t len, redirect_t *redirect)
{
    assert (redirect);
    memset (redirect, 0, sizeof *redirect);
    redirect->slot = -1;
    if (!str)
        return REDIRECT_NONE;
    if (s_word (str, len, "TRYAGAIN") || s_word (str, len, "CLUSTERDOWN")
        || s_word (str, len, "LOADING") || s_word (str, len, "MASTERDOWN"))
        return REDIRECT_RETRY;

    redirect_kind_t kind;
    size_t at;
    if (len > 6 && memcmp (str, "MOVED ", 6) == 0) {
        kind = REDIRECT_MOVED;
        at = 6;
    } else if (len > 4 && memcmp (str, "ASK ", 4) == 0) {
        kind = REDIRECT_ASK;
        at = 4;
    } else
        return REDIRECT_NONE;

    //  <slot> SP
    const char *space = (const char *) memchr (str + at, ' ', len - at);
    if (!space)
        return REDIRECT_NONE;
    long slot = s_number (str + at, (size_t) (space - (str + at)), 0,
                          REDIRECT_SLOTS - 1);
    if (slot < 0)
        return REDIRECT_NONE;

    //  <host>:<port>, the port after the last colon
    const char *addr = space + 1;
    size_t addr_len = len - (size_t) (addr - str);
    size_t colon = addr_len;
    for (size_t i = 0; i < addr_len; i++) {
        if (!s_host_char (addr[i]))
            return REDIRECT_NONE;
        if (addr[i] == ':')
            colon = i;
    }
    if (colon == addr_len || colon > REDIRECT_HOST_MAX)
        return REDIRECT_NONE;
    long port = s_number (addr + colon + 1, addr_len - colon - 1, 1, 65535);
    if (port < 0)
        return REDIRECT_NONE;

    memcpy (redirect->host, addr, colon);
    redirect->host[colon] = '\0';
    redirect->slot = (int) slot;
    redirect->port = (int) port;
    return kind;
}
