//  bench - megle-bench's shared state: options, counters, the clients.
//  main.c parses options and prints reports; run.c drives the scenarios
//  over wsc.h connections.
#ifndef MEGLE_BENCH_BENCH_H
#define MEGLE_BENCH_BENCH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hist.h"
#include "procstat.h"
#include "wsc.h"

#define BENCH_MAX_URLS   16
#define BENCH_MAX_PIDS   16
#define BENCH_ID_LEN     32
#define BENCH_ERROR_KIND 16

typedef enum {
    SCENARIO_CONNS,
    SCENARIO_MATCH,
    SCENARIO_RELAY,
    SCENARIO_MIXED
} scenario_t;

typedef struct {
    scenario_t scenario;
    long conns;      //  conns: how many connections
    double duration; //  match, relay, mixed: seconds measured
    double hold;     //  conns: seconds held open
    double ping;     //  conns: seconds between pings per connection
    long clients;    //  match: concurrent clients
    long pairs;      //  relay: matched pairs
    double rate;     //  match pairs/s, relay signals/s, mixed
                     //  arrivals/s; 0 = flat out (not for mixed)
    long window;     //  relay: signals in flight per client
    double talk;     //  mixed: mean talk time, seconds
    long signals;    //  mixed: signals per match (both sides)
    long max_conns;  //  mixed: cap on open connections
    long burst;      //  handshakes in flight at once
    long per_src;    //  connections per source address and gateway
    long procs;      //  conns: bench processes (0 = as many as the
                     //  open-file limit needs)
    long src_first;  //  first source address index (0 = 127.0.0.1)
    int sync_up;     //  worker of a --procs run: pipe to the parent
    int sync_down;   //  and from it; both -1 when not a worker
    uint64_t seed;
    bool json;
    bool quiet;
    int nurls;
    struct sockaddr_in dst[BENCH_MAX_URLS];
    char host[BENCH_MAX_URLS][64];
    char path[BENCH_MAX_URLS][128];
    int npids;
    char pid_name[BENCH_MAX_PIDS][32];
    pid_t pid[BENCH_MAX_PIDS];
} bench_opts_t;

typedef struct {
    uint64_t opened;  //  welcome received
    uint64_t failed;  //  connect/upgrade failed
    uint64_t dropped; //  closed by the server or the network after open
    uint64_t pings, pongs;
    uint64_t finds;     //  find_match sent
    uint64_t waiting;   //  waiting received
    uint64_t matched;   //  match_found received (both sides)
    uint64_t pairs;     //  match_found received by initiators
    uint64_t sent;      //  signals sent
    uint64_t delivered; //  signals received
    uint64_t lost, duplicated, misdelivered, reordered;
    uint64_t partner_left;
    uint64_t arrivals, departures, skips;
    uint64_t errors;
    uint64_t peak_conns;
    char error_code[BENCH_ERROR_KIND][24];
    uint64_t error_count[BENCH_ERROR_KIND];
} bench_counts_t;

typedef struct {
    procstat_t before[BENCH_MAX_PIDS];
    procstat_t after[BENCH_MAX_PIDS];
    uint64_t self_cpu_us;     //  bench CPU over the window (all processes)
    uint64_t self_cpu_max_us; //  the busiest bench process's share of it
    uint64_t wall_us;         //  the window
} bench_usage_t;

typedef struct {
    bench_opts_t opts;
    bench_counts_t n;
    bench_usage_t usage;
    hist_t *h_handshake;       //  connect to welcome
    hist_t *h_match;           //  find_match to match_found
    hist_t *h_relay;           //  signal send to receive
    double handshake_rate;     //  conns: handshakes/s
    uint64_t still_open;       //  conns: open at the end of the hold
    uint64_t delivered_window; //  relay, mixed: signals received in it
    double window_s;           //  the measured window in seconds
    int procs;                 //  bench processes that ran it
    double connect_s;          //  conns: the connect phase, seconds
    uint64_t hold_us;          //  conns: the hold phase, µs
    procstat_t hold_from[BENCH_MAX_PIDS]; //  conns: at the hold's start
    int ok;                               //  0: the scenario could not run
    char why[160];                        //  why not, when !ok
} bench_result_t;

//  Run the scenario of opts; fills *result. 0 if it ran, -1 if not (the
//  reason is in result->why). The conns scenario forks opts->procs worker
//  processes when one process cannot hold every socket (the open-file
//  limit); their counts and handshake times are merged into *result, and
//  RSS and CPU are sampled once every worker holds its connections.
int bench_run (const bench_opts_t *opts, bench_result_t *result);

#endif
