//  megle-floor - the transport floor of megle's relay path: the same
//  process topology (client -> G gateways -> matcher -> gateways ->
//  client, loopback TCP and two ZeroMQ hops) with none of megle's logic,
//  measured like megle-bench relay (delivered/s, one-way latency, loss,
//  each process's CPU). See floor.h for the topology and the wire format.
//  This file: options, the child processes' lives, the report.

#include "floor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLOOR_START_MS 15000 //  for the children to be ready
#define FLOOR_STOP_MS  3000  //  for them to exit after SIGTERM

volatile sig_atomic_t floor_interrupted = 0;

static void
s_on_signal (int sig)
{
    (void) sig;
    floor_interrupted = 1;
}

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: megle-floor [options]\n"
        "\n"
        "Forks the process topology of megle's relay path with no megle\n"
        "logic in it: this client (2 x pairs TCP connections, one epoll\n"
        "loop) -> G gateway processes (length-prefixed messages, ZeroMQ PUSH\n"
        "with the destination connection prefixed) -> one matcher process\n"
        "(PULL, PUB to the destination gateway's topic, two parts) -> the\n"
        "destination gateway's SUB -> TCP -> this client, which measures\n"
        "one-way latency, loss and each process's CPU. Everything on\n"
        "127.0.0.1, ephemeral ports. Messages: 1 in 10 of 2-4 KB, the rest\n"
        "200 B, as megle-bench relay. What megle-bench relay measures over\n"
        "megle, this measures over nothing: the floor.\n"
        "\n"
        "options:\n"
        "  --gateways G    gateway processes, 1-%d (3); with G > 1 the two\n"
        "                  connections of a pair are on different gateways\n"
        "  --pairs P       connection pairs (500)\n"
        "  --rate R        messages/s over all connections, paced (10000);\n"
        "                  0 = flat out\n"
        "  --flat          flat out (same as --rate 0)\n"
        "  --window W      messages in flight per connection (flat out: 4;\n"
        "                  paced: at least 64, as megle-bench relay)\n"
        "  --duration S    measured seconds (10)\n"
        "  --count N       stop sending after N messages (0: no bound)\n"
        "  --json          print one JSON object instead of the table\n"
        "  -q, --quiet     no progress on stderr\n"
        "  -h, --help      this help\n"
        "\n"
        "Exit status: 0 if it ran and lost, duplicated and misdelivered\n"
        "nothing; 1 otherwise; 2 on bad options.\n",
        FLOOR_MAX_GW);
}

static int
s_number (const char *text, double low, double high, double *out)
{
    char *end;
    errno = 0;
    double v = strtod (text, &end);
    if (errno || end == text || *end || v < low || v > high)
        return -1;
    *out = v;
    return 0;
}

//  0, 1 (--help printed) or 2 (bad option, said on stderr).
static int
s_parse (int argc, char **argv, floor_opts_t *o)
{
    *o = (floor_opts_t){.gateways = 3,
                        .pairs = 500,
                        .rate = 10000,
                        .window = 0,
                        .duration = 10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp (a, "-h") || !strcmp (a, "--help")) {
            s_usage (stdout);
            return 1;
        }
        if (!strcmp (a, "--json")) {
            o->json = true;
            continue;
        }
        if (!strcmp (a, "-q") || !strcmp (a, "--quiet")) {
            o->quiet = true;
            continue;
        }
        if (!strcmp (a, "--flat")) {
            o->rate = 0;
            continue;
        }
        double v;
        const char *val = i + 1 < argc ? argv[i + 1] : "";
        int bad = 0;
        if (!strcmp (a, "--gateways"))
            bad = s_number (val, 1, FLOOR_MAX_GW, &v)
                  || (o->gateways = (int) v, 0);
        else if (!strcmp (a, "--pairs"))
            bad = s_number (val, 1, 1000000, &v) || (o->pairs = (long) v, 0);
        else if (!strcmp (a, "--rate"))
            bad = s_number (val, 0, 1e8, &v) || (o->rate = v, 0);
        else if (!strcmp (a, "--window"))
            bad = s_number (val, 1, 1000000, &v) || (o->window = (long) v, 0);
        else if (!strcmp (a, "--duration"))
            bad = s_number (val, 0.1, 86400, &v) || (o->duration = v, 0);
        else if (!strcmp (a, "--count"))
            bad = s_number (val, 0, 1e15, &v) || (o->count = (long) v, 0);
        else {
            fprintf (stderr, "megle-floor: unknown option '%s' (try --help)\n",
                     a);
            return 2;
        }
        if (bad) {
            fprintf (stderr, "megle-floor: bad value '%s' for %s\n", val, a);
            return 2;
        }
        i++;
    }
    if (o->window == 0)
        o->window = 4;
    if (o->rate > 0 && o->window < 64)
        o->window = 64; //  a paced sender must not be held by the window
    return 0;
}

// ---------------------------------------------------------------------
//  Children

typedef struct {
    int n;
    pid_t pid[FLOOR_MAX_PROCS];
} s_children_t;

//  In a new child: die with the parent, keep only the descriptors it
//  needs is the caller's job.
static void
s_child_setup (pid_t parent)
{
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    if (getppid () != parent)
        _exit (1);
}

static void
s_children_stop (s_children_t *self)
{
    for (int i = 0; i < self->n; i++)
        if (self->pid[i] > 0)
            kill (self->pid[i], SIGTERM);
    uint64_t deadline = procstat_now_us () + FLOOR_STOP_MS * 1000ULL;
    for (int i = 0; i < self->n; i++) {
        while (self->pid[i] > 0) {
            pid_t p = waitpid (self->pid[i], NULL, WNOHANG);
            if (p == self->pid[i] || (p < 0 && errno != EINTR))
                self->pid[i] = 0;
            else if (procstat_now_us () >= deadline) {
                kill (self->pid[i], SIGKILL);
                waitpid (self->pid[i], NULL, 0);
                self->pid[i] = 0;
            } else
                poll (NULL, 0, 10);
        }
    }
}

//  Read from fd until want bytes came, or the text holds lines newlines.
//  Returns the bytes read, -1 on timeout, EOF or error.
static ssize_t
s_read_ready (int fd, char *buf, size_t size, int lines, uint64_t deadline)
{
    size_t len = 0;
    for (;;) {
        int seen = 0;
        for (size_t i = 0; i < len; i++)
            seen += buf[i] == '\n';
        if ((lines == 0 && len > 0) || (lines > 0 && seen >= lines))
            return (ssize_t) len;
        uint64_t now = procstat_now_us ();
        if (now >= deadline || len + 1 >= size || floor_interrupted)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll (&p, 1, (int) ((deadline - now) / 1000) + 1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t n = read (fd, buf + len, size - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t) n;
        buf[len] = '\0';
    }
}

static int
s_listen (struct sockaddr_in *addr)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof *addr;
    memset (addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (fd < 0 || bind (fd, (struct sockaddr *) addr, sizeof *addr)
        || listen (fd, 4096)
        || getsockname (fd, (struct sockaddr *) addr, &len)) {
        if (fd >= 0)
            close (fd);
        return -1;
    }
    return fd;
}

//  Fork the matcher and the gateways; fills addr and the result's procs.
//  0 when every child is ready, -1 (why in result) if not.
static int
s_start (const floor_opts_t *o, s_children_t *kids, struct sockaddr_in *addr,
         floor_result_t *r)
{
    pid_t parent = getpid ();
    uint64_t deadline = procstat_now_us () + FLOOR_START_MS * 1000ULL;
    int fds[2];
    fflush (NULL);
    if (pipe (fds)) {
        snprintf (r->why, sizeof r->why, "pipe: %s", strerror (errno));
        return -1;
    }
    pid_t pid = fork ();
    if (pid == 0) {
        s_child_setup (parent);
        close (fds[0]);
        _exit (floor_matcher_run (o, fds[1]));
    }
    close (fds[1]);
    if (pid < 0) {
        close (fds[0]);
        snprintf (r->why, sizeof r->why, "fork: %s", strerror (errno));
        return -1;
    }
    int m = o->gateways; //  the matcher's slot: after the gateways
    kids->pid[kids->n++] = pid;
    r->pid[m] = pid;
    snprintf (r->name[m], sizeof r->name[m], "matcher");
    char eps[2 * FLOOR_ENDPOINT + 8];
    ssize_t got = s_read_ready (fds[0], eps, sizeof eps, 2, deadline);
    close (fds[0]);
    char *pub_ep = got > 0 ? strchr (eps, '\n') : NULL;
    if (!pub_ep) {
        snprintf (r->why, sizeof r->why, "the matcher did not start");
        return -1;
    }
    *pub_ep++ = '\0';
    pub_ep[strcspn (pub_ep, "\n")] = '\0';

    int lfd[FLOOR_MAX_GW], ready[FLOOR_MAX_GW];
    for (int i = 0; i < o->gateways; i++)
        lfd[i] = ready[i] = -1;
    int rc = -1;
    for (int i = 0; i < o->gateways; i++) {
        if ((lfd[i] = s_listen (&addr[i])) < 0) {
            snprintf (r->why, sizeof r->why, "listen: %s", strerror (errno));
            goto done;
        }
    }
    for (int i = 0; i < o->gateways; i++) {
        if (pipe (fds)) {
            snprintf (r->why, sizeof r->why, "pipe: %s", strerror (errno));
            goto done;
        }
        pid = fork ();
        if (pid == 0) {
            s_child_setup (parent);
            close (fds[0]);
            for (int j = 0; j < o->gateways; j++) {
                if (j != i)
                    close (lfd[j]);
                if (ready[j] >= 0)
                    close (ready[j]);
            }
            _exit (floor_gateway_run (o, i, lfd[i], eps, pub_ep, fds[1]));
        }
        close (fds[1]);
        ready[i] = fds[0];
        if (pid < 0) {
            snprintf (r->why, sizeof r->why, "fork: %s", strerror (errno));
            goto done;
        }
        kids->pid[kids->n++] = pid;
        r->pid[i] = pid;
        snprintf (r->name[i], sizeof r->name[i], "gateway%d", i + 1);
    }
    r->nprocs = o->gateways + 1;
    for (int i = 0; i < o->gateways; i++) {
        char c[4];
        if (s_read_ready (ready[i], c, sizeof c, 0, deadline) != 1
            || c[0] != 'R') {
            snprintf (r->why, sizeof r->why, "gateway%d did not start", i + 1);
            goto done;
        }
    }
    rc = 0;
done:
    for (int i = 0; i < o->gateways; i++) {
        if (lfd[i] >= 0)
            close (lfd[i]); //  the gateway holds its own copy
        if (ready[i] >= 0)
            close (ready[i]);
    }
    return rc;
}

// ---------------------------------------------------------------------
//  Report

static double
s_cpu_us (const floor_result_t *r, int i)
{
    if (!r->before[i].ok || !r->after[i].ok)
        return -1;
    return (double) (r->after[i].cpu_us - r->before[i].cpu_us);
}

static double
s_pct (double us, const floor_result_t *r)
{
    return us < 0 || r->window_s <= 0 ? -1 : us / (r->window_s * 1e4);
}

static double
s_per_msg (double us, const floor_result_t *r)
{
    return us < 0 || !r->delivered_window ? -1
                                          : us / (double) r->delivered_window;
}

//  Process i's context switches over the window.
static double
s_switches (const floor_result_t *r, int i)
{
    return (double) (r->cs_after[i] - r->cs_before[i]);
}

//  CPU (us) and context switches over the window of every process, the
//  client included; a process whose CPU could not be read counts 0.
static void
s_totals (const floor_result_t *r, double *cpu_us, double *switches)
{
    *cpu_us = (double) r->client_cpu_us;
    *switches = (double) r->client_cs;
    for (int i = 0; i < r->nprocs; i++) {
        double us = s_cpu_us (r, i);
        if (us > 0)
            *cpu_us += us;
        *switches += s_switches (r, i);
    }
}

static void
s_print_json (const floor_opts_t *o, const floor_result_t *r)
{
    const hist_t *h = r->latency;
    double rate = r->window_s > 0 ? r->delivered_window / r->window_s : 0;
    double total, cs;
    s_totals (r, &total, &cs);
    printf ("{\"scenario\":\"floor\",\"ok\":%s,\"why\":\"%s\","
            "\"gateways\":%d,\"pairs\":%ld,\"rate\":%.0f,\"window\":%ld,"
            "\"window_s\":%.3f,\"sent\":%" PRIu64 ",\"delivered\":%" PRIu64
            ",\"delivered_per_s\":%.0f,\"lost\":%" PRIu64
            ",\"duplicated\":%" PRIu64 ",\"misdelivered\":%" PRIu64
            ",\"reordered\":%" PRIu64 ",",
            r->ok ? "true" : "false", r->why, o->gateways, o->pairs, o->rate,
            o->window, r->window_s, r->sent, r->delivered, rate, r->lost,
            r->duplicated, r->misdelivered, r->reordered);
    printf ("\"relay_latency\":{\"count\":%" PRIu64 ",\"p50_us\":%" PRIu64
            ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64
            ",\"max_us\":%" PRIu64 ",\"mean_us\":%.1f},",
            hist_count (h), hist_quantile (h, 0.5), hist_quantile (h, 0.99),
            hist_quantile (h, 0.999), hist_max (h), hist_mean (h));
    printf ("\"client_cpu_pct\":%.1f,\"client_cpu_us_per_msg\":%.2f,"
            "\"client_switches_per_msg\":%.2f,\"procs\":[",
            s_pct ((double) r->client_cpu_us, r),
            s_per_msg ((double) r->client_cpu_us, r),
            s_per_msg ((double) r->client_cs, r));
    for (int i = 0; i < r->nprocs; i++) {
        double us = s_cpu_us (r, i);
        double sw = s_switches (r, i);
        printf ("%s{\"name\":\"%s\",\"pid\":%d,\"cpu_pct\":%.1f,"
                "\"cpu_us_per_msg\":%.2f,\"switches_per_msg\":%.2f}",
                i ? "," : "", r->name[i], (int) r->pid[i], s_pct (us, r),
                s_per_msg (us, r), s_per_msg (sw, r));
    }
    printf ("],\"cpu_pct\":%.1f,\"cpu_us_per_msg\":%.2f,"
            "\"switches_per_msg\":%.2f}\n",
            s_pct (total, r), s_per_msg (total, r), s_per_msg (cs, r));
}

static void
s_print_table (const floor_opts_t *o, const floor_result_t *r)
{
    const hist_t *h = r->latency;
    printf ("megle-floor: %s%s%s, %d gateway(s), %ld pairs, ",
            r->ok ? "ok" : "FAILED", r->ok ? "" : ": ", r->why, o->gateways,
            o->pairs);
    if (o->rate > 0)
        printf ("paced at %.0f msgs/s", o->rate);
    else
        printf ("flat out");
    printf (", window %ld, %.2f s\n", o->window, r->window_s);
    printf ("  messages   sent %" PRIu64 ", delivered %" PRIu64
            " (%.0f/s in the window)\n",
            r->sent, r->delivered,
            r->window_s > 0 ? r->delivered_window / r->window_s : 0);
    printf ("  integrity  lost %" PRIu64 ", duplicated %" PRIu64
            ", misdelivered %" PRIu64 ", reordered %" PRIu64 "\n",
            r->lost, r->duplicated, r->misdelivered, r->reordered);
    printf ("  latency    %" PRIu64 " samples  p50 %.3f ms  p99 %.3f ms  "
            "p999 %.3f ms  max %.3f ms\n",
            hist_count (h), hist_quantile (h, 0.5) / 1e3,
            hist_quantile (h, 0.99) / 1e3, hist_quantile (h, 0.999) / 1e3,
            hist_max (h) / 1e3);
    printf ("  CPU        %-10s %6.1f %%  %7.2f us/msg  %6.2f switches/msg\n",
            "client", s_pct ((double) r->client_cpu_us, r),
            s_per_msg ((double) r->client_cpu_us, r),
            s_per_msg ((double) r->client_cs, r));
    double total, cs;
    s_totals (r, &total, &cs);
    for (int i = 0; i < r->nprocs; i++) {
        double us = s_cpu_us (r, i);
        double sw = s_switches (r, i);
        printf ("             %-10s %6.1f %%  %7.2f us/msg  %6.2f "
                "switches/msg\n",
                r->name[i], s_pct (us, r), s_per_msg (us, r),
                s_per_msg (sw, r));
    }
    printf ("             %-10s %6.1f %%  %7.2f us/msg  %6.2f switches/msg\n",
            "all", s_pct (total, r), s_per_msg (total, r), s_per_msg (cs, r));
}

int
main (int argc, char **argv)
{
    floor_opts_t o;
    int rc = s_parse (argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);

    floor_result_t r = {0};
    r.latency = hist_new ();
    s_children_t kids = {0};
    struct sockaddr_in addr[FLOOR_MAX_GW];
    if (!r.latency)
        snprintf (r.why, sizeof r.why, "out of memory");
    else if (s_start (&o, &kids, addr, &r) == 0) {
        if (!o.quiet)
            fprintf (stderr,
                     "megle-floor: %d gateway(s) and the matcher are "
                     "up; measuring\n",
                     o.gateways);
        floor_client_run (&o, addr, &r);
    }
    s_children_stop (&kids);
    if (o.json)
        s_print_json (&o, &r);
    else
        s_print_table (&o, &r);
    rc = r.ok && !r.lost && !r.duplicated && !r.misdelivered ? 0 : 1;
    hist_destroy (&r.latency);
    return rc;
}
