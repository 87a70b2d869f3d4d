//  redis_fixture - one private redis-server per Check test binary: started
//  on a unix socket in a temporary directory (no TCP port), killed and
//  removed at exit (atexit, and PR_SET_PDEATHSIG if the suite dies). Only
//  the process that started it stops it (Check forks per test).
//
//  Test-only: the state is file-static (Check's fixtures take no argument)
//  and the functions are defined here, so include it from ONE .c file of a
//  test binary.

#ifndef MEGLE_REDIS_FIXTURE_H
#define MEGLE_REDIS_FIXTURE_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <hiredis/hiredis.h>

static pid_t s_redis_pid = -1;
static pid_t s_owner_pid = -1; //  only this process stops redis
static char s_dir[64];
static char s_sock[128];

static void
s_redis_stop (void)
{
    if (getpid () != s_owner_pid || s_redis_pid <= 0)
        return;
    kill (s_redis_pid, SIGKILL);
    waitpid (s_redis_pid, NULL, 0);
    s_redis_pid = -1;
    unlink (s_sock);
    rmdir (s_dir);
}

static redisContext *
s_connect (void)
{
    redisContext *c = redisConnectUnix (s_sock);
    if (c && c->err) {
        redisFree (c);
        return NULL;
    }
    return c;
}

static uint64_t
s_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

//  Start redis-server (binary) with its socket in a new temporary
//  directory /tmp/megle-<name>-XXXXXX; wait (deadline 10 s) until it
//  answers PING. Returns 0 or -1.
static int
s_redis_start (const char *binary, const char *name)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/megle-%s-XXXXXX", name);
    if (!mkdtemp (s_dir))
        return -1;
    snprintf (s_sock, sizeof s_sock, "%s/redis.sock", s_dir);
    s_owner_pid = getpid ();
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);       //  never outlive the suite
        if (!freopen ("/dev/null", "w", stdout)) //  its banner is noise
            _exit (127);
        execlp (binary, binary, "--port", "0", "--bind", "127.0.0.1",
                "--unixsocket", s_sock, "--save", "", "--appendonly", "no",
                "--dir", s_dir, "--loglevel", "warning", (char *) NULL);
        _exit (127);
    }
    s_redis_pid = pid;
    atexit (s_redis_stop);
    uint64_t deadline = s_mono_ms () + 10000;
    while (s_mono_ms () < deadline) {
        redisContext *c = s_connect ();
        if (c) {
            redisReply *r = (redisReply *) redisCommand (c, "PING");
            int ok =
                r && r->type == REDIS_REPLY_STATUS && !strcmp (r->str, "PONG");
            freeReplyObject (r);
            redisFree (c);
            if (ok)
                return 0;
        }
        if (waitpid (pid, NULL, WNOHANG) == pid) {
            s_redis_pid = -1;
            return -1; //  it died
        }
        //  Polling interval while waiting for the condition, not a sync.
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep (&pause, NULL);
    }
    return -1;
}

#endif
