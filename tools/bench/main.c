//  megle-bench - the load generator of megle: real WebSocket clients
//  speaking the public protocol to one or more gateways, in one thread on
//  one epoll loop. Scenarios: conns (idle connections, RSS per
//  connection), match (find_match -> match_found -> leave loops), relay
//  (matched pairs exchanging signals) and mixed (Poisson arrivals that
//  match, talk and skip). Prints a table, or one JSON object (--json).

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "bench.h"

#define BENCH_SATURATED 0.9 //  a core's share at which the bench limits

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: megle-bench SCENARIO [options]\n"
        "\n"
        "scenarios:\n"
        "  conns N    open N idle WebSockets, hold them with pings; handshake\n"
        "             rate, how many stayed open, RSS per connection of the\n"
        "             --pid processes\n"
        "  match      --clients C loop find_match -> match_found -> leave;\n"
        "             pairs/s and time-to-match percentiles\n"
        "  relay      --pairs P matched pairs exchange signals (offer/answer\n"
        "             2-4 KB, candidates ~200 B) flat out or at --rate;\n"
        "             delivered/s, one-way latency, lost/duplicated/\n"
        "             misdelivered\n"
        "  mixed      Poisson arrivals at --rate/s: connect, match, ~20\n"
        "             signals, skip after a random talk time\n"
        "\n"
        "options:\n"
        "  --url URL[,URL...]     gateway WebSocket URLs, repeatable\n"
        "                         (default ws://127.0.0.1:8080/ws)\n"
        "  --pid NAME=PID[,...]   processes to report CPU and RSS of\n"
        "  --duration S           measured seconds (match, relay, mixed; 10)\n"
        "  --hold S               conns: seconds to hold (10)\n"
        "  --ping S               conns: ping period per connection (5)\n"
        "  --clients C            match: concurrent clients (1000)\n"
        "  --pairs P              relay: pairs (100)\n"
        "  --rate R               match: pairs/s, relay: signals/s, mixed:\n"
        "                         arrivals/s (required); 0 = flat out\n"
        "  --window W             relay: signals in flight per client (4)\n"
        "  --talk S               mixed: mean talk time (5)\n"
        "  --signals N            mixed: signals per match, both sides (20)\n"
        "  --max-conns N          mixed: cap on open connections (15000)\n"
        "  --burst N              handshakes in flight at once (256)\n"
        "  --per-src N            connections per gateway before moving to\n"
        "                         the next source address 127.0.0.2, ...\n"
        "                         (25000)\n"
        "  --procs N              conns: bench processes sharing the\n"
        "                         connections, each from its own source\n"
        "                         address (default: as many as the open-file\n"
        "                         limit needs); RSS and CPU are sampled once\n"
        "                         all of them hold theirs\n"
        "  --seed N               random seed\n"
        "  --json                 print one JSON object instead of a table\n"
        "  -q, --quiet            no progress or failure lines on stderr\n"
        "  -h, --help             this text\n"
        "\n"
        "Exit status: 0 ok; 1 the scenario failed or saw lost, duplicated\n"
        "or misdelivered signals or dropped connections; 2 bad arguments.\n");
}

static int
s_bad (const char *what, const char *value)
{
    fprintf (stderr, "megle-bench: bad %s '%s' (try --help)\n", what,
             value ? value : "");
    return 2;
}

static int
s_double (const char *s, double min, double max, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod (s, &end);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int
s_long (const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol (s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

//  ws://HOST:PORT/PATH with a numeric or resolvable IPv4 host.
static int
s_add_url (bench_opts_t *o, const char *url)
{
    if (o->nurls == BENCH_MAX_URLS || strncmp (url, "ws://", 5) != 0)
        return -1;
    const char *h = url + 5;
    const char *slash = strchr (h, '/');
    const char *path = slash ? slash : "/";
    size_t hl = slash ? (size_t) (slash - h) : strlen (h);
    char hostport[64];
    if (hl == 0 || hl >= sizeof hostport || strlen (path) >= 128)
        return -1;
    memcpy (hostport, h, hl);
    hostport[hl] = '\0';
    char host[64];
    long port = 80;
    char *colon = strrchr (hostport, ':');
    if (colon) {
        if (s_long (colon + 1, 1, 65535, &port))
            return -1;
        memcpy (host, hostport, (size_t) (colon - hostport));
        host[colon - hostport] = '\0';
    } else
        snprintf (host, sizeof host, "%s", hostport);
    struct addrinfo hints, *res = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo (host, NULL, &hints, &res) || !res)
        return -1;
    struct sockaddr_in *sin = &o->dst[o->nurls];
    memcpy (sin, res->ai_addr, sizeof *sin);
    freeaddrinfo (res);
    sin->sin_port = htons ((uint16_t) port);
    snprintf (o->host[o->nurls], sizeof o->host[0], "%s", hostport);
    snprintf (o->path[o->nurls], sizeof o->path[0], "%s", path);
    o->nurls++;
    return 0;
}

//  Split a comma list and call add for each item; 0 or -1.
static int
s_each (bench_opts_t *o, const char *list,
        int (*add) (bench_opts_t *, const char *))
{
    char buf[2048];
    if (strlen (list) >= sizeof buf)
        return -1;
    snprintf (buf, sizeof buf, "%s", list);
    char *save = NULL;
    int any = 0;
    for (char *t = strtok_r (buf, ",", &save); t;
         t = strtok_r (NULL, ",", &save)) {
        if (add (o, t))
            return -1;
        any = 1;
    }
    return any ? 0 : -1;
}

static int
s_add_pid (bench_opts_t *o, const char *item)
{
    const char *eq = strchr (item, '=');
    long pid;
    if (o->npids == BENCH_MAX_PIDS || !eq || eq == item
        || (size_t) (eq - item) >= sizeof o->pid_name[0]
        || s_long (eq + 1, 1, 1L << 30, &pid))
        return -1;
    memcpy (o->pid_name[o->npids], item, (size_t) (eq - item));
    o->pid_name[o->npids][eq - item] = '\0';
    o->pid[o->npids] = (pid_t) pid;
    o->npids++;
    return 0;
}

static int
s_parse (int argc, char **argv, bench_opts_t *o)
{
    memset (o, 0, sizeof *o);
    o->duration = 10;
    o->hold = 10;
    o->ping = 5;
    o->clients = 1000;
    o->pairs = 100;
    o->rate = -1;
    o->window = 4;
    o->talk = 5;
    o->signals = 20;
    o->max_conns = 15000;
    o->burst = 256;
    o->per_src = 25000;
    o->sync_up = o->sync_down = -1;
    if (argc < 2)
        return s_bad ("arguments", "(none)");
    int i = 1;
    const char *sc = argv[i++];
    if (strcmp (sc, "-h") == 0 || strcmp (sc, "--help") == 0)
        return -1;
    if (strcmp (sc, "conns") == 0) {
        o->scenario = SCENARIO_CONNS;
        if (i >= argc || s_long (argv[i], 1, 10000000, &o->conns))
            return s_bad ("connection count", i < argc ? argv[i] : NULL);
        i++;
    } else if (strcmp (sc, "match") == 0)
        o->scenario = SCENARIO_MATCH;
    else if (strcmp (sc, "relay") == 0)
        o->scenario = SCENARIO_RELAY;
    else if (strcmp (sc, "mixed") == 0)
        o->scenario = SCENARIO_MIXED;
    else
        return s_bad ("scenario", sc);
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0)
            return -1;
        else if (strcmp (a, "--json") == 0)
            o->json = true;
        else if (strcmp (a, "-q") == 0 || strcmp (a, "--quiet") == 0)
            o->quiet = true;
        else if (!v)
            return s_bad ("option (missing value or unknown)", a);
        else {
            i++;
            if (strcmp (a, "--url") == 0)
                rc = s_each (o, v, s_add_url);
            else if (strcmp (a, "--pid") == 0)
                rc = s_each (o, v, s_add_pid);
            else if (strcmp (a, "--duration") == 0)
                rc = s_double (v, 0.1, 86400, &o->duration);
            else if (strcmp (a, "--hold") == 0)
                rc = s_double (v, 0, 86400, &o->hold);
            else if (strcmp (a, "--ping") == 0)
                rc = s_double (v, 0.01, 3600, &o->ping);
            else if (strcmp (a, "--clients") == 0)
                rc = s_long (v, 2, 10000000, &o->clients);
            else if (strcmp (a, "--pairs") == 0)
                rc = s_long (v, 1, 5000000, &o->pairs);
            else if (strcmp (a, "--rate") == 0)
                rc = s_double (v, 0, 1e9, &o->rate);
            else if (strcmp (a, "--window") == 0)
                rc = s_long (v, 1, 1000000, &o->window);
            else if (strcmp (a, "--talk") == 0)
                rc = s_double (v, 0.001, 86400, &o->talk);
            else if (strcmp (a, "--signals") == 0)
                rc = s_long (v, 0, 1000000, &o->signals);
            else if (strcmp (a, "--max-conns") == 0)
                rc = s_long (v, 1, 10000000, &o->max_conns);
            else if (strcmp (a, "--burst") == 0)
                rc = s_long (v, 1, 1000000, &o->burst);
            else if (strcmp (a, "--per-src") == 0)
                rc = s_long (v, 1, 60000, &o->per_src);
            else if (strcmp (a, "--procs") == 0)
                rc = s_long (v, 1, 64, &o->procs);
            else if (strcmp (a, "--seed") == 0) {
                long seed;
                rc = s_long (v, 0, 0x7fffffffffffffffL, &seed);
                o->seed = (uint64_t) seed;
            } else
                return s_bad ("option", a);
            if (rc)
                return s_bad (a, v);
        }
    }
    if (o->nurls == 0 && s_add_url (o, "ws://127.0.0.1:8080/ws"))
        return s_bad ("url", "ws://127.0.0.1:8080/ws");
    if (o->scenario == SCENARIO_MIXED && o->rate <= 0)
        return s_bad ("--rate (mixed needs arrivals/s > 0)",
                      o->rate < 0 ? "(none)" : "0");
    if (o->rate < 0)
        o->rate = 0;
    if (o->scenario == SCENARIO_RELAY && o->rate > 0 && o->window < 64)
        o->window = 64; //  a paced sender must not be held by the window
    return 0;
}

// ---------------------------------------------------------------------
//  Reports

static const char *s_names[] = {"conns", "match", "relay", "mixed"};

static double
s_cpu_pct (const procstat_t *a, const procstat_t *b, uint64_t wall_us)
{
    if (!a->ok || !b->ok || wall_us == 0)
        return -1;
    return 100.0 * (double) (b->cpu_us - a->cpu_us) / (double) wall_us;
}

static double
s_rate (uint64_t count, const bench_result_t *r)
{
    return r->window_s > 0 ? (double) count / r->window_s : 0;
}

static void
s_json_hist (const char *name, const hist_t *h, bool comma)
{
    printf ("\"%s\":{\"count\":%" PRIu64 ",\"p50_us\":%" PRIu64
            ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64
            ",\"max_us\":%" PRIu64 ",\"mean_us\":%.1f}%s",
            name, hist_count (h), hist_quantile (h, 0.5),
            hist_quantile (h, 0.99), hist_quantile (h, 0.999), hist_max (h),
            hist_mean (h), comma ? "," : "");
}

//  The busiest bench process's share of a core: what saturates first.
static double
s_busiest_pct (const bench_result_t *r)
{
    const bench_usage_t *u = &r->usage;
    uint64_t us = r->procs > 1 ? u->self_cpu_max_us : u->self_cpu_us;
    return u->wall_us ? 100.0 * (double) us / (double) u->wall_us : 0;
}

static void
s_print_json (const bench_opts_t *o, const bench_result_t *r)
{
    const bench_counts_t *n = &r->n;
    const bench_usage_t *u = &r->usage;
    double self_pct =
        u->wall_us ? 100.0 * (double) u->self_cpu_us / (double) u->wall_us : 0;
    printf ("{\"scenario\":\"%s\",\"ok\":%s,\"why\":\"%s\",\"gateways\":%d,",
            s_names[o->scenario], r->ok ? "true" : "false", r->why, o->nurls);
    printf ("\"window_s\":%.3f,\"bench_cpu_pct\":%.1f,\"bench_procs\":%d,"
            "\"bench_saturated\":%s,",
            r->window_s, self_pct, r->procs,
            s_busiest_pct (r) >= BENCH_SATURATED * 100 ? "true" : "false");
    printf ("\"procs\":[");
    for (int i = 0; i < o->npids; i++)
        printf ("%s{\"name\":\"%s\",\"pid\":%d,\"cpu_pct\":%.1f,"
                "\"rss_kb_before\":%" PRIu64 ",\"rss_kb_after\":%" PRIu64 "}",
                i ? "," : "", o->pid_name[i], (int) o->pid[i],
                s_cpu_pct (&u->before[i], &u->after[i], u->wall_us),
                u->before[i].rss_kb, u->after[i].rss_kb);
    printf ("],\"errors\":{");
    for (int i = 0; i < BENCH_ERROR_KIND && n->error_code[i][0]; i++)
        printf ("%s\"%s\":%" PRIu64, i ? "," : "", n->error_code[i],
                n->error_count[i]);
    printf ("},\"opened\":%" PRIu64 ",\"failed\":%" PRIu64
            ",\"dropped\":%" PRIu64 ",",
            n->opened, n->failed, n->dropped);
    s_json_hist ("handshake", r->h_handshake, true);
    switch (o->scenario) {
    case SCENARIO_CONNS: {
        printf (
            "\"conns\":%ld,\"handshakes_per_s\":%.0f,\"still_open\":%" PRIu64
            ",\"pings\":%" PRIu64 ",\"pongs\":%" PRIu64 ",\"hold_s\":%.1f,"
            "\"rss_per_conn\":{",
            o->conns, r->handshake_rate, r->still_open, n->pings, n->pongs,
            o->hold);
        for (int i = 0; i < o->npids; i++) {
            double per = r->still_open ? ((double) u->after[i].rss_kb
                                          - (double) u->before[i].rss_kb)
                                             * 1024.0 / (double) r->still_open
                                       : 0;
            printf ("%s\"%s\":%.0f", i ? "," : "", o->pid_name[i], per);
        }
        printf ("},\"connect_s\":%.3f,\"hold_window_s\":%.3f,"
                "\"hold_cpu_pct\":{",
                r->connect_s, (double) r->hold_us / 1e6);
        for (int i = 0; i < o->npids; i++)
            printf ("%s\"%s\":%.1f", i ? "," : "", o->pid_name[i],
                    s_cpu_pct (&r->hold_from[i], &u->after[i], r->hold_us));
        printf ("}}\n");
        break;
    }
    case SCENARIO_MATCH:
        printf ("\"clients\":%ld,\"rate\":%.0f,\"pairs\":%" PRIu64
                ",\"pairs_per_s\":%.0f,\"finds\":%" PRIu64 ",",
                o->clients, o->rate, n->pairs, s_rate (n->pairs, r), n->finds);
        s_json_hist ("time_to_match", r->h_match, false);
        printf ("}\n");
        break;
    case SCENARIO_RELAY:
    case SCENARIO_MIXED:
        if (o->scenario == SCENARIO_RELAY)
            printf ("\"pairs\":%ld,\"rate\":%.0f,\"window\":%ld,", o->pairs,
                    o->rate, o->window);
        else
            printf ("\"arrivals_per_s\":%.1f,\"arrivals\":%" PRIu64
                    ",\"departures\":%" PRIu64 ",\"skips\":%" PRIu64
                    ",\"matches\":%" PRIu64 ",\"peak_conns\":%" PRIu64 ",",
                    o->rate, n->arrivals, n->departures, n->skips, n->pairs,
                    n->peak_conns);
        printf ("\"sent\":%" PRIu64 ",\"delivered\":%" PRIu64
                ",\"delivered_per_s\":%.0f,\"lost\":%" PRIu64
                ",\"duplicated\":%" PRIu64 ",\"misdelivered\":%" PRIu64
                ",\"reordered\":%" PRIu64 ",",
                n->sent, n->delivered, s_rate (r->delivered_window, r), n->lost,
                n->duplicated, n->misdelivered, n->reordered);
        s_json_hist ("time_to_match", r->h_match, true);
        s_json_hist ("relay_latency", r->h_relay, false);
        printf ("}\n");
        break;
    }
}

static void
s_table_hist (const char *name, const hist_t *h)
{
    printf ("  %-16s %10" PRIu64 " samples  p50 %8.3f ms  p99 %8.3f ms  "
            "p999 %8.3f ms  max %8.3f ms\n",
            name, hist_count (h), hist_quantile (h, 0.5) / 1e3,
            hist_quantile (h, 0.99) / 1e3, hist_quantile (h, 0.999) / 1e3,
            hist_max (h) / 1e3);
}

static void
s_print_table (const bench_opts_t *o, const bench_result_t *r)
{
    const bench_counts_t *n = &r->n;
    const bench_usage_t *u = &r->usage;
    double self_pct =
        u->wall_us ? 100.0 * (double) u->self_cpu_us / (double) u->wall_us : 0;
    printf ("megle-bench %s: %s%s%s, %d gateway(s), window %.2f s\n",
            s_names[o->scenario], r->ok ? "ran" : "FAILED", r->ok ? "" : ": ",
            r->why, o->nurls, r->window_s);
    printf ("  connections      opened %" PRIu64 ", failed %" PRIu64
            ", dropped %" PRIu64 "\n",
            n->opened, n->failed, n->dropped);
    s_table_hist ("handshake", r->h_handshake);
    switch (o->scenario) {
    case SCENARIO_CONNS:
        printf ("  handshakes/s     %.0f\n", r->handshake_rate);
        printf ("  held             %" PRIu64 " of %ld open after %.1f s; "
                "pings %" PRIu64 ", pongs %" PRIu64 "\n",
                r->still_open, o->conns, o->hold, n->pings, n->pongs);
        for (int i = 0; i < o->npids; i++) {
            double per = r->still_open ? ((double) u->after[i].rss_kb
                                          - (double) u->before[i].rss_kb)
                                             * 1024.0 / (double) r->still_open
                                       : 0;
            printf ("  rss %-12s %" PRIu64 " -> %" PRIu64
                    " KiB: %.0f bytes per connection\n",
                    o->pid_name[i], u->before[i].rss_kb, u->after[i].rss_kb,
                    per);
        }
        break;
    case SCENARIO_MATCH:
        printf ("  pairs            %" PRIu64 " (%.0f pairs/s; rate %s)\n",
                n->pairs, s_rate (n->pairs, r),
                o->rate > 0 ? "paced" : "flat out");
        s_table_hist ("time to match", r->h_match);
        break;
    case SCENARIO_RELAY:
    case SCENARIO_MIXED:
        if (o->scenario == SCENARIO_MIXED) {
            printf ("  arrivals         %" PRIu64
                    " (%.1f/s), departures %" PRIu64 ", skips %" PRIu64
                    ", matches %" PRIu64 ", peak %" PRIu64 " connections\n",
                    n->arrivals, o->rate, n->departures, n->skips, n->pairs,
                    n->peak_conns);
            s_table_hist ("time to match", r->h_match);
        }
        printf ("  signals          sent %" PRIu64 ", delivered %" PRIu64
                " (%.0f/s in the window)\n",
                n->sent, n->delivered, s_rate (r->delivered_window, r));
        printf ("  integrity        lost %" PRIu64 ", duplicated %" PRIu64
                ", misdelivered %" PRIu64 ", reordered %" PRIu64 "\n",
                n->lost, n->duplicated, n->misdelivered, n->reordered);
        s_table_hist ("one-way latency", r->h_relay);
        break;
    }
    for (int i = 0; i < BENCH_ERROR_KIND && n->error_code[i][0]; i++)
        printf ("  error %-16s %" PRIu64 "\n", n->error_code[i],
                n->error_count[i]);
    printf ("  cpu              megle-bench %.1f%% (%d process%s)%s", self_pct,
            r->procs, r->procs > 1 ? "es" : "",
            s_busiest_pct (r) >= BENCH_SATURATED * 100 ? " (SATURATED)" : "");
    for (int i = 0; i < o->npids; i++)
        printf (", %s %.1f%%", o->pid_name[i],
                s_cpu_pct (&u->before[i], &u->after[i], u->wall_us));
    printf ("\n");
}

int
main (int argc, char **argv)
{
    bench_opts_t opts;
    int rc = s_parse (argc, argv, &opts);
    if (rc < 0) {
        s_usage (stdout);
        return 0;
    }
    if (rc)
        return rc;
    bench_result_t result;
    int ran = bench_run (&opts, &result);
    if (opts.json)
        s_print_json (&opts, &result);
    else
        s_print_table (&opts, &result);
    fflush (stdout);
    const bench_counts_t *n = &result.n;
    int bad = ran != 0 || n->lost || n->duplicated || n->misdelivered
              || n->dropped
              || (opts.scenario == SCENARIO_CONNS
                  && result.still_open < (uint64_t) opts.conns);
    hist_destroy (&result.h_handshake);
    hist_destroy (&result.h_match);
    hist_destroy (&result.h_relay);
    return bad ? 1 : 0;
}
