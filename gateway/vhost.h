//  vhost - the description of the gateway's one lws vhost: its protocols,
//  its mounts and the MIME types lws does not know.
//
//  Four protocols. "megle" (WebSocket, ws.c) is first, so it is the
//  vhost's default protocol: lws binds a WebSocket upgrade that carries no
//  Sec-WebSocket-Protocol header (browsers' `new WebSocket(url)`,
//  Go-megle) to the default protocol whatever the path, so ws.c refuses
//  upgrades on any path but /ws in LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION.
//  "megle-http" answers the /healthz, /readyz and /metrics callback mounts
//  (http.c); the "/" mount serves web_root. "megle-bus" is the raw
//  protocol of the adopted ZeroMQ descriptor (bus.c), "megle-listen" that
//  of the gateway's own listening socket (listener.c). The latter ones
//  refuse WebSocket upgrades too, as a client may name them in
//  Sec-WebSocket-Protocol.

#ifndef MEGLE_VHOST_H
#define MEGLE_VHOST_H

#include <stddef.h>

#include <libwebsockets.h>

#define VHOST_PROTOCOL_WS     "megle"
#define VHOST_PROTOCOL_HTTP   "megle-http"
#define VHOST_PROTOCOL_BUS    "megle-bus"
#define VHOST_PROTOCOL_LISTEN "megle-listen"
#define VHOST_RX_BUFFER       164   //  per-connection lws rx buffer
#define VHOST_TX_PACKET       65536 //  largest single send () per message

//  lws keeps pointers into it for the life of the vhost: its owner (the
//  gateway, which embeds it) must outlive the vhost.
typedef struct {
    struct lws_protocols protocols[5]; //  the last one all zero
    struct lws_http_mount mounts[4];
    struct lws_protocol_vhost_options mimetypes[3];
} vhost_t;

//  Fill self for a vhost that serves the files under web_root (borrowed:
//  it must outlive the vhost too).
void vhost_describe (vhost_t *self, const char *web_root);

//  The address to listen on for host: NULL for any address ("" or
//  "0.0.0.0"); a numeric address as is; a host name resolved to its first
//  numeric address (written to buf, size bytes); anything else as given
//  (the listener then refuses it).
const char *vhost_iface (const char *host, char *buf, size_t size);

#endif
