//  test_config - defaults, environment, flags and every range check of
//  config_load, for each binary.

#include "config.h"
#include "id.h"
#include "check_main.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Every knob's environment variable, cleared before each test so that the
//  caller's environment cannot leak in.
static const char *s_env_names[] = {
    "MEGLE_LOG_LEVEL",
    "MEGLE_REDIS_URL",
    "MEGLE_TAP",
    "MEGLE_MATCH_TTL",
    "MEGLE_SESSION_TTL",
    "MEGLE_GATEWAY_TIMEOUT_MS",
    "MEGLE_MATCHER_ID",
    "MEGLE_BUS_IN",
    "MEGLE_BUS_OUT",
    "MEGLE_BUS_HWM",
    "MEGLE_HEARTBEAT_MS",
    "MEGLE_HTTP",
    "MEGLE_GATEWAY_ID",
    "MEGLE_WEB_ROOT",
    "MEGLE_MAX_MESSAGE",
    "MEGLE_MATCHER_TIMEOUT_MS",
    "MEGLE_DRAIN_MS",
    "MEGLE_DRAIN_DELAY_MS",
    "MEGLE_DRAIN_JITTER_MS",
    "MEGLE_IP_SALT",
    "MEGLE_CHAT_MAX",
    "MEGLE_INTEREST_WAIT_MS",
    "MEGLE_REMATCH_BLOCK_MS",
    "MEGLE_RATE_MSGS",
    "MEGLE_RATE_MSGS_BURST",
    "MEGLE_RATE_BYTES",
    "MEGLE_RATE_BYTES_BURST",
    "MEGLE_RATE_FINDS",
    "MEGLE_RATE_FINDS_BURST",
    "MEGLE_MAX_CONNS",
    "MEGLE_MAX_CONNS_PER_IP",
    "MEGLE_TRUSTED_PROXIES",
    "MEGLE_ALLOWED_ORIGINS",
    "MEGLE_HANDSHAKE_TIMEOUT_MS",
    "MEGLE_PING_INTERVAL_S",
    "MEGLE_IDLE_TIMEOUT_S",
    "MEGLE_REPORT_WINDOW_S",
    "MEGLE_REPORT_THRESHOLD",
    "MEGLE_BAN_S",
};

static void
s_clear_env (void)
{
    for (size_t i = 0; i < sizeof s_env_names / sizeof s_env_names[0]; i++)
        unsetenv (s_env_names[i]);
}

static config_t s_config;
static char s_err[512];

//  config_load with a NULL-terminated list of arguments after argv[0].
static int
s_load (unsigned who, ...)
{
    char *argv[32] = {"megle-test"};
    int argc = 1;
    va_list args;
    va_start (args, who);
    char *arg;
    while ((arg = va_arg (args, char *)) != NULL && argc < 31)
        argv[argc++] = arg;
    va_end (args);
    s_err[0] = '\0';
    return config_load (&s_config, who, argc, argv, s_err, sizeof s_err);
}

START_TEST (test_defaults_matcher)
{
    ck_assert_int_eq (s_load (CONFIG_MATCHER, NULL), 0);
    ck_assert_int_eq (s_config.log_level, MEGLE_LOG_INFO);
    ck_assert_str_eq (s_config.redis_url, "redis://127.0.0.1:6379");
    ck_assert_str_eq (s_config.redis_host, "127.0.0.1");
    ck_assert_int_eq (s_config.redis_port, 6379);
    ck_assert_str_eq (s_config.redis_unix, "");
    ck_assert_str_eq (s_config.tap, "tcp://127.0.0.1:5557");
    ck_assert_int_eq (s_config.match_ttl, 600);
    ck_assert_int_eq (s_config.session_ttl, 86400);
    ck_assert_int_eq (s_config.gateway_timeout_ms, 5000);
    ck_assert_int_eq (strlen (s_config.matcher_id), 10);
    ck_assert (strncmp (s_config.matcher_id, "m-", 2) == 0);
    ck_assert_str_eq (s_config.bus_in, "tcp://127.0.0.1:5555");
    ck_assert_str_eq (s_config.bus_out, "tcp://127.0.0.1:5556");
    ck_assert_int_eq (s_config.bus_hwm, 100000);
    ck_assert_int_eq (s_config.heartbeat_ms, 1000);
    ck_assert_int_eq (s_config.interest_wait_ms, 10000);
    ck_assert_int_eq (s_config.rematch_block_ms, 60000);
    //  Gateway knobs still hold their defaults, but nothing is generated.
    ck_assert_str_eq (s_config.gateway_id, "");
    ck_assert_str_eq (s_config.ip_salt, "");
}
END_TEST

START_TEST (test_defaults_gateway)
{
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, NULL), 0);
    ck_assert_int_eq (s_config.log_level, MEGLE_LOG_INFO);
    ck_assert_str_eq (s_config.bus_in, "tcp://127.0.0.1:5555");
    ck_assert_str_eq (s_config.bus_out, "tcp://127.0.0.1:5556");
    ck_assert_int_eq (s_config.bus_hwm, 100000);
    ck_assert_int_eq (s_config.heartbeat_ms, 1000);
    ck_assert_str_eq (s_config.http, "127.0.0.1:8080");
    ck_assert_str_eq (s_config.http_host, "127.0.0.1");
    ck_assert_int_eq (s_config.http_port, 8080);
    ck_assert_int_eq (strlen (s_config.gateway_id), 11);
    ck_assert (strncmp (s_config.gateway_id, "gw-", 3) == 0);
    ck_assert (
        id_gateway_valid (s_config.gateway_id, strlen (s_config.gateway_id)));
    ck_assert_str_eq (s_config.web_root, "web");
    ck_assert_int_eq (s_config.max_message, 65536);
    ck_assert_int_eq (s_config.matcher_timeout_ms, 5000);
    ck_assert_int_eq (s_config.chat_max, 2000);
    ck_assert_int_eq (strlen (s_config.ip_salt), 32);
    ck_assert (id_valid (s_config.ip_salt, 32));
    ck_assert_str_eq (s_config.matcher_id, "");
}
END_TEST

START_TEST (test_defaults_tap)
{
    ck_assert_int_eq (s_load (CONFIG_TAP, NULL), 0);
    ck_assert_str_eq (s_config.tap, "tcp://127.0.0.1:5557");
    ck_assert_str_eq (s_config.bus_out, "tcp://127.0.0.1:5556");
    ck_assert_int_eq (s_load (CONFIG_TAP, "--tap", "ipc:///tmp/t", NULL), 0);
    ck_assert_str_eq (s_config.tap, "ipc:///tmp/t");
    ck_assert_int_eq (s_load (CONFIG_TAP, "--bus-out=tcp://h:1", NULL), 0);
    ck_assert_str_eq (s_config.bus_out, "tcp://h:1");
    ck_assert_int_eq (s_load (CONFIG_TAP, "--bus-in=tcp://h:1", NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "--bus-in"));
}
END_TEST

START_TEST (test_env_override)
{
    setenv ("MEGLE_BUS_HWM", "2000", 1);
    setenv ("MEGLE_LOG_LEVEL", "debug", 1);
    setenv ("MEGLE_TAP", "", 1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, NULL), 0);
    ck_assert_int_eq (s_config.bus_hwm, 2000);
    ck_assert_int_eq (s_config.log_level, MEGLE_LOG_DEBUG);
    ck_assert_str_eq (s_config.tap, "");
}
END_TEST

START_TEST (test_env_of_other_binary_ignored)
{
    //  One compose environment serves every binary: the matcher ignores a
    //  gateway knob, even a bad one.
    setenv ("MEGLE_HTTP", "nonsense", 1);
    setenv ("MEGLE_MAX_MESSAGE", "12x", 1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, NULL), 0);
    ck_assert_int_eq (s_config.max_message, 65536);
    unsetenv ("MEGLE_HTTP");
    unsetenv ("MEGLE_MAX_MESSAGE");
    setenv ("MEGLE_REDIS_URL", "nonsense", 1);
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--http", "0.0.0.0:1", NULL), 0);
    ck_assert_str_eq (s_config.redis_url, "redis://127.0.0.1:6379");
}
END_TEST

START_TEST (test_flag_beats_env)
{
    setenv ("MEGLE_HEARTBEAT_MS", "200", 1);
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--heartbeat-ms", "300", NULL),
                      0);
    ck_assert_int_eq (s_config.heartbeat_ms, 300);
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--heartbeat-ms=400", NULL), 0);
    ck_assert_int_eq (s_config.heartbeat_ms, 400);
    //  The last flag wins too.
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--heartbeat-ms=400",
                              "--heartbeat-ms", "500", NULL),
                      0);
    ck_assert_int_eq (s_config.heartbeat_ms, 500);
    //  A bad env value hidden by a good flag is not an error.
    setenv ("MEGLE_HEARTBEAT_MS", "zzz", 1);
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--heartbeat-ms=60", NULL), 0);
    ck_assert_int_eq (s_config.heartbeat_ms, 60);
}
END_TEST

START_TEST (test_flag_forms)
{
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--web-root=/srv/www",
                              "--gateway-id", "gw-7", "--ip-salt=pepper", NULL),
                      0);
    ck_assert_str_eq (s_config.web_root, "/srv/www");
    ck_assert_str_eq (s_config.gateway_id, "gw-7");
    ck_assert_str_eq (s_config.ip_salt, "pepper");
    //  "--name=" sets the empty string; an empty web root is refused.
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--web-root=", NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "--web-root"));
    //  A value that looks like a flag is still the value.
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--web-root", "--x", NULL), 0);
    ck_assert_str_eq (s_config.web_root, "--x");
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--web-root", NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "missing value"));
}
END_TEST

typedef struct {
    const char *flag;
    const char *env;
    unsigned who;
    long min, max;
} int_knob_t;

static const int_knob_t s_int_knobs[] = {
    {"--match-ttl", "MEGLE_MATCH_TTL", CONFIG_MATCHER, 10, 86400},
    {"--session-ttl", "MEGLE_SESSION_TTL", CONFIG_MATCHER, 60, 604800},
    {"--gateway-timeout-ms", "MEGLE_GATEWAY_TIMEOUT_MS", CONFIG_MATCHER, 500,
     600000},
    {"--bus-hwm", "MEGLE_BUS_HWM", CONFIG_MATCHER, 1000, 10000000},
    {"--bus-hwm", "MEGLE_BUS_HWM", CONFIG_GATEWAY, 1000, 10000000},
    {"--heartbeat-ms", "MEGLE_HEARTBEAT_MS", CONFIG_MATCHER, 50, 60000},
    {"--heartbeat-ms", "MEGLE_HEARTBEAT_MS", CONFIG_GATEWAY, 50, 60000},
    {"--max-message", "MEGLE_MAX_MESSAGE", CONFIG_GATEWAY, 1024, 16777216},
    {"--matcher-timeout-ms", "MEGLE_MATCHER_TIMEOUT_MS", CONFIG_GATEWAY, 500,
     600000},
    {"--drain-ms", "MEGLE_DRAIN_MS", CONFIG_GATEWAY, 0, 600000},
    {"--drain-delay-ms", "MEGLE_DRAIN_DELAY_MS", CONFIG_GATEWAY, 0, 600000},
    {"--drain-jitter-ms", "MEGLE_DRAIN_JITTER_MS", CONFIG_GATEWAY, 0, 60000},
    {"--chat-max", "MEGLE_CHAT_MAX", CONFIG_GATEWAY, 1, 65536},
    {"--interest-wait-ms", "MEGLE_INTEREST_WAIT_MS", CONFIG_MATCHER, 0, 600000},
    {"--rematch-block-ms", "MEGLE_REMATCH_BLOCK_MS", CONFIG_MATCHER, 0,
     3600000},
    {"--rate-msgs", "MEGLE_RATE_MSGS", CONFIG_GATEWAY, 0, 1000000},
    {"--rate-msgs-burst", "MEGLE_RATE_MSGS_BURST", CONFIG_GATEWAY, 1, 1000000},
    {"--rate-bytes", "MEGLE_RATE_BYTES", CONFIG_GATEWAY, 0, 1000000000},
    {"--rate-bytes-burst", "MEGLE_RATE_BYTES_BURST", CONFIG_GATEWAY, 1,
     1000000000},
    {"--rate-finds", "MEGLE_RATE_FINDS", CONFIG_GATEWAY, 0, 1000},
    {"--rate-finds-burst", "MEGLE_RATE_FINDS_BURST", CONFIG_GATEWAY, 1, 1000},
    {"--max-conns", "MEGLE_MAX_CONNS", CONFIG_GATEWAY, 0, 10000000},
    {"--max-conns-per-ip", "MEGLE_MAX_CONNS_PER_IP", CONFIG_GATEWAY, 0,
     10000000},
    {"--handshake-timeout-ms", "MEGLE_HANDSHAKE_TIMEOUT_MS", CONFIG_GATEWAY,
     100, 600000},
    {"--ping-interval-s", "MEGLE_PING_INTERVAL_S", CONFIG_GATEWAY, 1, 3600},
    {"--idle-timeout-s", "MEGLE_IDLE_TIMEOUT_S", CONFIG_GATEWAY, 2, 7200},
    {"--report-window-s", "MEGLE_REPORT_WINDOW_S", CONFIG_MATCHER, 10, 2592000},
    {"--report-threshold", "MEGLE_REPORT_THRESHOLD", CONFIG_MATCHER, 1, 1000},
    {"--ban-s", "MEGLE_BAN_S", CONFIG_MATCHER, 1, 2592000},
};

#define INT_KNOBS (int) (sizeof s_int_knobs / sizeof s_int_knobs[0])

//  Loop test: _i indexes s_int_knobs.
START_TEST (test_int_ranges)
{
    const int_knob_t *k = &s_int_knobs[_i];
    char bad[8][64];
    snprintf (bad[0], sizeof bad[0], "%ld", k->min - 1);
    snprintf (bad[1], sizeof bad[1], "%ld", k->max + 1);
    snprintf (bad[2], sizeof bad[2], "12x");
    snprintf (bad[3], sizeof bad[3], "%s", "");
    snprintf (bad[4], sizeof bad[4], " %ld", k->min);
    snprintf (bad[5], sizeof bad[5], "99999999999999999999999");
    snprintf (bad[6], sizeof bad[6], "%ld.0", k->min);
    snprintf (bad[7], sizeof bad[7], "0x%lx", k->min);
    for (int i = 0; i < 8; i++) {
        char arg[640];
        snprintf (arg, sizeof arg, "%s=%s", k->flag, bad[i]);
        ck_assert_int_eq (s_load (k->who, arg, NULL), -1);
        ck_assert_msg (strstr (s_err, k->flag), "flag %s: %s", arg, s_err);
        ck_assert_ptr_null (strstr (s_err, k->env));
        setenv (k->env, bad[i], 1);
        ck_assert_int_eq (s_load (k->who, NULL), -1);
        ck_assert_msg (strstr (s_err, k->env), "env %s: %s", bad[i], s_err);
        unsetenv (k->env);
    }
    //  Both ends of the range are accepted.
    char arg[128];
    snprintf (arg, sizeof arg, "%s=%ld", k->flag, k->min);
    ck_assert_int_eq (s_load (k->who, arg, NULL), 0);
    snprintf (arg, sizeof arg, "%s=%ld", k->flag, k->max);
    ck_assert_int_eq (s_load (k->who, arg, NULL), 0);
}
END_TEST

START_TEST (test_abuse_defaults)
{
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, NULL), 0);
    ck_assert_int_eq (s_config.rate_msgs, 100);
    ck_assert_int_eq (s_config.rate_msgs_burst, 500);
    ck_assert_int_eq (s_config.rate_finds, 2);
    ck_assert_int_eq (s_config.max_conns, 10000);
    ck_assert_int_eq (s_config.max_conns_per_ip, 0);
    ck_assert_str_eq (s_config.trusted_proxies, "");
    ck_assert_str_eq (s_config.allowed_origins, "");
    ck_assert_int_eq (s_config.handshake_timeout_ms, 10000);
    ck_assert_int_eq (s_config.ping_interval_s, 25);
    ck_assert_int_eq (s_config.idle_timeout_s, 60);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, NULL), 0);
    ck_assert_int_eq (s_config.report_window_s, 3600);
    ck_assert_int_eq (s_config.report_threshold, 3);
    ck_assert_int_eq (s_config.ban_s, 86400);
    //  Trusted proxies: addresses and CIDRs, IPv4 and IPv6.
    ck_assert_int_eq (s_load (CONFIG_GATEWAY,
                              "--trusted-proxies=10.0.0.0/8, 127.0.0.1,"
                              "::1,fd00::/8",
                              NULL),
                      0);
    const char *bad[] = {"10.0.0.0/33", "::1/129",    "host",
                         "1.2.3.4/",    "1.2.3.4/-1", "1.2.3.4 5.6.7.8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char arg[128];
        snprintf (arg, sizeof arg, "--trusted-proxies=%s", bad[i]);
        ck_assert_msg (s_load (CONFIG_GATEWAY, arg, NULL) == -1, "%s", bad[i]);
        ck_assert_ptr_nonnull (strstr (s_err, "--trusted-proxies"));
    }
}
END_TEST

START_TEST (test_error_message_shape)
{
    setenv ("MEGLE_BUS_HWM", "12x", 1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, NULL), -1);
    ck_assert_str_eq (s_err,
                      "MEGLE_BUS_HWM: 12x is not an integer in 1000..10000000");
}
END_TEST

START_TEST (test_log_level)
{
    ck_assert_int_eq (config_log_level ("debug"), MEGLE_LOG_DEBUG);
    ck_assert_int_eq (config_log_level ("info"), MEGLE_LOG_INFO);
    ck_assert_int_eq (config_log_level ("warn"), MEGLE_LOG_WARN);
    ck_assert_int_eq (config_log_level ("error"), MEGLE_LOG_ERROR);
    ck_assert_int_eq (config_log_level ("loud"), -1);
    ck_assert_int_eq (config_log_level (NULL), -1);
    ck_assert_int_eq (s_load (CONFIG_TAP, "--log-level=warn", NULL), 0);
    ck_assert_int_eq (s_config.log_level, MEGLE_LOG_WARN);
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--log-level", "loud", NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "--log-level"));
    setenv ("MEGLE_LOG_LEVEL", "INFO", 1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "MEGLE_LOG_LEVEL"));
}
END_TEST

START_TEST (test_unknown_and_foreign_flags)
{
    ck_assert_int_eq (s_load (CONFIG_MATCHER, "--no-such-knob=1", NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "--no-such-knob"));
    ck_assert_ptr_nonnull (strstr (s_err, "unknown"));
    ck_assert_int_eq (s_load (CONFIG_MATCHER, "--HTTP=1", NULL), -1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, "stray", NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "stray"));
    ck_assert_int_eq (s_load (CONFIG_MATCHER, "-x", NULL), -1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, "--", NULL), -1);
    //  A gateway-only flag is refused by the matcher, and the reverse.
    ck_assert_int_eq (s_load (CONFIG_MATCHER, "--http", "0.0.0.0:80", NULL),
                      -1);
    ck_assert_ptr_nonnull (strstr (s_err, "--http"));
    ck_assert_ptr_nonnull (strstr (s_err, "megle-matcher"));
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--redis-url=redis://h", NULL),
                      -1);
    ck_assert_ptr_nonnull (strstr (s_err, "--redis-url"));
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--tap=", NULL), -1);
    ck_assert_int_eq (s_load (CONFIG_TAP, "--http=h:1", NULL), -1);
    ck_assert_int_eq (s_load (0, NULL), -1);
}
END_TEST

START_TEST (test_redis_url)
{
    ck_assert_int_eq (s_load (CONFIG_MATCHER, "--redis-url=redis://h:1", NULL),
                      0);
    ck_assert_str_eq (s_config.redis_host, "h");
    ck_assert_int_eq (s_config.redis_port, 1);
    ck_assert_str_eq (s_config.redis_unix, "");
    ck_assert_int_eq (
        s_load (CONFIG_MATCHER, "--redis-url=redis://redis.local", NULL), 0);
    ck_assert_str_eq (s_config.redis_host, "redis.local");
    ck_assert_int_eq (s_config.redis_port, 6379);
    ck_assert_int_eq (
        s_load (CONFIG_MATCHER, "--redis-url=redis://10.0.0.2:7000/", NULL), 0);
    ck_assert_str_eq (s_config.redis_host, "10.0.0.2");
    ck_assert_int_eq (s_config.redis_port, 7000);
    ck_assert_int_eq (
        s_load (CONFIG_MATCHER, "--redis-url=redis://[::1]:6380", NULL), 0);
    ck_assert_str_eq (s_config.redis_host, "::1");
    ck_assert_int_eq (s_config.redis_port, 6380);
    setenv ("MEGLE_REDIS_URL", "unix:///tmp/x.sock", 1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, NULL), 0);
    ck_assert_str_eq (s_config.redis_unix, "/tmp/x.sock");
    ck_assert_str_eq (s_config.redis_host, "");
    ck_assert_str_eq (s_config.redis_url, "unix:///tmp/x.sock");
    unsetenv ("MEGLE_REDIS_URL");

    const char *bad[] = {
        "http://h:1",
        "redis:/h",
        "redis://",
        "redis://:6379",
        "redis://h:",
        "redis://h:0",
        "redis://h:65536",
        "redis://h:12x",
        "redis://h:-1",
        "redis://h:+1",
        "redis://u:p@h:1",
        "redis://h:1/0",
        "unix://",
        "unix://relative",
        "unix:///",
        "h:6379",
        "",
        "redis://h h",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char arg[128];
        snprintf (arg, sizeof arg, "--redis-url=%s", bad[i]);
        ck_assert_msg (s_load (CONFIG_MATCHER, arg, NULL) == -1, "%s", arg);
        ck_assert_ptr_nonnull (strstr (s_err, "--redis-url"));
        setenv ("MEGLE_REDIS_URL", bad[i], 1);
        ck_assert_msg (s_load (CONFIG_MATCHER, NULL) == -1, "%s", arg);
        ck_assert_ptr_nonnull (strstr (s_err, "MEGLE_REDIS_URL"));
        unsetenv ("MEGLE_REDIS_URL");
    }
}
END_TEST

START_TEST (test_http)
{
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--http=0.0.0.0:80", NULL), 0);
    ck_assert_str_eq (s_config.http_host, "0.0.0.0");
    ck_assert_int_eq (s_config.http_port, 80);
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--http=localhost:0", NULL), 0);
    ck_assert_str_eq (s_config.http_host, "localhost");
    ck_assert_int_eq (s_config.http_port, 0);
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--http=[::1]:65535", NULL), 0);
    ck_assert_str_eq (s_config.http_host, "::1");
    ck_assert_int_eq (s_config.http_port, 65535);
    const char *bad[] = {"localhost",  ":80",      "h:65536", "h:-1",
                         "h:",         "h:8x",     "[::1]",   "[]:80",
                         "[::1]80",    "::1:80",   "h h:80",  "",
                         "[zz::1]:80", "h:80/path"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char arg[128];
        snprintf (arg, sizeof arg, "--http=%s", bad[i]);
        ck_assert_msg (s_load (CONFIG_GATEWAY, arg, NULL) == -1, "%s", arg);
        ck_assert_ptr_nonnull (strstr (s_err, "--http"));
    }
}
END_TEST

START_TEST (test_gateway_id)
{
    ck_assert_int_eq (
        s_load (CONFIG_GATEWAY, "--gateway-id=Gw_1.eu-west", NULL), 0);
    ck_assert_str_eq (s_config.gateway_id, "Gw_1.eu-west");
    char longest[80], too_long[80];
    memset (longest, 'a', 64);
    longest[64] = '\0';
    memset (too_long, 'a', 65);
    too_long[65] = '\0';
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--gateway-id", longest, NULL),
                      0);
    ck_assert_str_eq (s_config.gateway_id, longest);
    const char *bad[] = {too_long, "*", "gw 1", "gw/1", "gw:1", "gw\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--gateway-id", bad[i], NULL),
                          -1);
        ck_assert_ptr_nonnull (strstr (s_err, "--gateway-id"));
    }
    setenv ("MEGLE_MATCHER_ID", "m 1", 1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "MEGLE_MATCHER_ID"));
}
END_TEST

START_TEST (test_generated_ids_differ)
{
    config_t first;
    ck_assert_int_eq (s_load (CONFIG_GATEWAY | CONFIG_MATCHER, NULL), 0);
    first = s_config;
    ck_assert_int_eq (s_load (CONFIG_GATEWAY | CONFIG_MATCHER, NULL), 0);
    ck_assert_str_ne (first.gateway_id, s_config.gateway_id);
    ck_assert_str_ne (first.matcher_id, s_config.matcher_id);
    ck_assert_str_ne (first.ip_salt, s_config.ip_salt);
    ck_assert (id_gateway_valid (s_config.gateway_id, 11));
    ck_assert (id_gateway_valid (s_config.matcher_id, 10));
    for (int i = 3; i < 11; i++)
        ck_assert (strchr ("0123456789abcdef", s_config.gateway_id[i]));
    for (int i = 2; i < 10; i++)
        ck_assert (strchr ("0123456789abcdef", s_config.matcher_id[i]));
    ck_assert (id_valid (s_config.ip_salt, strlen (s_config.ip_salt)));
}
END_TEST

START_TEST (test_long_string_refused)
{
    char value[CONFIG_STR_MAX + 8];
    memset (value, 'x', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--web-root", value, NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "--web-root"));
    setenv ("MEGLE_BUS_IN", value, 1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "MEGLE_BUS_IN"));
    //  CONFIG_STR_MAX - 1 bytes still fit.
    value[CONFIG_STR_MAX - 1] = '\0';
    setenv ("MEGLE_BUS_IN", value, 1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, NULL), 0);
    ck_assert_str_eq (s_config.bus_in, value);
}
END_TEST

START_TEST (test_help)
{
    //  Usage goes to stdout; keep the test log readable.
    ck_assert_ptr_nonnull (freopen ("/dev/null", "w", stdout));
    ck_assert_int_eq (s_load (CONFIG_GATEWAY, "--help", NULL), 1);
    ck_assert_int_eq (s_load (CONFIG_MATCHER, "--bus-hwm=2000", "-h", NULL), 1);
}
END_TEST

START_TEST (test_usage_text)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    ck_assert_ptr_nonnull (out);
    config_usage (CONFIG_MATCHER, "megle-matcher", out);
    fclose (out);
    ck_assert_ptr_nonnull (strstr (text, "megle-matcher"));
    ck_assert_ptr_nonnull (strstr (text, "--redis-url"));
    ck_assert_ptr_nonnull (strstr (text, "MEGLE_REDIS_URL"));
    ck_assert_ptr_nonnull (strstr (text, "redis://127.0.0.1:6379"));
    ck_assert_ptr_nonnull (strstr (text, "--bus-hwm"));
    ck_assert_ptr_null (strstr (text, "--http"));
    ck_assert_ptr_null (strstr (text, "--ip-salt"));
    free (text);
    //  Every line of every binary's usage fits 80 columns.
    unsigned whos[] = {CONFIG_GATEWAY, CONFIG_MATCHER, CONFIG_TAP};
    for (int w = 0; w < 3; w++) {
        out = open_memstream (&text, &size);
        ck_assert_ptr_nonnull (out);
        config_usage (whos[w], "megle-x", out);
        fclose (out);
        for (char *line = text; *line;) {
            size_t len = strcspn (line, "\n");
            ck_assert_msg (len <= 80, "too wide: %.*s", (int) len, line);
            line += len + (line[len] == '\n');
        }
        free (text);
    }
}
END_TEST

static void
s_setup (void)
{
    s_clear_env ();
    memset (&s_config, 0, sizeof s_config);
}

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("config");
    TCase *tc = tcase_create ("core");
    tcase_add_checked_fixture (tc, s_setup, NULL);
    tcase_add_test (tc, test_defaults_matcher);
    tcase_add_test (tc, test_defaults_gateway);
    tcase_add_test (tc, test_defaults_tap);
    tcase_add_test (tc, test_env_override);
    tcase_add_test (tc, test_env_of_other_binary_ignored);
    tcase_add_test (tc, test_flag_beats_env);
    tcase_add_test (tc, test_flag_forms);
    tcase_add_loop_test (tc, test_int_ranges, 0, INT_KNOBS);
    tcase_add_test (tc, test_abuse_defaults);
    tcase_add_test (tc, test_error_message_shape);
    tcase_add_test (tc, test_log_level);
    tcase_add_test (tc, test_unknown_and_foreign_flags);
    tcase_add_test (tc, test_redis_url);
    tcase_add_test (tc, test_http);
    tcase_add_test (tc, test_gateway_id);
    tcase_add_test (tc, test_generated_ids_differ);
    tcase_add_test (tc, test_long_string_refused);
    tcase_add_test (tc, test_help);
    tcase_add_test (tc, test_usage_text);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
