//  floor_io - megle-floor's socket helpers: write buffers, host-order
//  integers, socket options (see floor.h).

#include "floor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
floor_buf_append (floor_buf_t *self, const void *data, size_t size)
{
    if (self->off > 0 && self->off == self->len)
        self->off = self->len = 0;
    if (self->len + size > self->cap) {
        if (self->off > 0) {
            //  Move what is left to the front before growing.
            memmove (self->data, self->data + self->off, self->len - self->off);
            self->len -= self->off;
            self->off = 0;
        }
        if (self->len + size > self->cap) {
            size_t cap = self->cap ? self->cap : 4096;
            while (cap < self->len + size)
                cap *= 2;
            char *p = realloc (self->data, cap);
            if (!p)
                return -1;
            self->data = p;
            self->cap = cap;
        }
    }
    memcpy (self->data + self->len, data, size);
    self->len += size;
    return 0;
}

int
floor_buf_flush (floor_buf_t *self, int fd)
{
    while (self->off < self->len) {
        ssize_t n = send (fd, self->data + self->off, self->len - self->off,
                          MSG_NOSIGNAL);
        if (n > 0)
            self->off += (size_t) n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        else
            return -1;
    }
    self->off = self->len = 0;
    return 0;
}

size_t
floor_buf_pending (const floor_buf_t *self)
{
    return self->len - self->off;
}

void
floor_buf_free (floor_buf_t *self)
{
    free (self->data);
    memset (self, 0, sizeof *self);
}

uint32_t
floor_get32 (const void *p)
{
    uint32_t v;
    memcpy (&v, p, sizeof v);
    return v;
}

uint64_t
floor_get64 (const void *p)
{
    uint64_t v;
    memcpy (&v, p, sizeof v);
    return v;
}

void
floor_put32 (void *p, uint32_t v)
{
    memcpy (p, &v, sizeof v);
}

void
floor_put64 (void *p, uint64_t v)
{
    memcpy (p, &v, sizeof v);
}

int
floor_socket_setup (int fd)
{
    int one = 1;
    int flags = fcntl (fd, F_GETFL);
    if (flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int
floor_conn_gateway (uint32_t conn, int gateways)
{
    uint32_t pair = conn / 2;
    return (int) ((pair + conn % 2) % (uint32_t) gateways);
}

uint64_t
floor_switches (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/task", (int) pid);
    DIR *dir = opendir (path);
    if (!dir)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir (dir))) {
        if (e->d_name[0] == '.')
            continue;
        char file[300];
        snprintf (file, sizeof file, "/proc/%d/task/%s/status", (int) pid,
                  e->d_name);
        FILE *f = fopen (file, "r");
        if (!f)
            continue;
        char line[128];
        while (fgets (line, sizeof line, f)) {
            unsigned long long n;
            if (sscanf (line, "voluntary_ctxt_switches: %llu", &n) == 1
                || sscanf (line, "nonvoluntary_ctxt_switches: %llu", &n) == 1)
                total += n;
        }
        fclose (f);
    }
    closedir (dir);
    return total;
}
