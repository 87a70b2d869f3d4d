//  clock - the two clocks megle reads: wall time for frames and logs,
//  monotonic time for deadlines and latencies.

#ifndef MEGLE_CLOCK_H
#define MEGLE_CLOCK_H

#include <stdint.h>

//  Milliseconds since the Unix epoch (CLOCK_REALTIME).
uint64_t clock_wall_ms (void);

//  Milliseconds from an arbitrary start (CLOCK_MONOTONIC).
uint64_t clock_mono_ms (void);

//  Microseconds from an arbitrary start (CLOCK_MONOTONIC).
uint64_t clock_mono_us (void);

#endif
