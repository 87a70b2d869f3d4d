//  record - megle-tap's capture files (see record.h for the format).

#include "record.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _record_writer_t {
    FILE *file;
};

struct _record_reader_t {
    FILE *file;
    uint8_t *buf; //  the last frame read
    size_t buf_size;
    uint64_t index; //  records read so far, for error messages
};

static void
s_put_be (uint8_t *out, uint64_t value, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, value >>= 8)
        out[i] = (uint8_t) (value & 0xff);
}

static uint64_t
s_get_be (const uint8_t *in, int bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++)
        value = (value << 8) | in[i];
    return value;
}

record_writer_t *
record_writer_new (const char *path, char *err, size_t err_size)
{
    assert (path);
    record_writer_t *self = (record_writer_t *) calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->file = fopen (path, "wb");
    if (!self->file) {
        snprintf (err, err_size, "%s: %s", path, strerror (errno));
        free (self);
        return NULL;
    }
    uint8_t header[RECORD_HEADER_LEN];
    memcpy (header, RECORD_MAGIC, RECORD_MAGIC_LEN);
    s_put_be (header + RECORD_MAGIC_LEN, RECORD_VERSION, 4);
    if (fwrite (header, 1, sizeof header, self->file) != sizeof header) {
        snprintf (err, err_size, "%s: %s", path, strerror (errno));
        record_writer_destroy (&self);
        return NULL;
    }
    return self;
}

int
record_writer_put (record_writer_t *self, int dir, uint64_t time_us,
                   const void *data, size_t size, char *err, size_t err_size)
{
    assert (self);
    if (dir != RECORD_IN && dir != RECORD_OUT) {
        snprintf (err, err_size, "bad direction %d", dir);
        return -1;
    }
    if (size > RECORD_FRAME_MAX) {
        snprintf (err, err_size, "frame of %zu bytes is over the %d-byte limit",
                  size, RECORD_FRAME_MAX);
        return -1;
    }
    uint8_t head[13];
    head[0] = (uint8_t) dir;
    s_put_be (head + 1, time_us, 8);
    s_put_be (head + 9, size, 4);
    if (fwrite (head, 1, sizeof head, self->file) != sizeof head
        || (size && fwrite (data, 1, size, self->file) != size)) {
        snprintf (err, err_size, "write failed: %s", strerror (errno));
        return -1;
    }
    return 0;
}

int
record_writer_flush (record_writer_t *self)
{
    assert (self);
    return fflush (self->file) == 0 ? 0 : -1;
}

void
record_writer_destroy (record_writer_t **self_p)
{
    assert (self_p);
    record_writer_t *self = *self_p;
    if (!self)
        return;
    if (self->file)
        fclose (self->file);
    free (self);
    *self_p = NULL;
}

record_reader_t *
record_reader_new (const char *path, char *err, size_t err_size)
{
    assert (path);
    record_reader_t *self = (record_reader_t *) calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->file = fopen (path, "rb");
    if (!self->file) {
        snprintf (err, err_size, "%s: %s", path, strerror (errno));
        free (self);
        return NULL;
    }
    uint8_t header[RECORD_HEADER_LEN];
    size_t got = fread (header, 1, sizeof header, self->file);
    if (got < RECORD_MAGIC_LEN
        || memcmp (header, RECORD_MAGIC, RECORD_MAGIC_LEN) != 0) {
        snprintf (err, err_size, "%s: not a megle-tap recording (bad magic)",
                  path);
        record_reader_destroy (&self);
        return NULL;
    }
    if (got < sizeof header) {
        snprintf (err, err_size, "%s: truncated header", path);
        record_reader_destroy (&self);
        return NULL;
    }
    uint64_t version = s_get_be (header + RECORD_MAGIC_LEN, 4);
    if (version != RECORD_VERSION) {
        snprintf (err, err_size,
                  "%s: recording format version %llu, this megle-tap reads %d",
                  path, (unsigned long long) version, RECORD_VERSION);
        record_reader_destroy (&self);
        return NULL;
    }
    return self;
}

int
record_reader_next (record_reader_t *self, int *dir, uint64_t *time_us,
                    const uint8_t **data_p, size_t *size_p, char *err,
                    size_t err_size)
{
    assert (self);
    uint8_t head[13];
    size_t got = fread (head, 1, sizeof head, self->file);
    if (got == 0 && feof (self->file))
        return 0;
    if (got < sizeof head) {
        snprintf (err, err_size, "record %llu: truncated header (%zu bytes)",
                  (unsigned long long) self->index + 1, got);
        return -1;
    }
    if (head[0] != RECORD_IN && head[0] != RECORD_OUT) {
        snprintf (err, err_size, "record %llu: bad direction byte 0x%02x",
                  (unsigned long long) self->index + 1, head[0]);
        return -1;
    }
    uint64_t size = s_get_be (head + 9, 4);
    if (size > RECORD_FRAME_MAX) {
        snprintf (err, err_size,
                  "record %llu: length %llu is over the %d-byte limit",
                  (unsigned long long) self->index + 1,
                  (unsigned long long) size, RECORD_FRAME_MAX);
        return -1;
    }
    //  Grow the buffer only to what the record claims, and only up to the
    //  limit checked above; the read then proves the bytes are there.
    if (size > self->buf_size) {
        uint8_t *buf = (uint8_t *) realloc (self->buf, size);
        if (!buf) {
            snprintf (err, err_size, "out of memory");
            return -1;
        }
        self->buf = buf;
        self->buf_size = size;
    }
    if (size && fread (self->buf, 1, size, self->file) != size) {
        snprintf (err, err_size,
                  "record %llu: truncated frame (%llu bytes announced)",
                  (unsigned long long) self->index + 1,
                  (unsigned long long) size);
        return -1;
    }
    self->index++;
    *dir = head[0];
    *time_us = s_get_be (head + 1, 8);
    *data_p = self->buf;
    *size_p = (size_t) size;
    return 1;
}

void
record_reader_destroy (record_reader_t **self_p)
{
    assert (self_p);
    record_reader_t *self = *self_p;
    if (!self)
        return;
    if (self->file)
        fclose (self->file);
    free (self->buf);
    free (self);
    *self_p = NULL;
}
