//  redirect - reads the error replies by which a Redis Cluster node sends a
//  call elsewhere or asks for it again later: `MOVED <slot> <host>:<port>`
//  (the slot lives on another node for good), `ASK <slot> <host>:<port>`
//  (the slot is being migrated: ask that node once, after ASKING), and the
//  transient TRYAGAIN, CLUSTERDOWN, LOADING and MASTERDOWN errors.
//
//  A pure function with no I/O: the store (store.c) decides what to do, the
//  unit suite (tests/test_redirect.c) and the fuzz target
//  (tests/fuzz_redirect.c) check the parser on its own.

#ifndef MEGLE_REDIRECT_H
#define MEGLE_REDIRECT_H

#include <stddef.h>

//  Longest host accepted, without the NUL (a DNS name is at most 253).
#define REDIRECT_HOST_MAX 255
//  Redis Cluster has 16384 slots.
#define REDIRECT_SLOTS 16384

typedef enum {
    REDIRECT_NONE = 0, //  any other reply text: not ours to handle
    REDIRECT_MOVED,    //  slot, host, port filled
    REDIRECT_ASK,      //  slot, host, port filled
    REDIRECT_RETRY,    //  TRYAGAIN, CLUSTERDOWN, LOADING or MASTERDOWN
} redirect_kind_t;

typedef struct {
    int slot;                         //  0..16383, or -1 (RETRY, NONE)
    char host[REDIRECT_HOST_MAX + 1]; //  "" = the node that answered
    int port;                         //  1..65535, or 0 (RETRY, NONE)
} redirect_t;

//  Parse the error text str (len bytes, need not be NUL-terminated; a
//  hiredis error reply's str/len). Returns the kind and fills *redirect
//  (always: zeroed fields for NONE and RETRY).
//
//  MOVED and ASK must be exactly `KIND SP slot SP host:port`, numbers in
//  plain decimal without leading zeros or signs, the port after the LAST
//  colon (Redis writes IPv6 addresses without brackets), the host made of
//  [A-Za-z0-9.:_-] (possibly empty: the same host as the node that
//  answered). Anything else, including "?" as the host (an endpoint the
//  node does not know), is REDIRECT_NONE. RETRY is one of the four words
//  alone or followed by a space and any text.
redirect_kind_t redirect_parse (const char *str, size_t len,
                                redirect_t *redirect);

#endif
