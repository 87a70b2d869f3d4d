//  config - every knob of every megle binary, defined once in one table.
//
//  Each knob is an environment variable MEGLE_<NAME> and an equal flag
//  --<name> (lower case, '_' -> '-'); the flag wins. config_load() is the
//  only getenv() in the tree. Values are range-checked; a bad value is an
//  error with a message naming the knob, and the binary exits 2.

#ifndef MEGLE_CONFIG_H
#define MEGLE_CONFIG_H

#include <stddef.h>

//  Which binary is loading: a knob belongs to one or more of them.
#define CONFIG_GATEWAY 1u
#define CONFIG_MATCHER 2u
#define CONFIG_TAP     4u

#define CONFIG_STR_MAX 256

//  Most matchers a gateway can be given (MEGLE_BUS_IN/BUS_OUT lists).
#define CONFIG_LIST_MAX 16

typedef enum {
    MEGLE_LOG_DEBUG = 0,
    MEGLE_LOG_INFO = 1,
    MEGLE_LOG_WARN = 2,
    MEGLE_LOG_ERROR = 3,
} log_level_t;

typedef struct {
    //  all
    int log_level; //  MEGLE_LOG_LEVEL debug|info|...
    //  matcher
    char redis_url[CONFIG_STR_MAX];  //  MEGLE_REDIS_URL
    char redis_host[CONFIG_STR_MAX]; //  parsed from redis_url ("" if
    int redis_port;                  //  unix socket)
    char redis_unix[CONFIG_STR_MAX]; //  parsed: socket path or ""
    int redis_timeout_ms;            //  MEGLE_REDIS_TIMEOUT_MS
    char tap[CONFIG_STR_MAX];        //  MEGLE_TAP ("" = no tap socket)
    int match_ttl;                   //  MEGLE_MATCH_TTL, seconds
    int session_ttl;                 //  MEGLE_SESSION_TTL, seconds
    int gateway_timeout_ms;          //  MEGLE_GATEWAY_TIMEOUT_MS
    char matcher_id[CONFIG_STR_MAX]; //  MEGLE_MATCHER_ID (default
                                     //  "m-<random>")
    int interest_wait_ms;            //  MEGLE_INTEREST_WAIT_MS
    int rematch_block_ms;            //  MEGLE_REMATCH_BLOCK_MS
    int batch_max;                   //  MEGLE_BATCH_MAX, ops per call
    int route_cache;                 //  MEGLE_ROUTE_CACHE, routes (0 = off)
    //  matcher: /healthz, /readyz, /metrics
    char matcher_http[CONFIG_STR_MAX];      //  MEGLE_MATCHER_HTTP ("" = off)
    char matcher_http_host[CONFIG_STR_MAX]; //  parsed from matcher_http
    int matcher_http_port;                  //  parsed (0 = any)
    //  gateway and matcher
    char bus_in[CONFIG_STR_MAX];  //  MEGLE_BUS_IN (gateway: comma list)
    char bus_out[CONFIG_STR_MAX]; //  MEGLE_BUS_OUT (gateway: comma list)
    int bus_hwm;                  //  MEGLE_BUS_HWM
    int heartbeat_ms;             //  MEGLE_HEARTBEAT_MS
    //  bus security (CURVE; docs/security.md)
    int curve;                              //  MEGLE_CURVE 0|1
    char curve_server_cert[CONFIG_STR_MAX]; //  matcher: its secret cert
    char curve_clients[CONFIG_STR_MAX];     //  matcher: allowed certs dir
    char curve_server_key[CONFIG_STR_MAX];  //  gw/tap: matcher's public key
    char curve_cert[CONFIG_STR_MAX];        //  gw/tap: own secret cert
    //  gateway
    char http[CONFIG_STR_MAX];       //  MEGLE_HTTP host:port
    char http_host[CONFIG_STR_MAX];  //  parsed from http
    int http_port;                   //  parsed from http (0 = any)
    char gateway_id[CONFIG_STR_MAX]; //  MEGLE_GATEWAY_ID (default
                                     //  "gw-<random>")
    char web_root[CONFIG_STR_MAX];   //  MEGLE_WEB_ROOT
    int max_message;                 //  MEGLE_MAX_MESSAGE, bytes
    int matcher_timeout_ms;          //  MEGLE_MATCHER_TIMEOUT_MS
    int reuseport;                   //  MEGLE_REUSEPORT 0|1 (SO_REUSEPORT)
    char event_loop[CONFIG_STR_MAX]; //  MEGLE_EVENT_LOOP epoll|poll
    int drain_ms;                    //  MEGLE_DRAIN_MS
    int drain_delay_ms;              //  MEGLE_DRAIN_DELAY_MS
    int drain_jitter_ms;             //  MEGLE_DRAIN_JITTER_MS
    int chat_max;                    //  MEGLE_CHAT_MAX, bytes
    char ip_salt[CONFIG_STR_MAX];    //  MEGLE_IP_SALT (default random)
    //  gateway: ICE servers for browsers (TURN: coturn's REST API)
    char stun_urls[CONFIG_STR_MAX];   //  MEGLE_STUN_URLS, comma list
    char turn_urls[CONFIG_STR_MAX];   //  MEGLE_TURN_URLS, comma list
    char turn_secret[CONFIG_STR_MAX]; //  MEGLE_TURN_SECRET ("" = no TURN)
    int turn_ttl;                     //  MEGLE_TURN_TTL, seconds
    //  gateway abuse limits (docs/security.md); 0 = off where allowed
    int rate_msgs, rate_msgs_burst;       //  MEGLE_RATE_MSGS[_BURST]
    int rate_bytes, rate_bytes_burst;     //  MEGLE_RATE_BYTES[_BURST]
    int rate_finds, rate_finds_burst;     //  MEGLE_RATE_FINDS[_BURST]
    int max_conns;                        //  MEGLE_MAX_CONNS
    int max_conns_per_ip;                 //  MEGLE_MAX_CONNS_PER_IP
    char trusted_proxies[CONFIG_STR_MAX]; //  MEGLE_TRUSTED_PROXIES
    char allowed_origins[CONFIG_STR_MAX]; //  MEGLE_ALLOWED_ORIGINS
    int handshake_timeout_ms;             //  MEGLE_HANDSHAKE_TIMEOUT_MS
    int ping_interval_s;                  //  MEGLE_PING_INTERVAL_S
    int idle_timeout_s;                   //  MEGLE_IDLE_TIMEOUT_S
    //  matcher: reports and bans
    int report_window_s;  //  MEGLE_REPORT_WINDOW_S
    int report_threshold; //  MEGLE_REPORT_THRESHOLD
    int ban_s;            //  MEGLE_BAN_S
} config_t;

//  Fill *config from defaults, then the environment, then argv (flags
//  "--name value" or "--name=value"). `who` is CONFIG_GATEWAY, ... and
//  selects the knobs this binary accepts; others are refused.
//  Returns 0 on success; 1 if --help was given (usage printed to stdout);
//  -1 on a bad value or unknown flag, with the reason in err.
int config_load (config_t *config, unsigned who, int argc, char **argv,
                 char *err, size_t err_size);

//  Print the usage of binary `who` (every knob, its env name, flag,
//  default and help text) to the stream (a FILE *).
void config_usage (unsigned who, const char *prog, void *stream);

//  Split a comma-separated list (blanks around items ignored) into at
//  most max items, each copied NUL-terminated into items[i]. Returns the
//  number of items, or -1 if an item is empty, longer than
//  CONFIG_STR_MAX - 1 or there are more than max. Used for the gateway's
//  MEGLE_BUS_IN / MEGLE_BUS_OUT (one endpoint per matcher).
int config_list_split (const char *list, char (*items)[CONFIG_STR_MAX],
                       int max);

//  Parse a log level name ("debug", "info", "warn", "error"). Returns the
//  level or -1.
int config_log_level (const char *name);

#endif
