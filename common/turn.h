//  turn - the ICE servers a gateway hands each browser in `welcome`: STUN
//  URLs as they are, and TURN URLs with time-limited credentials in
//  coturn's REST-API scheme (use-auth-secret / static-auth-secret):
//
//    username   = "<expiry, Unix seconds>:<session id>"
//    credential = base64 (HMAC-SHA1 (secret, username))
//
//  coturn recomputes the credential from the username with the same
//  secret and refuses it once the expiry has passed. The secret stays in
//  the gateway: only the username and the credential reach the browser.

#ifndef MEGLE_TURN_H
#define MEGLE_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TURN_URLS_MAX       16 //  URLs per list at most
#define TURN_CREDENTIAL_LEN 28 //  base64 of a 20-byte SHA-1 HMAC

typedef struct _turn_t turn_t;

//  Build from the comma-separated URL lists (blanks around items are
//  ignored; empty lists are ""), the shared secret ("" = no TURN) and the
//  credentials' lifetime in seconds. TURN entries are issued only if both
//  turn_urls and secret are set. Strings are copied. Returns NULL if a
//  list is malformed (an empty item, a blank inside a URL, a wrong
//  scheme: stun:/stuns: resp. turn:/turns:, more than TURN_URLS_MAX) or
//  out of memory.
turn_t *turn_new (const char *stun_urls, const char *turn_urls,
                  const char *secret, int ttl_s);

//  Destroy. NULL-safe; nulls *self_p.
void turn_destroy (turn_t **self_p);

//  True if TURN credentials are issued (URLs and secret set).
bool turn_enabled (turn_t *self);

//  Check one comma-separated URL list as turn_new does; turn = true for
//  turn:/turns:, false for stun:/stuns:. Returns 0, or -1 with a reason
//  in why.
int turn_urls_check (const char *list, bool turn, char *why, size_t why_size);

//  The coturn REST-API credential for `id` expiring at `expiry` (Unix
//  seconds): writes the username into username (NUL-terminated) and the
//  base64 credential (TURN_CREDENTIAL_LEN characters + NUL) into
//  credential. Returns 0, or -1 if a buffer is too small or HMAC failed.
int turn_credential (const char *secret, uint64_t expiry, const char *id,
                     char *username, size_t username_size, char *credential,
                     size_t credential_size);

//  The JSON array of RTCIceServer objects for session `id` at now_s (Unix
//  seconds): {"urls":[stun...]} if any STUN URL, then {"urls":[turn...],
//  "username":..., "credential":...} if TURN is enabled; "[]" if neither.
//  Returns a new NUL-terminated string (caller frees) and sets *len_p, or
//  NULL if out of memory.
char *turn_ice_servers (turn_t *self, const char *id, uint64_t now_s,
                        size_t *len_p);

#endif
