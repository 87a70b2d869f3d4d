//  procstat - /proc readers and clocks for megle-bench (see procstat.h).

#include "procstat.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int
procstat_read (pid_t pid, procstat_t *out)
{
    memset (out, 0, sizeof *out);
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    char line[256];
    while (fgets (line, sizeof line, f)) {
        unsigned long long kb;
        if (sscanf (line, "VmRSS: %llu kB", &kb) == 1) {
            out->rss_kb = kb;
            break;
        }
    }
    fclose (f);

    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    f = fopen (path, "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = '\0';
    //  The command name (field 2) may hold spaces: fields count from the
    //  last ')'. utime and stime are fields 14 and 15.
    char *p = strrchr (buf, ')');
    if (!p)
        return -1;
    unsigned long long utime = 0, stime = 0;
    if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                &utime, &stime)
        != 2)
        return -1;
    long hz = sysconf (_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    out->cpu_us = (utime + stime) * 1000000ULL / (unsigned long long) hz;
    out->ok = 1;
    return 0;
}

uint64_t
procstat_self_cpu_us (void)
{
    struct rusage ru;
    if (getrusage (RUSAGE_SELF, &ru))
        return 0;
    return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ULL
           + (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

uint64_t
procstat_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}
