//  record - megle-tap's capture files: raw bus frames with their direction
//  and time, written by --record and read back by --replay.
//
//  File format (all integers big-endian):
//
//    header  8 bytes  magic "MEGLETAP"
//            4 bytes  format version, RECORD_VERSION (1)
//    record  1 byte   direction: RECORD_IN (1) or RECORD_OUT (2)
//            8 bytes  wall-clock microseconds since the Unix epoch
//            4 bytes  length n of the frame, at most RECORD_FRAME_MAX
//            n bytes  the frame, exactly as it crossed the bus
//    ...     records until the end of the file
//
//  The reader is the only code that reads these files; it checks every
//  length against RECORD_FRAME_MAX and against what the file holds, and
//  refuses a bad magic, an unknown version, a bad direction or a
//  truncated record with a reason, never reading out of bounds.

#ifndef MEGLE_RECORD_H
#define MEGLE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_MAGIC      "MEGLETAP"
#define RECORD_MAGIC_LEN  8
#define RECORD_VERSION    1
#define RECORD_HEADER_LEN 12
#define RECORD_FRAME_MAX  (16 * 1024 * 1024)

//  Directions, as stored (and as megle-tap's filters use them).
#define RECORD_IN  1 //  gateway -> matcher
#define RECORD_OUT 2 //  matcher -> gateway

typedef struct _record_writer_t record_writer_t;
typedef struct _record_reader_t record_reader_t;

//  Create (truncate) path and write the header. Returns NULL with the
//  reason in err on failure.
record_writer_t *record_writer_new (const char *path, char *err,
                                    size_t err_size);

//  Append one frame (bytes copied). Returns -1 (reason in err) if size >
//  RECORD_FRAME_MAX, dir is not RECORD_IN/RECORD_OUT, or the write failed.
int record_writer_put (record_writer_t *self, int dir, uint64_t time_us,
                       const void *data, size_t size, char *err,
                       size_t err_size);

//  Push buffered records to the file. Returns -1 on a write error.
int record_writer_flush (record_writer_t *self);

//  Flush and close. NULL-safe; nulls *self_p.
void record_writer_destroy (record_writer_t **self_p);

//  Open path and check its header. Returns NULL with the reason in err.
record_reader_t *record_reader_new (const char *path, char *err,
                                    size_t err_size);

//  Read the next record. Returns 1 and sets *dir, *time_us, *data_p (owned
//  by the reader, valid until the next call) and *size_p; 0 at a clean end
//  of file; -1 with the reason in err on a corrupt or truncated record.
int record_reader_next (record_reader_t *self, int *dir, uint64_t *time_us,
                        const uint8_t **data_p, size_t *size_p, char *err,
                        size_t err_size);

//  Close. NULL-safe; nulls *self_p.
void record_reader_destroy (record_reader_t **self_p);

#endif
