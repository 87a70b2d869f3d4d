//  procstat - the RSS and CPU time of other processes (the gateway, the
//  matcher, redis-server), read from /proc/PID/status and /proc/PID/stat,
//  and this process's own CPU time (getrusage).
#ifndef MEGLE_BENCH_PROCSTAT_H
#define MEGLE_BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

typedef struct {
    uint64_t rss_kb; //  VmRSS
    uint64_t cpu_us; //  utime + stime
    int ok;          //  1 if the process could be read
} procstat_t;

//  Sample process pid into *out. 0 on success, -1 if it cannot be read.
int procstat_read (pid_t pid, procstat_t *out);

//  This process's user + system CPU time in microseconds.
uint64_t procstat_self_cpu_us (void);

//  Microseconds from an arbitrary start (CLOCK_MONOTONIC).
uint64_t procstat_now_us (void);

#endif
