//  vhost - the description of the gateway's one lws vhost (vhost.h).

#include "vhost.h"

#include <assert.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "bus.h"
#include "gateway.h"
#include "listener.h"

void
vhost_describe (vhost_t *self, const char *web_root)
{
    assert (self);
    assert (web_root);
    struct lws_protocols *p = self->protocols;
    memset (p, 0, sizeof self->protocols);
    //  First = the vhost's default: WebSockets without a subprotocol.
    p[0].name = VHOST_PROTOCOL_WS;
    p[0].callback = ws_callback;
    p[0].per_session_data_size = ws_session_size ();
    //  lws allocates rx_buffer_size + LWS_PRE + 4 bytes per connection
    //  and reads the socket rx_buffer_size + LWS_PRE bytes at a time: 164
    //  makes that a 192-byte malloc chunk (glibc's 8-byte header
    //  included). At 10 k idle connections: 512 gave ~2,300 B per
    //  connection, 228 (a 256-byte chunk) ~2,080, 164 ~1,900; flat-out
    //  relay over 3 gateways was the same within noise, at ~7 % more
    //  gateway CPU per signal than 512 (tools/bench/analysis.md).
    p[0].rx_buffer_size = VHOST_RX_BUFFER;
    //  Unset, lws would also cut every send () to rx_buffer_size bytes and
    //  buffer the rest (a 3 KB SDP: 13 sends, 13 writable callbacks).
    p[0].tx_packet_size = VHOST_TX_PACKET;
    p[1].name = VHOST_PROTOCOL_HTTP;
    p[1].callback = http_callback;
    p[1].per_session_data_size = http_session_size ();
    p[2].name = VHOST_PROTOCOL_BUS;
    p[2].callback = bus_callback;
    p[3].name = VHOST_PROTOCOL_LISTEN; //  our own listening socket
    p[3].callback = listener_callback;
    //  p[4] stays zero: the terminator

    //  lws knows .js but not .mjs; browsers refuse ES modules served
    //  without a JavaScript MIME type.
    struct lws_protocol_vhost_options *mime = self->mimetypes;
    memset (mime, 0, sizeof self->mimetypes);
    mime[0].name = ".mjs";
    mime[0].value = "text/javascript";
    mime[0].next = &mime[1];
    mime[1].name = ".webmanifest";
    mime[1].value = "application/manifest+json";
    mime[1].next = &mime[2];
    mime[2].name = ".wasm";
    mime[2].value = "application/wasm";

    struct lws_http_mount *m = self->mounts;
    memset (m, 0, sizeof self->mounts);
    static const char *endpoints[3] = {"/healthz", "/readyz", "/metrics"};
    for (int i = 0; i < 3; i++) {
        m[i].mount_next = &m[i + 1];
        m[i].mountpoint = endpoints[i];
        m[i].mountpoint_len = (unsigned char) strlen (endpoints[i]);
        m[i].origin = VHOST_PROTOCOL_HTTP;
        m[i].protocol = VHOST_PROTOCOL_HTTP;
        m[i].origin_protocol = LWSMPRO_CALLBACK;
    }
    m[3].mountpoint = "/";
    m[3].mountpoint_len = 1;
    m[3].origin = web_root;
    m[3].def = "index.html";
    m[3].origin_protocol = LWSMPRO_FILE;
    m[3].extra_mimetypes = mime;
}

const char *
vhost_iface (const char *host, char *buf, size_t size)
{
    assert (host);
    if (host[0] == '\0' || strcmp (host, "0.0.0.0") == 0)
        return NULL;
    struct addrinfo hints, *result = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo (host, NULL, &hints, &result) != 0 || !result)
        return host;
    int rc = getnameinfo (result->ai_addr, result->ai_addrlen, buf,
                          (socklen_t) size, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo (result);
    return rc == 0 ? buf : host;
}
