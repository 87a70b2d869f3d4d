//  floor - megle-floor's shared definitions. megle-floor forks the process
//  topology of megle's relay path with none of megle's logic in it: a
//  client process (N TCP connections on one epoll loop) -> G "gateway"
//  processes (read a length-prefixed message, prefix the destination
//  connection, ZeroMQ PUSH) -> one "matcher" process (PULL, then PUB with
//  the destination gateway's topic, two parts like megle's bus) -> the
//  destination gateway's SUB -> write to the destination connection ->
//  the client measures the one-way latency. What it costs is the floor
//  megle's relay figures are measured against: 3 processes on loopback
//  and 2 ZeroMQ hops, no WebSocket, JSON, msgpack or Redis.
//
//  Wire format between the client and a gateway (host byte order: every
//  process runs on this machine):
//    hello    u32 len = 4, u32 conn               (first on a connection;
//                                                  the gateway answers one
//                                                  byte 'A')
//    message  u32 len, u32 dst, u32 src, u64 seq, u64 ts, payload
//             (len counts every byte after itself)
//  Gateway -> matcher (PUSH, one part): u32 dst, then the message as the
//  client sent it. Matcher -> gateways (PUB, two parts): "gw-<k>\0", the
//  same bytes. dst FLOOR_HELLO carries a gateway's start-up probe instead.
#ifndef MEGLE_BENCH_FLOOR_H
#define MEGLE_BENCH_FLOOR_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include "hist.h"
#include "procstat.h"

#define FLOOR_MAX_GW   16
#define FLOOR_HEADER   28 //  len, dst, src, seq, ts
#define FLOOR_HELLO    0xffffffffu
#define FLOOR_MAX_MSG  65536  //  largest len accepted
#define FLOOR_HWM      100000 //  megle's MEGLE_BUS_HWM default
#define FLOOR_ENDPOINT 128

typedef struct {
    int gateways;    //  gateway processes (3)
    long pairs;      //  connection pairs (500)
    double rate;     //  messages/s; 0 = flat out
    long window;     //  messages in flight per connection
    double duration; //  measured seconds
    long count;      //  stop after this many messages sent (0: no bound)
    bool json;
    bool quiet;
} floor_opts_t;

//  Processes measured: the gateways, then the matcher.
#define FLOOR_MAX_PROCS (FLOOR_MAX_GW + 1)

typedef struct {
    int ok; //  0: could not run (why says why)
    char why[160];
    uint64_t sent, delivered, delivered_window;
    uint64_t lost, duplicated, misdelivered, reordered;
    hist_t *latency; //  one-way, µs; owned by the caller
    double window_s;
    uint64_t client_cpu_us; //  over the window
    int nprocs;
    char name[FLOOR_MAX_PROCS][16];
    pid_t pid[FLOOR_MAX_PROCS];
    procstat_t before[FLOOR_MAX_PROCS];
    procstat_t after[FLOOR_MAX_PROCS];
    //  Context switches (voluntary + involuntary, every thread) over the
    //  window: the wake-ups the path costs. The client's own in client_cs.
    uint64_t cs_before[FLOOR_MAX_PROCS], cs_after[FLOOR_MAX_PROCS];
    uint64_t client_cs;
} floor_result_t;

//  Bytes queued for a socket (the client's and the gateways' write
//  side): appended to, written out from off.
typedef struct {
    char *data;
    size_t len, off, cap;
} floor_buf_t;

//  Append size bytes. 0, or -1 when out of memory.
int floor_buf_append (floor_buf_t *self, const void *data, size_t size);

//  Write what is queued to fd until it is empty or the socket is full.
//  0 (check self->len for what is left), -1 on a socket error.
int floor_buf_flush (floor_buf_t *self, int fd);

//  Bytes not yet written.
size_t floor_buf_pending (const floor_buf_t *self);

//  Free the buffer (the struct itself is the caller's).
void floor_buf_free (floor_buf_t *self);

//  u32 / u64 in host order at p (unaligned).
uint32_t floor_get32 (const void *p);
uint64_t floor_get64 (const void *p);
void floor_put32 (void *p, uint32_t v);
void floor_put64 (void *p, uint64_t v);

//  Make fd non-blocking with TCP_NODELAY (small messages leave at once,
//  as megle's listener and megle-bench set). 0 or -1.
int floor_socket_setup (int fd);

//  Context switches of every thread of process pid so far (from
//  /proc/PID/task/*/status), 0 if it cannot be read.
uint64_t floor_switches (pid_t pid);

//  Set by SIGINT/SIGTERM in every megle-floor process: stop and exit.
extern volatile sig_atomic_t floor_interrupted;

//  The gateway (0-based) that holds connection conn: pair p's two
//  connections 2p and 2p+1 sit on gateways p % G and (p + 1) % G, so
//  with G > 1 every message crosses gateways, as in megle-bench relay.
int floor_conn_gateway (uint32_t conn, int gateways);

//  Child process: the matcher. Binds PULL and PUB on 127.0.0.1 ephemeral
//  ports, writes "<pull endpoint>\n<pub endpoint>\n" to ready_fd, then
//  relays until interrupted. Returns the exit status.
int floor_matcher_run (const floor_opts_t *opts, int ready_fd);

//  Child process: gateway index (0-based). Accepts on listen_fd (already
//  bound and listening), PUSHes to pull_ep, SUBscribes on pub_ep; writes
//  'R' to ready_fd once a probe went round the matcher, then relays until
//  interrupted. Returns the exit status.
int floor_gateway_run (const floor_opts_t *opts, int index, int listen_fd,
                       const char *pull_ep, const char *pub_ep, int ready_fd);

//  The client, in the calling process: connects 2 * pairs connections to
//  the gateways at addr[0..gateways-1], sends for the window, drains,
//  and fills *result (its procs must be set; they are sampled around the
//  window). 0 if it ran, -1 if not (result->why).
int floor_client_run (const floor_opts_t *opts, const struct sockaddr_in *addr,
                      floor_result_t *result);

#endif
