//  fuzz_redirect - libFuzzer target for redirect_parse, the reader of the
//  MOVED/ASK/retry error replies a Redis Cluster node sends the matcher.
//
//  Any bytes must give a known kind, never a read past the input. A MOVED
//  or ASK result must be canonical: printed back as "KIND slot host:port"
//  it gives exactly the input, with the slot and port in range and a
//  host of allowed characters only. A RETRY result must start with one of
//  the four words. abort() on any violation.
//
//  Built with -DMEGLE_LIBFUZZER it is a libFuzzer target; linked with
//  fuzz_replay.c instead, it replays every file (or every file in each
//  directory) named on argv, so the corpus is a ctest (fuzz.redirect.replay).

#include "redirect.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_check (int ok, const char *what)
{
    if (!ok) {
        fprintf (stderr, "fuzz_redirect: violated: %s\n", what);
        abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  an exactly-sized copy, so that reading past size is an ASan error
    char *copy = (char *) malloc (size ? size : 1);
    if (!copy)
        abort ();
    if (size)
        memcpy (copy, data, size);
    redirect_t r;
    redirect_kind_t kind = redirect_parse (copy, size, &r);
    s_check (kind == REDIRECT_NONE || kind == REDIRECT_MOVED
                 || kind == REDIRECT_ASK || kind == REDIRECT_RETRY,
             "known kind");
    size_t host_len = strnlen (r.host, sizeof r.host);
    s_check (host_len <= REDIRECT_HOST_MAX, "host NUL-terminated");
    if (kind == REDIRECT_MOVED || kind == REDIRECT_ASK) {
        s_check (r.slot >= 0 && r.slot < REDIRECT_SLOTS, "slot in range");
        s_check (r.port >= 1 && r.port <= 65535, "port in range");
        for (size_t i = 0; i < host_len; i++)
            s_check (strchr ("abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-_",
                             r.host[i])
                         != NULL,
                     "host characters");
        char back[REDIRECT_HOST_MAX + 32];
        int n = snprintf (back, sizeof back, "%s %d %s:%d",
                          kind == REDIRECT_MOVED ? "MOVED" : "ASK", r.slot,
                          r.host, r.port);
        s_check (n > 0 && (size_t) n == size && memcmp (back, copy, size) == 0,
                 "canonical: prints back to the input");
    } else {
        s_check (r.slot == -1 && r.port == 0 && host_len == 0,
                 "no address unless MOVED or ASK");
    }
    if (kind == REDIRECT_RETRY) {
        const char *words[] = {"TRYAGAIN", "CLUSTERDOWN", "LOADING",
                               "MASTERDOWN"};
        int found = 0;
        for (size_t i = 0; i < 4; i++) {
            size_t n = strlen (words[i]);
            if (size >= n && memcmp (copy, words[i], n) == 0
                && (size == n || copy[n] == ' '))
                found = 1;
        }
        s_check (found, "retry words only");
    }
    free (copy);
    return 0;
}
