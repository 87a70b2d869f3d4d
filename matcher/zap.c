//  zap - CURVE server keys and the ZAP handler (see zap.h).
//
//  A ZAP request (RFC 27) is: version "1.0", request id, domain, address,
//  routing id, mechanism, then the mechanism's credentials (for CURVE one
//  frame: the client's 32-byte public key). The reply is: version,
//  request id, status code ("200" admits, "400" refuses), status text,
//  user id and metadata. The REP socket adds and strips the envelope.

#include "zap.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "ratelog.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN   "megle"

struct _zap_t {
    zloop_t *loop;       //  borrowed
    zsock_t *handler;    //  REP on ZAP_ENDPOINT
    zcert_t *server;     //  the matcher's key pair
    zcertstore_t *store; //  allowed clients
    uint64_t allowed;
    uint64_t denied;
    ratelog_t limit; //  refusal warnings (a refused client retries)
};

//  Answer one request; reply must be a fresh message.
static void
s_reply (zap_t *self, zframe_t *request_id, const char *status,
         const char *text, const char *user)
{
    zmsg_t *reply = zmsg_new ();
    if (!reply)
        return;
    zmsg_addstr (reply, "1.0");
    if (request_id)
        zmsg_append (reply, &request_id);
    else
        zmsg_addstr (reply, "");
    zmsg_addstr (reply, status);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, user);
    zmsg_addmem (reply, NULL, 0); //  no metadata
    zmsg_send (&reply, self->handler);
}

static int
s_on_request (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    zap_t *self = (zap_t *) arg;
    zmsg_t *request = zmsg_recv (reader);
    if (!request)
        return 0;
    //  A REP socket must answer every request, even one it cannot read.
    zframe_t *version = zmsg_pop (request);
    zframe_t *request_id = zmsg_pop (request);
    zframe_t *domain = zmsg_pop (request);
    zframe_t *address = zmsg_pop (request);
    zframe_t *identity = zmsg_pop (request);
    zframe_t *mechanism = zmsg_pop (request);
    zframe_t *key = zmsg_pop (request);
    char peer[64] = "?";
    if (address) {
        size_t n = zframe_size (address) < sizeof peer - 1
                       ? zframe_size (address)
                       : sizeof peer - 1;
        memcpy (peer, zframe_data (address), n);
        peer[n] = '\0';
    }
    char z85[41] = "";
    if (!version || !zframe_streq (version, "1.0") || !mechanism
        || !zframe_streq (mechanism, "CURVE") || !key
        || zframe_size (key) != 32) {
        self->denied++;
        char text[160], count[24];
        snprintf (count, sizeof count, "%" PRIu64, self->denied);
        snprintf (text, sizeof text,
                  "zap: refused a malformed or non-CURVE handshake from %s (%s "
                  "refused so far)",
                  peer, count);
        ratelog_event (&self->limit, "zap_refused", text, "reason", "not_curve",
                       "peer", peer, "refused", count, NULL);
        s_reply (self, request_id, "400", "CURVE only", "");
        request_id = NULL;
    } else {
        zmq_z85_encode (z85, zframe_data (key), 32);
        zcert_t *cert = zcertstore_lookup (self->store, z85);
        if (cert) {
            self->allowed++;
            const char *name = zcert_meta (cert, "name");
            log_info ("zap: admitted client %s (%.8s...) from %s",
                      name && *name ? name : "?", z85, peer);
            s_reply (self, request_id, "200", "OK", name ? name : "");
        } else {
            self->denied++;
            char text[192], count[24], short_key[12];
            snprintf (count, sizeof count, "%" PRIu64, self->denied);
            snprintf (short_key, sizeof short_key, "%.8s...", z85);
            snprintf (text, sizeof text,
                      "zap: refused CURVE client %s from %s: key not in "
                      "MEGLE_CURVE_CLIENTS (%s refused so far)",
                      short_key, peer, count);
            ratelog_event (&self->limit, "zap_refused", text, "reason",
                           "unknown_key", "key", short_key, "peer", peer,
                           "refused", count, NULL);
            s_reply (self, request_id, "400", "unknown client key", "");
        }
        request_id = NULL;
    }
    zframe_destroy (&version);
    zframe_destroy (&request_id);
    zframe_destroy (&domain);
    zframe_destroy (&address);
    zframe_destroy (&identity);
    zframe_destroy (&mechanism);
    zframe_destroy (&key);
    zmsg_destroy (&request);
    return 0;
}

//  How many files the clients directory holds (for the start-up line).
static size_t
s_count (const char *path)
{
    zdir_t *dir = zdir_new (path, NULL);
    size_t n = dir ? (size_t) zdir_count (dir) : 0;
    zdir_destroy (&dir);
    return n;
}

zap_t *
zap_new (const config_t *config, zloop_t *loop)
{
    assert (config);
    assert (loop);
    if (!*config->curve_server_cert || !*config->curve_clients) {
        log_error ("MEGLE_CURVE=1 needs MEGLE_CURVE_SERVER_CERT (the "
                   "matcher's secret cert) and MEGLE_CURVE_CLIENTS (the "
                   "directory of allowed client certs)");
        return NULL;
    }
    struct stat st;
    if (stat (config->curve_clients, &st) != 0 || !S_ISDIR (st.st_mode)) {
        log_error ("MEGLE_CURVE_CLIENTS: %s is not a directory",
                   config->curve_clients);
        return NULL;
    }
    zap_t *self = (zap_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->server = zcert_load (config->curve_server_cert);
    if (!self->server
        || !strcmp (zcert_secret_txt (self->server),
                    "0000000000000000000000000000000000000000")) {
        log_error ("MEGLE_CURVE_SERVER_CERT: %s is not a readable secret cert "
                   "file",
                   config->curve_server_cert);
        zap_destroy (&self);
        return NULL;
    }
    self->store = zcertstore_new (config->curve_clients);
    self->handler = zsock_new (ZMQ_REP);
    if (!self->store || !self->handler) {
        log_error ("zap: out of memory");
        zap_destroy (&self);
        return NULL;
    }
    if (zsock_bind (self->handler, ZAP_ENDPOINT) == -1
        || zloop_reader (loop, self->handler, s_on_request, self) != 0) {
        log_error ("zap: cannot serve %s: %s", ZAP_ENDPOINT,
                   zmq_strerror (zmq_errno ()));
        zap_destroy (&self);
        return NULL;
    }
    size_t count = s_count (config->curve_clients);
    if (count == 0)
        log_warn ("zap: no client certs in %s: every client is refused",
                  config->curve_clients);
    log_info ("CURVE on: server key %s, %zu client cert files in %s",
              zcert_public_txt (self->server), count, config->curve_clients);
    return self;
}

void
zap_destroy (zap_t **self_p)
{
    assert (self_p);
    zap_t *self = *self_p;
    if (!self)
        return;
    if (self->handler) {
        zloop_reader_end (self->loop, self->handler);
        zsock_destroy (&self->handler);
    }
    zcertstore_destroy (&self->store);
    zcert_destroy (&self->server);
    free (self);
    *self_p = NULL;
}

int
zap_apply (zap_t *self, zsock_t *socket)
{
    if (!self)
        return 0;
    zcert_apply (self->server, socket);
    zsock_set_zap_domain (socket, ZAP_DOMAIN);
    zsock_set_curve_server (socket, 1);
    return zsock_curve_server (socket) == 1 ? 0 : -1;
}

uint64_t
zap_allowed (const zap_t *self)
{
    return self ? self->allowed : 0;
}

uint64_t
zap_denied (const zap_t *self)
{
    return self ? self->denied : 0;
}
