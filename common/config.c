//  config - the one table of knobs, and the loader that fills config_t from
//  defaults, then MEGLE_* environment variables, then command-line flags.
//
//  Every value is collected first (the last source wins) and checked once,
//  so a bad value is reported under the name it came from: the environment
//  variable or the flag. Knobs of other binaries are ignored in the
//  environment (one compose environment serves them all) and refused as
//  flags.

#include "config.h"
#include "id.h"
#include "turn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL          (CONFIG_GATEWAY | CONFIG_MATCHER | CONFIG_TAP)
#define GW           CONFIG_GATEWAY
#define MT           CONFIG_MATCHER
#define TP           CONFIG_TAP
#define NAME_MAX_LEN 40 //  longest "MEGLE_..." or "--..." name, with NUL

typedef enum { KNOB_STR, KNOB_INT, KNOB_LEVEL } knob_type_t;

//  Checks a string value once it is stored; may fill derived fields.
//  Writes the reason (without the knob's name) to why and returns -1.
typedef int (check_fn) (config_t *config, const char *value, char *why,
                        size_t why_size);

typedef struct {
    const char *name;       //  NAME: env MEGLE_NAME, flag --name
    knob_type_t type;       //  how the value is parsed
    size_t offset;          //  field in config_t
    const char *fallback;   //  default, as text
    long min, max;          //  KNOB_INT range
    unsigned who;           //  binaries that accept it
    const char *gen_prefix; //  if not NULL, "" is replaced by
    size_t gen_hex;         //  gen_prefix + gen_hex random hex digits
    check_fn *check;        //  extra check of a string value, or NULL
    const char *help;       //  one line for --help
} knob_t;

static check_fn s_check_redis, s_check_http, s_check_id, s_check_nonempty;
static check_fn s_check_stun, s_check_turn, s_check_matcher_http;
static check_fn s_check_proxies, s_check_event_loop;

#define F(field) offsetof (config_t, field)

static const knob_t s_knobs[] = {
    {"LOG_LEVEL", KNOB_LEVEL, F (log_level), "info", 0, 0, ALL, NULL, 0, NULL,
     "minimum level logged: debug, info, warn or error"},
    {"REDIS_URL", KNOB_STR, F (redis_url), "redis://127.0.0.1:6379", 0, 0, MT,
     NULL, 0, s_check_redis, "redis://host[:port] or unix:///path/to.sock"},
    {"REDIS_TIMEOUT_MS", KNOB_INT, F (redis_timeout_ms), "2000", 100, 60000, MT,
     NULL, 0, NULL, "a Redis call unanswered this long: reconnect, ms"},
    {"TAP", KNOB_STR, F (tap), "tcp://127.0.0.1:5557", 0, 0, MT | TP, NULL, 0,
     NULL, "ZeroMQ endpoint of the tap socket (matcher: \"\" = none)"},
    {"MATCH_TTL", KNOB_INT, F (match_ttl), "600", 10, 86400, MT, NULL, 0, NULL,
     "lifetime of a match in Redis, seconds"},
    {"SESSION_TTL", KNOB_INT, F (session_ttl), "86400", 60, 604800, MT, NULL, 0,
     NULL, "lifetime of an idle session in Redis, seconds"},
    {"GATEWAY_TIMEOUT_MS", KNOB_INT, F (gateway_timeout_ms), "5000", 500,
     600000, MT, NULL, 0, NULL,
     "a gateway silent this long is declared dead, ms"},
    {"MATCHER_ID", KNOB_STR, F (matcher_id), "", 0, 0, MT, "m-", 8, s_check_id,
     "name of this matcher in logs: 1..64 of [A-Za-z0-9._-]"},
    {"INTEREST_WAIT_MS", KNOB_INT, F (interest_wait_ms), "10000", 0, 600000, MT,
     NULL, 0, NULL, "wait for a shared interest, then any stranger, ms"},
    {"REMATCH_BLOCK_MS", KNOB_INT, F (rematch_block_ms), "60000", 0, 3600000,
     MT, NULL, 0, NULL,
     "no re-match of two who just parted (if others wait), ms"},
    {"BATCH_MAX", KNOB_INT, F (batch_max), "64", 1, 1024, MT, NULL, 0, NULL,
     "frames per Redis script call (batch.lua); 1 = one each"},
    {"ROUTE_CACHE", KNOB_INT, F (route_cache), "200000", 0, 10000000, MT, NULL,
     0, NULL, "sessions whose partner is cached for relays; 0 = off"},
    {"BUS_IN", KNOB_STR, F (bus_in), "tcp://127.0.0.1:5555", 0, 0, GW | MT,
     NULL, 0, s_check_nonempty,
     "matcher binds it; gateway PUSHes: comma list, 1/matcher"},
    {"BUS_OUT", KNOB_STR, F (bus_out), "tcp://127.0.0.1:5556", 0, 0, ALL, NULL,
     0, s_check_nonempty,
     "matcher PUBlishes; gateway SUBs: list in BUS_IN's order"},
    {"BUS_HWM", KNOB_INT, F (bus_hwm), "100000", 1000, 10000000, GW | MT, NULL,
     0, NULL, "ZeroMQ high-water mark of the bus sockets, messages"},
    {"HEARTBEAT_MS", KNOB_INT, F (heartbeat_ms), "1000", 50, 60000, GW | MT,
     NULL, 0, NULL, "interval of gateway heartbeats and matcher checks, ms"},
    {"CURVE", KNOB_INT, F (curve), "0", 0, 1, ALL, NULL, 0, NULL,
     "1 = CURVE-encrypt and authenticate the bus and tap"},
    {"CURVE_SERVER_CERT", KNOB_STR, F (curve_server_cert), "", 0, 0, MT, NULL,
     0, NULL, "matcher's secret CURVE cert file (megle-keygen)"},
    {"CURVE_CLIENTS", KNOB_STR, F (curve_clients), "", 0, 0, MT, NULL, 0, NULL,
     "directory of allowed clients' public CURVE certs"},
    {"CURVE_SERVER_KEY", KNOB_STR, F (curve_server_key), "", 0, 0, GW | TP,
     NULL, 0, NULL, "matcher's public CURVE key (Z85) or its cert file"},
    {"CURVE_CERT", KNOB_STR, F (curve_cert), "", 0, 0, GW | TP, NULL, 0, NULL,
     "own secret CURVE cert file (megle-keygen)"},
    {"HTTP", KNOB_STR, F (http), "127.0.0.1:8080", 0, 0, GW, NULL, 0,
     s_check_http, "HTTP/WebSocket listen address: host:port or [v6]:port"},
    {"GATEWAY_ID", KNOB_STR, F (gateway_id), "", 0, 0, GW, "gw-", 8, s_check_id,
     "bus topic of this gateway: 1..64 of [A-Za-z0-9._-]"},
    {"WEB_ROOT", KNOB_STR, F (web_root), "web", 0, 0, GW, NULL, 0,
     s_check_nonempty, "directory of the static browser client"},
    {"MAX_MESSAGE", KNOB_INT, F (max_message), "65536", 1024, 16777216, GW,
     NULL, 0, NULL, "largest WebSocket message accepted, bytes"},
    {"MATCHER_TIMEOUT_MS", KNOB_INT, F (matcher_timeout_ms), "5000", 500,
     600000, GW, NULL, 0, NULL,
     "no matcher heartbeat this long: gateway not ready, ms"},
    {"EVENT_LOOP", KNOB_STR, F (event_loop), "epoll", 0, 0, GW, NULL, 0,
     s_check_event_loop, "epoll (libev, the default) or poll (lws' own)"},
    {"REUSEPORT", KNOB_INT, F (reuseport), "0", 0, 1, GW, NULL, 0, NULL,
     "1 = listen with SO_REUSEPORT: gateways share one port"},
    {"DRAIN_DELAY_MS", KNOB_INT, F (drain_delay_ms), "1000", 0, 600000, GW,
     NULL, 0, NULL, "SIGTERM: not ready this long before closing, ms"},
    {"DRAIN_JITTER_MS", KNOB_INT, F (drain_jitter_ms), "500", 0, 60000, GW,
     NULL, 0, NULL, "SIGTERM: closes spread over this window, ms"},
    {"DRAIN_MS", KNOB_INT, F (drain_ms), "3000", 0, 600000, GW, NULL, 0, NULL,
     "SIGTERM: longest wait for clients to close, ms"},
    {"CHAT_MAX", KNOB_INT, F (chat_max), "2000", 1, 65536, GW, NULL, 0, NULL,
     "longest chat message, bytes (longer: too_long)"},
    {"IP_SALT", KNOB_STR, F (ip_salt), "", 0, 0, GW, "", 32, NULL,
     "secret salt of IP hashes (same on every gateway)"},
    {"STUN_URLS", KNOB_STR, F (stun_urls), "", 0, 0, GW, NULL, 0, s_check_stun,
     "STUN URLs for browsers, comma-separated"},
    {"TURN_URLS", KNOB_STR, F (turn_urls), "", 0, 0, GW, NULL, 0, s_check_turn,
     "TURN URLs for browsers, comma-separated"},
    {"TURN_SECRET", KNOB_STR, F (turn_secret), "", 0, 0, GW, NULL, 0, NULL,
     "coturn static-auth-secret (\"\" = no TURN)"},
    {"TURN_TTL", KNOB_INT, F (turn_ttl), "86400", 60, 604800, GW, NULL, 0, NULL,
     "lifetime of the TURN credentials given, seconds"},
    {"MATCHER_HTTP", KNOB_STR, F (matcher_http), "127.0.0.1:9091", 0, 0, MT,
     NULL, 0, s_check_matcher_http,
     "/healthz /readyz /metrics on host:port (\"\" = off)"},
    //  Abuse limits (docs/security.md). Rates are per connection and
    //  second; 0 switches a bucket off.
    {"RATE_MSGS", KNOB_INT, F (rate_msgs), "100", 0, 1000000, GW, NULL, 0, NULL,
     "client messages a second, per connection (0 = off)"},
    {"RATE_MSGS_BURST", KNOB_INT, F (rate_msgs_burst), "500", 1, 1000000, GW,
     NULL, 0, NULL, "client messages allowed at once above that rate"},
    {"RATE_BYTES", KNOB_INT, F (rate_bytes), "262144", 0, 1000000000, GW, NULL,
     0, NULL, "client bytes a second, per connection (0 = off)"},
    {"RATE_BYTES_BURST", KNOB_INT, F (rate_bytes_burst), "1048576", 1,
     1000000000, GW, NULL, 0, NULL,
     "client bytes allowed at once above that rate"},
    {"RATE_FINDS", KNOB_INT, F (rate_finds), "2", 0, 1000, GW, NULL, 0, NULL,
     "find_match a second, per connection (0 = off)"},
    {"RATE_FINDS_BURST", KNOB_INT, F (rate_finds_burst), "10", 1, 1000, GW,
     NULL, 0, NULL, "find_match allowed at once above that rate"},
    {"MAX_CONNS", KNOB_INT, F (max_conns), "10000", 0, 10000000, GW, NULL, 0,
     NULL, "WebSocket connections per gateway (0 = no limit)"},
    {"MAX_CONNS_PER_IP", KNOB_INT, F (max_conns_per_ip), "0", 0, 10000000, GW,
     NULL, 0, NULL, "WebSocket connections per client IP (0 = no limit)"},
    {"TRUSTED_PROXIES", KNOB_STR, F (trusted_proxies), "", 0, 0, GW, NULL, 0,
     s_check_proxies, "IPs/CIDRs whose X-Forwarded-For is believed"},
    {"ALLOWED_ORIGINS", KNOB_STR, F (allowed_origins), "", 0, 0, GW, NULL, 0,
     NULL, "Origins allowed to open /ws (\"\" = same host only)"},
    {"HANDSHAKE_TIMEOUT_MS", KNOB_INT, F (handshake_timeout_ms), "10000", 100,
     600000, GW, NULL, 0, NULL,
     "time a new TCP connection has to send its request, ms"},
    {"PING_INTERVAL_S", KNOB_INT, F (ping_interval_s), "25", 1, 3600, GW, NULL,
     0, NULL, "a WebSocket quiet this long is pinged, seconds"},
    {"IDLE_TIMEOUT_S", KNOB_INT, F (idle_timeout_s), "60", 2, 7200, GW, NULL, 0,
     NULL, "no pong this long after the last one: closed, seconds"},
    {"REPORT_WINDOW_S", KNOB_INT, F (report_window_s), "3600", 10, 2592000, MT,
     NULL, 0, NULL, "reports against an IP count this long, seconds"},
    {"REPORT_THRESHOLD", KNOB_INT, F (report_threshold), "3", 1, 1000, MT, NULL,
     0, NULL, "distinct reporters within the window that ban"},
    {"BAN_S", KNOB_INT, F (ban_s), "86400", 1, 2592000, MT, NULL, 0, NULL,
     "how long a ban lasts, seconds"},
};

#define KNOB_COUNT (sizeof s_knobs / sizeof s_knobs[0])

typedef enum { SRC_DEFAULT, SRC_ENV, SRC_FLAG } source_t;

static void
s_env_name (const knob_t *knob, char *buf, size_t size)
{
    snprintf (buf, size, "MEGLE_%s", knob->name);
}

static void
s_flag_name (const knob_t *knob, char *buf, size_t size)
{
    size_t n = snprintf (buf, size, "--%s", knob->name) < 0 ? 0 : 2;
    for (; n < size && buf[n]; n++) {
        if (buf[n] == '_')
            buf[n] = '-';
        else if (buf[n] >= 'A' && buf[n] <= 'Z')
            buf[n] = (char) (buf[n] - 'A' + 'a');
    }
}

static void
s_source_name (const knob_t *knob, source_t source, char *buf, size_t size)
{
    if (source == SRC_FLAG)
        s_flag_name (knob, buf, size);
    else if (source == SRC_ENV)
        s_env_name (knob, buf, size);
    else
        snprintf (buf, size, "default of MEGLE_%s", knob->name);
}

static const char *
s_binary_name (unsigned who)
{
    if (who & CONFIG_GATEWAY)
        return "megle-gateway";
    if (who & CONFIG_MATCHER)
        return "megle-matcher";
    return "megle-tap";
}

int
config_log_level (const char *name)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; name && i < 4; i++)
        if (strcmp (name, names[i]) == 0)
            return i;
    return -1;
}

//  Strict decimal integer: the whole string, no blanks, within [min, max].
static int
s_parse_int (const char *s, long min, long max, long *out)
{
    if (*s == '\0' || !(*s == '-' || *s == '+' || (*s >= '0' && *s <= '9')))
        return -1;
    char *end;
    errno = 0;
    long value = strtol (s, &end, 10);
    if (errno || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

static int
s_host_char (char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '_';
}

//  Split "host:port" or "[v6]:port" (the port optional if default_port >=
//  0) into host (without brackets) and port in [min_port, 65535].
static int
s_parse_hostport (const char *s, long default_port, long min_port, char *host,
                  int *port)
{
    const char *host_start = s, *host_end, *rest;
    if (*s == '[') {
        host_start = s + 1;
        host_end = strchr (host_start, ']');
        if (!host_end || host_end == host_start)
            return -1;
        for (const char *p = host_start; p < host_end; p++)
            if (!(*p == ':' || *p == '.' || (*p >= '0' && *p <= '9')
                  || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
                return -1;
        rest = host_end + 1;
    } else {
        host_end = s;
        while (s_host_char (*host_end))
            host_end++;
        if (host_end == host_start)
            return -1;
        rest = host_end;
    }
    long value = default_port;
    if (*rest == ':') {
        if (s_parse_int (rest + 1, min_port, 65535, &value) || rest[1] == '+'
            || rest[1] == '-')
            return -1;
    } else if (*rest != '\0' || default_port < 0)
        return -1;
    size_t len = (size_t) (host_end - host_start);
    if (len >= CONFIG_STR_MAX)
        return -1;
    memcpy (host, host_start, len);
    host[len] = '\0';
    *port = (int) value;
    return 0;
}

static int
s_check_redis (config_t *config, const char *value, char *why, size_t why_size)
{
    if (strncmp (value, "unix://", 7) == 0 && value[7] == '/'
        && value[8] != '\0') {
        snprintf (config->redis_unix, CONFIG_STR_MAX, "%s", value + 7);
        config->redis_host[0] = '\0';
        config->redis_port = 0;
        return 0;
    }
    if (strncmp (value, "redis://", 8) == 0) {
        //  A trailing "/" is harmless; a database number or credentials
        //  are not supported and refused rather than ignored.
        char hostport[CONFIG_STR_MAX];
        snprintf (hostport, sizeof hostport, "%s", value + 8);
        size_t len = strlen (hostport);
        if (len > 0 && hostport[len - 1] == '/')
            hostport[len - 1] = '\0';
        if (s_parse_hostport (hostport, 6379, 1, config->redis_host,
                              &config->redis_port)
            == 0) {
            config->redis_unix[0] = '\0';
            return 0;
        }
    }
    snprintf (why, why_size,
              "%s is not redis://host[:port] or unix:///path/to.sock", value);
    return -1;
}

static int
s_check_http (config_t *config, const char *value, char *why, size_t why_size)
{
    if (s_parse_hostport (value, -1, 0, config->http_host, &config->http_port)
        == 0)
        return 0;
    snprintf (why, why_size, "%s is not host:port (port 0..65535)", value);
    return -1;
}

static int
s_check_matcher_http (config_t *config, const char *value, char *why,
                      size_t why_size)
{
    config->matcher_http_host[0] = '\0';
    config->matcher_http_port = 0;
    if (*value == '\0'
        || s_parse_hostport (value, -1, 0, config->matcher_http_host,
                             &config->matcher_http_port)
               == 0)
        return 0;
    snprintf (why, why_size, "%s is not host:port (port 0..65535) or \"\"",
              value);
    return -1;
}

static int
s_check_stun (config_t *config, const char *value, char *why, size_t why_size)
{
    (void) config;
    return turn_urls_check (value, false, why, why_size);
}

static int
s_check_turn (config_t *config, const char *value, char *why, size_t why_size)
{
    (void) config;
    return turn_urls_check (value, true, why, why_size);
}

static int
s_check_id (config_t *config, const char *value, char *why, size_t why_size)
{
    (void) config;
    if (*value == '\0' || id_gateway_valid (value, strlen (value)))
        return 0; //  "" is replaced by a generated id
    snprintf (why, why_size, "%s is not 1..%d characters of [A-Za-z0-9._-]",
              value, ID_GATEWAY_MAX);
    return -1;
}

static int
s_check_nonempty (config_t *config, const char *value, char *why,
                  size_t why_size)
{
    (void) config;
    if (*value)
        return 0;
    snprintf (why, why_size, "must not be empty");
    return -1;
}

static int
s_check_event_loop (config_t *config, const char *value, char *why,
                    size_t why_size)
{
    (void) config;
    if (strcmp (value, "epoll") == 0 || strcmp (value, "poll") == 0)
        return 0;
    snprintf (why, why_size, "must be epoll or poll");
    return -1;
}

//  A comma list of IPv4/IPv6 addresses, each optionally /prefix; blanks
//  around items are allowed. (The gateway's admission module parses it
//  again for use; this only refuses a bad value at startup.)
static int
s_check_proxies (config_t *config, const char *value, char *why,
                 size_t why_size)
{
    (void) config;
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        char item[64];
        size_t len = (size_t) (last - p);
        int ok = len > 0 && len < sizeof item;
        if (ok) {
            memcpy (item, p, len);
            item[len] = '\0';
            char *slash = strchr (item, '/');
            long bits = -1;
            if (slash) {
                *slash = '\0';
                ok = s_parse_int (slash + 1, 0, 128, &bits) == 0
                     && slash[1] >= '0' && slash[1] <= '9';
            }
            unsigned char addr[16];
            if (ok && inet_pton (AF_INET, item, addr) == 1)
                ok = bits <= 32;
            else if (ok)
                ok = inet_pton (AF_INET6, item, addr) == 1;
        }
        if (!ok) {
            snprintf (why, why_size,
                      "%.*s is not an IP address or CIDR (a.b.c.d/n, x::y/n)",
                      (int) (len < 64 ? len : 64), p);
            return -1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

//  Parse value into the knob's field. On error, writes "<source>: <why>".
static int
s_apply (config_t *config, const knob_t *knob, const char *value,
         source_t source, char *err, size_t err_size)
{
    char why[CONFIG_STR_MAX + 96] = "";
    char *field = (char *) config + knob->offset;
    long number;
    int level;
    switch (knob->type) {
    case KNOB_INT:
        if (s_parse_int (value, knob->min, knob->max, &number) == 0) {
            *(int *) field = (int) number;
            return 0;
        }
        snprintf (why, sizeof why, "%.*s is not an integer in %ld..%ld",
                  CONFIG_STR_MAX, value, knob->min, knob->max);
        break;
    case KNOB_LEVEL:
        level = config_log_level (value);
        if (level >= 0) {
            *(int *) field = level;
            return 0;
        }
        snprintf (why, sizeof why,
                  "%.*s is not one of debug, info, warn, error", CONFIG_STR_MAX,
                  value);
        break;
    case KNOB_STR:
        if (strlen (value) >= CONFIG_STR_MAX) {
            snprintf (why, sizeof why, "value longer than %d bytes",
                      CONFIG_STR_MAX - 1);
            break;
        }
        memcpy (field, value, strlen (value) + 1);
        if (!knob->check || knob->check (config, field, why, sizeof why) == 0)
            return 0;
        break;
    }
    char name[NAME_MAX_LEN + 32];
    s_source_name (knob, source, name, sizeof name);
    snprintf (err, err_size, "%s: %s", name, why);
    return -1;
}

static int
s_generate (config_t *config, const knob_t *knob, char *err, size_t err_size)
{
    char *field = (char *) config + knob->offset;
    unsigned char bytes[CONFIG_STR_MAX / 2];
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen (knob->gen_prefix);
    size_t digits = knob->gen_hex;
    if (id_random (bytes, (digits + 1) / 2)) {
        snprintf (err, err_size, "MEGLE_%s: no random bytes for a default",
                  knob->name);
        return -1;
    }
    memcpy (field, knob->gen_prefix, n);
    for (size_t i = 0; i < digits; i++)
        field[n + i] = hex[(bytes[i / 2] >> (i % 2 ? 0 : 4)) & 0x0f];
    field[n + digits] = '\0';
    return 0;
}

int
config_list_split (const char *list, char (*items)[CONFIG_STR_MAX], int max)
{
    int count = 0;
    const char *p = list;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        size_t len = (size_t) (last - p);
        if (len == 0 || len >= CONFIG_STR_MAX || count >= max)
            return -1;
        memcpy (items[count], p, len);
        items[count][len] = '\0';
        count++;
        if (*end == '\0')
            return count;
        p = end + 1;
    }
}

//  The gateway's MEGLE_BUS_IN and MEGLE_BUS_OUT: lists of equal length,
//  one endpoint per matcher, paired by position.
static int
s_check_bus_lists (const config_t *config, char *err, size_t err_size)
{
    char items[CONFIG_LIST_MAX][CONFIG_STR_MAX];
    int in = config_list_split (config->bus_in, items, CONFIG_LIST_MAX);
    int out = config_list_split (config->bus_out, items, CONFIG_LIST_MAX);
    if (in < 0 || out < 0)
        snprintf (err, err_size,
                  "MEGLE_BUS_%s: a comma list of 1..%d endpoints, none empty",
                  in < 0 ? "IN" : "OUT", CONFIG_LIST_MAX);
    else if (in != out)
        snprintf (err, err_size,
                  "MEGLE_BUS_IN has %d endpoints, MEGLE_BUS_OUT %d: they "
                  "pair by position, one of each per matcher",
                  in, out);
    else
        return 0;
    return -1;
}

//  The knob whose flag is arg (after "--", up to '=' or the end), or NULL.
static const knob_t *
s_knob_by_flag (const char *arg, size_t len)
{
    for (size_t i = 0; i < KNOB_COUNT; i++) {
        char flag[NAME_MAX_LEN];
        s_flag_name (&s_knobs[i], flag, sizeof flag);
        if (strlen (flag + 2) == len && memcmp (flag + 2, arg, len) == 0)
            return &s_knobs[i];
    }
    return NULL;
}

int
config_load (config_t *config, unsigned who, int argc, char **argv, char *err,
             size_t err_size)
{
    const char *values[KNOB_COUNT];
    source_t sources[KNOB_COUNT];
    memset (config, 0, sizeof *config);
    if (err_size > 0)
        err[0] = '\0';
    if ((who & ALL) == 0) {
        snprintf (err, err_size, "config_load: no binary selected");
        return -1;
    }
    for (size_t i = 0; i < KNOB_COUNT; i++) {
        values[i] = s_knobs[i].fallback;
        sources[i] = SRC_DEFAULT;
        if (!(s_knobs[i].who & who))
            continue;
        char env[NAME_MAX_LEN];
        s_env_name (&s_knobs[i], env, sizeof env);
        const char *value = getenv (env);
        if (value) {
            values[i] = value;
            sources[i] = SRC_ENV;
        }
    }
    for (int a = 1; a < argc && argv; a++) {
        const char *arg = argv[a];
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            config_usage (who, argv[0], stdout);
            return 1;
        }
        if (strncmp (arg, "--", 2) != 0) {
            snprintf (err, err_size, "%s: unexpected argument (see --help)",
                      arg);
            return -1;
        }
        const char *eq = strchr (arg + 2, '=');
        size_t len = eq ? (size_t) (eq - arg - 2) : strlen (arg + 2);
        const knob_t *knob = s_knob_by_flag (arg + 2, len);
        if (!knob) {
            snprintf (err, err_size, "%.*s: unknown option (see --help)",
                      (int) len + 2, arg);
            return -1;
        }
        if (!(knob->who & who)) {
            snprintf (err, err_size, "%.*s: not an option of %s (see --help)",
                      (int) len + 2, arg, s_binary_name (who));
            return -1;
        }
        size_t i = (size_t) (knob - s_knobs);
        if (eq)
            values[i] = eq + 1;
        else if (a + 1 < argc)
            values[i] = argv[++a];
        else {
            snprintf (err, err_size, "%s: missing value", arg);
            return -1;
        }
        sources[i] = SRC_FLAG;
    }
    for (size_t i = 0; i < KNOB_COUNT; i++) {
        const knob_t *knob = &s_knobs[i];
        if (s_apply (config, knob, values[i], sources[i], err, err_size))
            return -1;
        if ((knob->who & who) && knob->gen_prefix
            && ((char *) config + knob->offset)[0] == '\0'
            && s_generate (config, knob, err, err_size))
            return -1;
    }
    if ((who & CONFIG_GATEWAY) && s_check_bus_lists (config, err, err_size))
        return -1;
    return 0;
}

static void
s_usage_group (FILE *out, unsigned who, unsigned mask, const char *title)
{
    int shown = 0;
    for (size_t i = 0; i < KNOB_COUNT; i++) {
        const knob_t *knob = &s_knobs[i];
        if (knob->who != mask || !(knob->who & who))
            continue;
        if (!shown++)
            fprintf (out, "\n%s:\n", title);
        char flag[NAME_MAX_LEN], env[NAME_MAX_LEN];
        char shown_default[CONFIG_STR_MAX];
        s_flag_name (knob, flag, sizeof flag);
        s_env_name (knob, env, sizeof env);
        if (knob->gen_prefix)
            snprintf (shown_default, sizeof shown_default, "%s<%zu random hex>",
                      knob->gen_prefix, knob->gen_hex);
        else if (knob->type == KNOB_INT)
            snprintf (shown_default, sizeof shown_default, "%s (%ld..%ld)",
                      knob->fallback, knob->min, knob->max);
        else
            snprintf (shown_default, sizeof shown_default, "\"%s\"",
                      knob->fallback);
        fprintf (out, "  %-22s %-26s %s\n", flag, env, shown_default);
        fprintf (out, "  %-22s %s\n", "", knob->help);
    }
}

void
config_usage (unsigned who, const char *prog, void *stream)
{
    FILE *out = stream ? stream : stdout;
    fprintf (out,
             "Usage: %s [--flag value | --flag=value]...\n"
             "Each flag is also an environment variable; the flag wins.\n"
             "\n  %-22s %-26s %s\n",
             prog ? prog : s_binary_name (who), "flag", "environment",
             "default");
    s_usage_group (out, who, ALL, "Every binary");
    s_usage_group (out, who, GW | MT, "Gateway and matcher (the bus)");
    s_usage_group (out, who, MT | TP, "Matcher and tap");
    s_usage_group (out, who, GW | TP, "Gateway and tap (bus clients)");
    s_usage_group (out, who, GW, "Gateway");
    s_usage_group (out, who, MT, "Matcher");
    s_usage_group (out, who, TP, "Tap");
    fprintf (out, "\n  %-22s %s\n", "--help, -h", "print this and exit");
}
