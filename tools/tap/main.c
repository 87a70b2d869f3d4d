//  megle-tap - shows the bus traffic between megle's gateways and its
//  matcher, live and decoded: tcpdump for the megle bus. Attaches to the
//  matcher's tap socket (both directions; see matcher/tap.h) or to its PUB
//  bus (matcher -> gateway only); filters, prints (human or JSON), counts
//  (--stats), records and replays frames, and re-injects recorded frames
//  into a test matcher. docs/tap.md is its manual.

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/config.h"
#include "common/curve.h"
#include "proto/frame.h"
#include "filter.h"
#include "record.h"
#include "show.h"
#include "stats.h"

#define PREVIEW_DEFAULT 60   //  payload bytes shown without --full
#define WAIT_NOTE_MS    1000 //  silence before "waiting for ..."
#define POLL_MS         250
#define SEND_TIMEOUT_MS 10000
#define MONITOR_EP      "inproc://megle-tap-monitor"

//  The one global: set by SIGINT/SIGTERM.
static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_stop = 1;
}

typedef struct {
    //  options
    char tap_ep[CONFIG_STR_MAX];
    char pub_ep[CONFIG_STR_MAX];
    bool use_pub;
    const char *record_path;
    const char *replay_path;
    const char *send_ep;
    long count;      //  0 = no limit
    double duration; //  seconds; 0 = no limit
    bool stats;
    bool quiet;
    show_opts_t show;
    filter_t *filter;
    //  run
    record_writer_t *writer;
    stats_t *acc;
    long matched; //  frames that passed the filters
    int status;   //  exit status once stopped

    //  MEGLE_CURVE=1: our keys, applied to every socket
    curve_client_t curve;
    bool curve_on;
} app_t;

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "Usage: megle-tap [OPTION]...\n"
        "Show the frames megle's gateways and matcher exchange, decoded.\n"
        "\n"
        "Source (one of):\n"
        "  --tap ENDPOINT      the matcher's tap socket: both directions\n"
        "                      (default MEGLE_TAP, tcp://127.0.0.1:5557)\n"
        "  --pub[=ENDPOINT]    the matcher's PUB bus instead: matcher -> "
        "gateway only\n"
        "                      (default MEGLE_BUS_OUT, "
        "tcp://127.0.0.1:5556)\n"
        "  --replay FILE       frames recorded with --record\n"
        "  --send ENDPOINT     with --replay: PUSH the recorded inbound "
        "frames to a\n"
        "                      matcher's bus_in instead of only printing "
        "them\n"
        "\n"
        "Filters (comma-separated lists; a frame must pass every option):\n"
        "  --type KIND[,KIND]  hello heartbeat open find signal leave close "
        "bye\n"
        "                      chat typing report waiting matched "
        "deliver\n"
        "                      partner_left error pulse ended chat_out "
        "typing_out\n"
        "                      reset corrupt\n"
        "  --session ID        session or peer is ID, or starts with it "
        "(hex)\n"
        "  --gateway ID        the frame's gateway (source or destination)\n"
        "  --direction in|out  in = gateway -> matcher, out = matcher -> "
        "gateway\n"
        "  --count N           stop after N frames\n"
        "  --duration SECONDS  stop after this long\n"
        "\n"
        "Output:\n"
        "  --json              one JSON object per line\n"
        "  --full              whole payloads (default: first %d bytes)\n"
        "  --redact            no payload bytes at all, only their length\n"
        "  --wide              full 32-digit ids (default: first 8)\n"
        "  --color, --no-color colours (default: when stdout is a terminal)\n"
        "  --stats             frames/s and bytes/s per kind every second\n"
        "  --record FILE       also write the frames to FILE (raw, with "
        "times)\n"
        "  -q, --quiet         print no frames (with --record or --send)\n"
        "  -h, --help          this text\n"
        "\n"
        "Exit status: 0 done, 1 runtime failure, 2 bad option.\n",
        PREVIEW_DEFAULT);
}

static uint64_t
s_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static uint64_t
s_wall_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

//  Parse the command line into app. Returns 0, 1 (--help shown) or 2.
static int
s_parse (app_t *app, int argc, char **argv)
{
    enum {
        O_TAP = 256,
        O_PUB,
        O_REPLAY,
        O_SEND,
        O_TYPE,
        O_SESSION,
        O_GATEWAY,
        O_DIRECTION,
        O_COUNT,
        O_DURATION,
        O_JSON,
        O_FULL,
        O_REDACT,
        O_WIDE,
        O_COLOR,
        O_NO_COLOR,
        O_STATS,
        O_RECORD,
    };
    static const struct option options[] = {
        {"tap", required_argument, NULL, O_TAP},
        {"pub", optional_argument, NULL, O_PUB},
        {"replay", required_argument, NULL, O_REPLAY},
        {"send", required_argument, NULL, O_SEND},
        {"type", required_argument, NULL, O_TYPE},
        {"session", required_argument, NULL, O_SESSION},
        {"gateway", required_argument, NULL, O_GATEWAY},
        {"direction", required_argument, NULL, O_DIRECTION},
        {"count", required_argument, NULL, O_COUNT},
        {"duration", required_argument, NULL, O_DURATION},
        {"json", no_argument, NULL, O_JSON},
        {"full", no_argument, NULL, O_FULL},
        {"redact", no_argument, NULL, O_REDACT},
        {"wide", no_argument, NULL, O_WIDE},
        {"color", no_argument, NULL, O_COLOR},
        {"no-color", no_argument, NULL, O_NO_COLOR},
        {"stats", no_argument, NULL, O_STATS},
        {"record", required_argument, NULL, O_RECORD},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[640] = "";
    int color = -1; //  auto
    bool tap_given = false;
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":qh", options, NULL)) != -1) {
        const char *arg = optarg;
        char *end = NULL;
        switch (opt) {
        case O_TAP:
            snprintf (app->tap_ep, sizeof app->tap_ep, "%s", arg);
            tap_given = true;
            break;
        case O_PUB:
            app->use_pub = true;
            //  "--pub ENDPOINT" as well as "--pub=ENDPOINT".
            if (!arg && optind < argc && argv[optind][0] != '-')
                arg = argv[optind++];
            if (arg)
                snprintf (app->pub_ep, sizeof app->pub_ep, "%s", arg);
            break;
        case O_REPLAY:
            app->replay_path = arg;
            break;
        case O_SEND:
            app->send_ep = arg;
            break;
        case O_TYPE:
            if (filter_set_types (app->filter, arg, err, sizeof err))
                goto bad;
            break;
        case O_SESSION:
            if (filter_set_sessions (app->filter, arg, err, sizeof err))
                goto bad;
            break;
        case O_GATEWAY:
            if (filter_set_gateways (app->filter, arg, err, sizeof err))
                goto bad;
            break;
        case O_DIRECTION:
            if (filter_set_direction (app->filter, arg, err, sizeof err))
                goto bad;
            break;
        case O_COUNT:
            errno = 0;
            app->count = strtol (arg, &end, 10);
            if (errno || end == arg || *end || app->count < 1) {
                snprintf (err, sizeof err,
                          "--count: '%.80s' is not a positive integer", arg);
                goto bad;
            }
            break;
        case O_DURATION:
            errno = 0;
            app->duration = strtod (arg, &end);
            if (errno || end == arg || *end || !isfinite (app->duration)
                || app->duration <= 0 || app->duration > 1e7) {
                snprintf (err, sizeof err,
                          "--duration: '%.80s' is not a number of seconds "
                          "above 0",
                          arg);
                goto bad;
            }
            break;
        case O_JSON:
            app->show.json = true;
            break;
        case O_FULL:
            app->show.payload_max = SIZE_MAX;
            break;
        case O_REDACT:
            app->show.redact = true;
            break;
        case O_WIDE:
            app->show.wide = true;
            break;
        case O_COLOR:
            color = 1;
            break;
        case O_NO_COLOR:
            color = 0;
            break;
        case O_STATS:
            app->stats = true;
            break;
        case O_RECORD:
            app->record_path = arg;
            break;
        case 'q':
            app->quiet = true;
            break;
        case 'h':
            s_usage (stdout);
            return 1;
        case ':':
            snprintf (err, sizeof err, "%s: missing value", argv[optind - 1]);
            goto bad;
        default:
            snprintf (err, sizeof err, "%s: unknown option", argv[optind - 1]);
            goto bad;
        }
    }
    if (optind < argc) {
        snprintf (err, sizeof err, "%.80s: unexpected argument", argv[optind]);
        goto bad;
    }
    if (app->send_ep && !app->replay_path) {
        snprintf (err, sizeof err, "--send needs --replay FILE");
        goto bad;
    }
    if (app->replay_path && (tap_given || app->use_pub)) {
        snprintf (err, sizeof err, "--replay reads a file: no --tap or --pub");
        goto bad;
    }
    if (tap_given && app->use_pub) {
        snprintf (err, sizeof err, "--tap and --pub: choose one");
        goto bad;
    }
    if (app->stats && (app->replay_path || app->show.json)) {
        snprintf (err, sizeof err,
                  "--stats shows live rates: not with --replay or --json");
        goto bad;
    }
    if (app->use_pub && filter_direction (app->filter) == RECORD_IN) {
        snprintf (err, sizeof err,
                  "--direction in: the PUB bus carries only matcher -> "
                  "gateway frames");
        goto bad;
    }
    if (!app->use_pub && !app->replay_path && !*app->tap_ep) {
        snprintf (err, sizeof err,
                  "no tap endpoint (MEGLE_TAP is empty): give --tap "
                  "ENDPOINT, or --pub");
        goto bad;
    }
    app->show.color = color == -1 ? isatty (STDOUT_FILENO) : color;
    if (app->show.json)
        app->show.color = false;
    return 0;
bad:
    fprintf (stderr, "megle-tap: %s\n", err);
    return 2;
}

//  One frame that arrived (or was read back): filter, record, count or
//  print. Returns true once the tap should stop.
static bool
s_handle (app_t *app, int dir, uint64_t time_us, const uint8_t *data,
          size_t size)
{
    char why[128] = "";
    frame_t *frame = frame_decode (data, size, why, sizeof why);
    if (!filter_match (app->filter, dir, frame)) {
        frame_destroy (&frame);
        return false;
    }
    app->matched++;
    if (app->writer) {
        char err[256];
        if (record_writer_put (app->writer, dir, time_us, data, size, err,
                               sizeof err)) {
            fprintf (stderr, "megle-tap: %s: %s\n", app->record_path, err);
            app->status = 1;
            frame_destroy (&frame);
            return true;
        }
    }
    if (app->stats)
        stats_add (app->acc, dir, frame ? frame->kind : 0, size);
    else if (!app->quiet
             && show_frame (stdout, &app->show, dir, time_us, frame, data, size,
                            why)) {
        frame_destroy (&frame);
        return true; //  stdout is gone (e.g. | head): nothing left to do
    }
    frame_destroy (&frame);
    return app->count && app->matched >= app->count;
}

//  Read one whole message from socket into parts (at most max); returns
//  the number of parts, counting those past max, or -1 if none waiting.
static int
s_recv_parts (void *socket, zmq_msg_t *parts, int max)
{
    int n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, socket, n ? 0 : ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&msg);
            return n ? n : -1;
        }
        more = zmq_msg_more (&msg);
        if (n < max)
            zmq_msg_move (&parts[n], &msg);
        zmq_msg_close (&msg);
        n++;
    }
    return n;
}

static uint64_t
s_be64 (const uint8_t *p)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = (value << 8) | p[i];
    return value;
}

//  Drain the SUB socket. Returns true once the tap should stop.
static bool
s_drain (app_t *app, void *sub)
{
    while (!s_stop) {
        zmq_msg_t parts[3];
        for (int i = 0; i < 3; i++)
            zmq_msg_init (&parts[i]);
        int n = s_recv_parts (sub, parts, 3);
        bool stop = false;
        if (n == -1) {
            for (int i = 0; i < 3; i++)
                zmq_msg_close (&parts[i]);
            return false;
        }
        if (app->use_pub && n == 2)
            stop = s_handle (app, RECORD_OUT, s_wall_us (),
                             (const uint8_t *) zmq_msg_data (&parts[1]),
                             zmq_msg_size (&parts[1]));
        else if (!app->use_pub && n == 3 && zmq_msg_size (&parts[1]) == 8) {
            const char *dir = (const char *) zmq_msg_data (&parts[0]);
            size_t dir_len = zmq_msg_size (&parts[0]);
            int d = dir_len == 2 && !memcmp (dir, "in", 2)    ? RECORD_IN
                    : dir_len == 3 && !memcmp (dir, "out", 3) ? RECORD_OUT
                                                              : 0;
            if (d)
                stop = s_handle (
                    app, d, s_be64 ((const uint8_t *) zmq_msg_data (&parts[1])),
                    (const uint8_t *) zmq_msg_data (&parts[2]),
                    zmq_msg_size (&parts[2]));
            else
                fprintf (stderr, "megle-tap: skipped a tap message with an "
                                 "unknown direction\n");
        } else
            fprintf (stderr,
                     "megle-tap: skipped a %d-part message that is not a "
                     "%s message\n",
                     n, app->use_pub ? "bus" : "tap");
        for (int i = 0; i < 3; i++)
            zmq_msg_close (&parts[i]);
        if (stop)
            return true;
    }
    return false;
}

//  Read monitor events; updates *connected and says what happened.
static void
s_on_monitor (void *monitor, const char *endpoint, bool *connected, bool *noted)
{
    while (1) {
        zmq_msg_t parts[2];
        zmq_msg_init (&parts[0]);
        zmq_msg_init (&parts[1]);
        int n = s_recv_parts (monitor, parts, 2);
        if (n == -1) {
            zmq_msg_close (&parts[0]);
            zmq_msg_close (&parts[1]);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size (&parts[0]) >= 2)
            memcpy (&event, zmq_msg_data (&parts[0]), sizeof event);
        if (event == ZMQ_EVENT_CONNECTED) {
            *connected = true;
            fprintf (stderr, "megle-tap: connected to %s\n", endpoint);
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                   || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                   || event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            *noted = true;
            fprintf (stderr,
                     "megle-tap: %s refused the handshake (MEGLE_CURVE and "
                     "its keys must match the matcher's)\n",
                     endpoint);
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
            *connected = false;
            *noted = true;
            fprintf (stderr,
                     "megle-tap: lost %s; waiting for it to come back…\n",
                     endpoint);
        }
        zmq_msg_close (&parts[0]);
        zmq_msg_close (&parts[1]);
    }
}

static int
s_run_live (app_t *app)
{
    const char *endpoint = app->use_pub ? app->pub_ep : app->tap_ep;
    void *ctx = zmq_ctx_new ();
    void *sub = ctx ? zmq_socket (ctx, ZMQ_SUB) : NULL;
    void *monitor = ctx ? zmq_socket (ctx, ZMQ_PAIR) : NULL;
    if (!sub || !monitor) {
        fprintf (stderr, "megle-tap: cannot create sockets: %s\n",
                 zmq_strerror (zmq_errno ()));
        return 1;
    }
    int zero = 0, rcvhwm = 100000;
    zmq_setsockopt (sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (monitor, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (sub, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    const char *topic = "";
    if (!app->use_pub && filter_direction (app->filter) == RECORD_IN)
        topic = "in";
    else if (!app->use_pub && filter_direction (app->filter) == RECORD_OUT)
        topic = "out";
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, topic, strlen (topic));
    if (app->curve_on && curve_client_apply (&app->curve, sub) == -1) {
        fprintf (stderr, "megle-tap: cannot set the CURVE keys: %s\n",
                 zmq_strerror (zmq_errno ()));
        return 1;
    }
    if (zmq_socket_monitor (sub, MONITOR_EP,
                            ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
                                | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            == -1
        || zmq_connect (monitor, MONITOR_EP) == -1) {
        fprintf (stderr, "megle-tap: cannot monitor the socket: %s\n",
                 zmq_strerror (zmq_errno ()));
        return 1;
    }
    if (zmq_connect (sub, endpoint) == -1) {
        fprintf (stderr, "megle-tap: cannot connect to '%s': %s\n", endpoint,
                 zmq_strerror (zmq_errno ()));
        zmq_close (sub);
        zmq_close (monitor);
        zmq_ctx_term (ctx);
        return 2;
    }
    if (app->use_pub)
        fprintf (stderr,
                 "megle-tap: attached to the matcher's PUB bus %s: only "
                 "matcher → gateway frames are visible\n",
                 endpoint);
    uint64_t start = s_mono_ms ();
    uint64_t deadline =
        app->duration > 0 ? start + (uint64_t) (app->duration * 1000.0) : 0;
    uint64_t last_stats = start;
    bool connected = false, noted = false, done = false;
    while (!s_stop && !done) {
        uint64_t now = s_mono_ms ();
        long timeout = POLL_MS;
        if (deadline && (long) (deadline - now) < timeout)
            timeout = deadline > now ? (long) (deadline - now) : 0;
        zmq_pollitem_t items[] = {{sub, 0, ZMQ_POLLIN, 0},
                                  {monitor, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll (items, 2, timeout);
        if (rc == -1 && zmq_errno () != EINTR) {
            fprintf (stderr, "megle-tap: poll failed: %s\n",
                     zmq_strerror (zmq_errno ()));
            app->status = 1;
            break;
        }
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
            s_on_monitor (monitor, endpoint, &connected, &noted);
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            done = s_drain (app, sub);
        fflush (stdout);
        if (app->writer)
            record_writer_flush (app->writer);
        now = s_mono_ms ();
        if (!connected && !noted && now - start >= WAIT_NOTE_MS) {
            fprintf (stderr, "megle-tap: waiting for %s… (still trying)\n",
                     endpoint);
            noted = true;
        }
        if (app->stats && now - last_stats >= 1000) {
            if (stats_print (app->acc, stdout, isatty (STDOUT_FILENO),
                             (double) (now - last_stats) / 1000.0))
                done = true;
            last_stats = now;
        }
        if (deadline && now >= deadline)
            done = true;
    }
    zmq_socket_monitor (sub, NULL, 0);
    zmq_close (monitor);
    zmq_close (sub);
    zmq_ctx_term (ctx);
    return app->status;
}

static int
s_run_replay (app_t *app)
{
    char err[256] = "";
    record_reader_t *reader =
        record_reader_new (app->replay_path, err, sizeof err);
    if (!reader) {
        fprintf (stderr, "megle-tap: %s\n", err);
        return 1;
    }
    void *ctx = NULL, *push = NULL;
    if (app->send_ep) {
        ctx = zmq_ctx_new ();
        push = ctx ? zmq_socket (ctx, ZMQ_PUSH) : NULL;
        int linger = SEND_TIMEOUT_MS, timeout = SEND_TIMEOUT_MS;
        if (push) {
            zmq_setsockopt (push, ZMQ_LINGER, &linger, sizeof linger);
            zmq_setsockopt (push, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
        }
        if (push && app->curve_on)
            curve_client_apply (&app->curve, push);
        if (!push || zmq_connect (push, app->send_ep) == -1) {
            fprintf (stderr, "megle-tap: cannot connect to '%s': %s\n",
                     app->send_ep, zmq_strerror (zmq_errno ()));
            if (push)
                zmq_close (push);
            if (ctx)
                zmq_ctx_term (ctx);
            record_reader_destroy (&reader);
            return 2;
        }
    }
    uint64_t deadline = app->duration > 0
                            ? s_mono_ms () + (uint64_t) (app->duration * 1000.0)
                            : 0;
    long sent = 0;
    while (!s_stop) {
        int dir;
        uint64_t time_us;
        const uint8_t *data;
        size_t size;
        int rc = record_reader_next (reader, &dir, &time_us, &data, &size, err,
                                     sizeof err);
        if (rc == 0)
            break;
        if (rc < 0) {
            fprintf (stderr, "megle-tap: %s: %s\n", app->replay_path, err);
            app->status = 1;
            break;
        }
        //  Only what gateways sent can be sent again; the matcher makes
        //  its answers itself.
        if (push && dir != RECORD_IN)
            continue;
        long before = app->matched;
        bool stop = s_handle (app, dir, time_us, data, size);
        if (push && app->matched > before) {
            if (zmq_send (push, data, size, 0) == -1) {
                fprintf (stderr, "megle-tap: cannot send to %s: %s\n",
                         app->send_ep, zmq_strerror (zmq_errno ()));
                app->status = 1;
                break;
            }
            sent++;
        }
        if (stop || (deadline && s_mono_ms () >= deadline))
            break;
    }
    fflush (stdout);
    record_reader_destroy (&reader);
    if (push) {
        zmq_close (push); //  lingers until sent, up to SEND_TIMEOUT_MS
        zmq_ctx_term (ctx);
        fprintf (stderr, "megle-tap: sent %ld frames to %s\n", sent,
                 app->send_ep);
    }
    return app->status;
}

int
main (int argc, char **argv)
{
    //  Defaults of the endpoints: MEGLE_TAP and MEGLE_BUS_OUT, through the
    //  one config loader (no flags: ours are parsed below).
    config_t config;
    char err[256] = "";
    if (config_load (&config, CONFIG_TAP, 0, NULL, err, sizeof err) != 0) {
        fprintf (stderr, "megle-tap: %s\n", err);
        return 2;
    }
    app_t app;
    memset (&app, 0, sizeof app);
    snprintf (app.tap_ep, sizeof app.tap_ep, "%s", config.tap);
    snprintf (app.pub_ep, sizeof app.pub_ep, "%s", config.bus_out);
    app.show.payload_max = PREVIEW_DEFAULT;
    app.filter = filter_new ();
    app.acc = stats_new ();
    if (!app.filter || !app.acc) {
        fprintf (stderr, "megle-tap: out of memory\n");
        return 1;
    }
    int rc = s_parse (&app, argc, argv);
    if (rc == 0) {
        int curve = curve_client_load (&config, &app.curve, err, sizeof err);
        if (curve < 0) {
            fprintf (stderr, "megle-tap: %s\n", err);
            rc = 2;
        }
        app.curve_on = curve == 0;
    }
    if (rc == 0 && app.record_path) {
        app.writer = record_writer_new (app.record_path, err, sizeof err);
        if (!app.writer) {
            fprintf (stderr, "megle-tap: --record: %s\n", err);
            rc = 1;
        }
    }
    if (rc == 0) {
        struct sigaction action;
        memset (&action, 0, sizeof action);
        action.sa_handler = s_on_signal; //  no SA_RESTART: wake zmq_poll
        sigemptyset (&action.sa_mask);
        sigaction (SIGINT, &action, NULL);
        sigaction (SIGTERM, &action, NULL);
        action.sa_handler = SIG_IGN; //  a closed stdout is a write error
        sigaction (SIGPIPE, &action, NULL);
        rc = app.replay_path ? s_run_replay (&app) : s_run_live (&app);
    } else if (rc == 1)
        rc = 0; //  --help
    if (app.writer && record_writer_flush (app.writer)) {
        fprintf (stderr, "megle-tap: %s: write failed\n", app.record_path);
        rc = 1;
    }
    record_writer_destroy (&app.writer);
    curve_client_clear (&app.curve);
    stats_destroy (&app.acc);
    filter_destroy (&app.filter);
    return rc;
}
