//  turn - ICE servers and coturn REST-API credentials (see turn.h).

#include "turn.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SECRET_MAX 1024 //  longest shared secret accepted

struct _turn_t {
    char *stun[TURN_URLS_MAX];
    size_t stun_count;
    char *turn[TURN_URLS_MAX];
    size_t turn_count;
    char *secret; //  NULL = no TURN credentials
    int ttl_s;
};

static int
s_blank (char c)
{
    return c == ' ' || c == '\t';
}

//  Split list into at most TURN_URLS_MAX trimmed items; each must start
//  with one of the two schemes and hold only visible ASCII. If urls is
//  not NULL, copies go there (the caller frees them). Returns the count,
//  or -1 with a reason in why.
static int
s_split (const char *list, const char *scheme_a, const char *scheme_b,
         char **urls, char *why, size_t why_size)
{
    size_t count = 0;
    const char *p = list;
    while (*p && s_blank (*p))
        p++;
    if (*p == '\0')
        return 0; //  an empty (or blank) list
    for (;;) {
        const char *start = p;
        const char *comma = strchr (p, ',');
        const char *end = comma ? comma : p + strlen (p);
        while (start < end && s_blank (*start))
            start++;
        const char *stop = end;
        while (stop > start && s_blank (stop[-1]))
            stop--;
        size_t len = (size_t) (stop - start);
        if (len == 0) {
            snprintf (why, why_size, "empty item in the URL list");
            return -1;
        }
        for (const char *c = start; c < stop; c++)
            if ((unsigned char) *c <= 0x20 || (unsigned char) *c >= 0x7f
                || *c == '"' || *c == '\\') {
                snprintf (why, why_size, "%.*s: not a URL", (int) len, start);
                return -1;
            }
        size_t la = strlen (scheme_a), lb = strlen (scheme_b);
        if (!((len > la && strncmp (start, scheme_a, la) == 0)
              || (len > lb && strncmp (start, scheme_b, lb) == 0))) {
            snprintf (why, why_size, "%.*s: does not start with %s or %s",
                      (int) len, start, scheme_a, scheme_b);
            return -1;
        }
        if (count == TURN_URLS_MAX) {
            snprintf (why, why_size, "more than %d URLs", TURN_URLS_MAX);
            return -1;
        }
        if (urls) {
            urls[count] = malloc (len + 1);
            if (!urls[count]) {
                snprintf (why, why_size, "out of memory");
                return -1;
            }
            memcpy (urls[count], start, len);
            urls[count][len] = '\0';
        }
        count++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return (int) count;
}

int
turn_urls_check (const char *list, bool turn, char *why, size_t why_size)
{
    assert (list);
    return s_split (list,
                    turn ? "turn:" : "stun:", turn ? "turns:" : "stuns:", NULL,
                    why, why_size)
                   < 0
               ? -1
               : 0;
}

turn_t *
turn_new (const char *stun_urls, const char *turn_urls, const char *secret,
          int ttl_s)
{
    assert (stun_urls);
    assert (turn_urls);
    assert (secret);
    turn_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    char why[128];
    int stun =
        s_split (stun_urls, "stun:", "stuns:", self->stun, why, sizeof why);
    if (stun >= 0)
        self->stun_count = (size_t) stun;
    int turn = stun < 0 ? -1
                        : s_split (turn_urls, "turn:", "turns:", self->turn,
                                   why, sizeof why);
    if (turn >= 0)
        self->turn_count = (size_t) turn;
    self->ttl_s = ttl_s;
    if (secret[0] && strlen (secret) <= SECRET_MAX)
        self->secret = strdup (secret);
    if (stun < 0 || turn < 0 || (secret[0] && !self->secret)) {
        //  s_split may have copied some items before it failed: free the
        //  whole table (unused slots are NULL).
        for (size_t i = 0; i < TURN_URLS_MAX; i++) {
            free (self->stun[i]);
            free (self->turn[i]);
            self->stun[i] = self->turn[i] = NULL;
        }
        self->stun_count = self->turn_count = 0;
        turn_destroy (&self);
        return NULL;
    }
    return self;
}

void
turn_destroy (turn_t **self_p)
{
    assert (self_p);
    turn_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->stun_count; i++)
        free (self->stun[i]);
    for (size_t i = 0; i < self->turn_count; i++)
        free (self->turn[i]);
    if (self->secret) {
        //  Do not leave the secret behind in freed memory.
        OPENSSL_cleanse (self->secret, strlen (self->secret));
        free (self->secret);
    }
    free (self);
    *self_p = NULL;
}

bool
turn_enabled (turn_t *self)
{
    assert (self);
    return self->secret && self->turn_count > 0;
}

int
turn_credential (const char *secret, uint64_t expiry, const char *id,
                 char *username, size_t username_size, char *credential,
                 size_t credential_size)
{
    assert (secret);
    assert (id);
    int n = snprintf (username, username_size, "%" PRIu64 ":%s", expiry, id);
    if (n < 0 || (size_t) n >= username_size
        || credential_size < TURN_CREDENTIAL_LEN + 1)
        return -1;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC (EVP_sha1 (), secret, (int) strlen (secret),
               (const unsigned char *) username, (size_t) n, mac, &mac_len)
        || mac_len != 20)
        return -1;
    //  EVP_EncodeBlock writes 4 * ceil (20 / 3) = 28 characters and a NUL.
    EVP_EncodeBlock ((unsigned char *) credential, mac, (int) mac_len);
    return 0;
}

//  {"urls": [...]} with the given URLs; NULL if out of memory.
static cJSON *
s_server (char *const *urls, size_t count)
{
    cJSON *server = cJSON_CreateObject ();
    cJSON *list = cJSON_AddArrayToObject (server, "urls");
    if (!list) {
        cJSON_Delete (server);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        cJSON *url = cJSON_CreateString (urls[i]);
        if (!url || !cJSON_AddItemToArray (list, url)) {
            cJSON_Delete (url);
            cJSON_Delete (server);
            return NULL;
        }
    }
    return server;
}

char *
turn_ice_servers (turn_t *self, const char *id, uint64_t now_s, size_t *len_p)
{
    assert (self);
    assert (id);
    cJSON *servers = cJSON_CreateArray ();
    if (!servers)
        return NULL;
    bool ok = true;
    if (self->stun_count) {
        cJSON *stun = s_server (self->stun, self->stun_count);
        ok = stun && cJSON_AddItemToArray (servers, stun);
        if (!ok)
            cJSON_Delete (stun);
    }
    if (ok && turn_enabled (self)) {
        char username[96];
        char credential[TURN_CREDENTIAL_LEN + 1];
        cJSON *turn = s_server (self->turn, self->turn_count);
        ok = turn
             && turn_credential (self->secret, now_s + (uint64_t) self->ttl_s,
                                 id, username, sizeof username, credential,
                                 sizeof credential)
                    == 0
             && cJSON_AddStringToObject (turn, "username", username)
             && cJSON_AddStringToObject (turn, "credential", credential)
             && cJSON_AddItemToArray (servers, turn);
        if (!ok)
            cJSON_Delete (turn);
        OPENSSL_cleanse (credential, sizeof credential);
    }
    char *text = ok ? cJSON_PrintUnformatted (servers) : NULL;
    cJSON_Delete (servers);
    if (text && len_p)
        *len_p = strlen (text);
    return text;
}
