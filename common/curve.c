//  curve - CURVE keys for megle's ZeroMQ bus clients (see curve.h).

#include "curve.h"

#include <stdio.h>
#include <string.h>
#include <czmq.h>

//  czmq writes a cert without secret key as forty '0's.
static int
s_all_zero (const char *key)
{
    for (; *key; key++)
        if (*key != '0')
            return 0;
    return 1;
}

int
curve_key_valid (const char *key)
{
    uint8_t bytes[32];
    return key && strlen (key) == CURVE_KEY_LEN
           && zmq_z85_decode (bytes, key) != NULL;
}

int
curve_client_load (const config_t *config, curve_client_t *keys, char *err,
                   size_t err_size)
{
    memset (keys, 0, sizeof *keys);
    if (!config->curve)
        return 1;
    const char *server = config->curve_server_key;
    if (!*server) {
        snprintf (err, err_size,
                  "MEGLE_CURVE=1 needs MEGLE_CURVE_SERVER_KEY (the matcher's "
                  "public key)");
        return -1;
    }
    if (curve_key_valid (server))
        memcpy (keys->server_public, server, CURVE_KEY_LEN + 1);
    else {
        //  Not a key: the path of the matcher's public cert file.
        zcert_t *cert = zcert_load (server);
        if (!cert) {
            snprintf (err, err_size,
                      "MEGLE_CURVE_SERVER_KEY: %.100s is neither a Z85 key "
                      "nor a readable cert file",
                      server);
            return -1;
        }
        snprintf (keys->server_public, sizeof keys->server_public, "%s",
                  zcert_public_txt (cert));
        zcert_destroy (&cert);
    }
    if (!*config->curve_cert) {
        snprintf (err, err_size,
                  "MEGLE_CURVE=1 needs MEGLE_CURVE_CERT (this process's "
                  "secret cert file)");
        return -1;
    }
    zcert_t *own = zcert_load (config->curve_cert);
    if (!own) {
        snprintf (err, err_size,
                  "MEGLE_CURVE_CERT: cannot read the cert file %.100s",
                  config->curve_cert);
        return -1;
    }
    int rc = 0;
    if (s_all_zero (zcert_secret_txt (own))) {
        snprintf (err, err_size,
                  "MEGLE_CURVE_CERT: %.100s holds no secret key (give the "
                  "_secret file)",
                  config->curve_cert);
        rc = -1;
    } else {
        snprintf (keys->public_key, sizeof keys->public_key, "%s",
                  zcert_public_txt (own));
        snprintf (keys->secret_key, sizeof keys->secret_key, "%s",
                  zcert_secret_txt (own));
    }
    zcert_destroy (&own);
    if (rc)
        curve_client_clear (keys);
    return rc;
}

int
curve_client_apply (const curve_client_t *keys, void *socket)
{
    if (zmq_setsockopt (socket, ZMQ_CURVE_SERVERKEY, keys->server_public,
                        CURVE_KEY_LEN)
        || zmq_setsockopt (socket, ZMQ_CURVE_PUBLICKEY, keys->public_key,
                           CURVE_KEY_LEN)
        || zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, keys->secret_key,
                           CURVE_KEY_LEN))
        return -1;
    return 0;
}

void
curve_client_clear (curve_client_t *keys)
{
    //  volatile: the compiler may not drop the wipe of a dying buffer
    volatile char *p = keys->secret_key;
    for (size_t i = 0; i < sizeof keys->secret_key; i++)
        p[i] = 0;
}
