//  filter - which frames megle-tap shows: the --type, --session,
//  --gateway and --direction options, parsed and matched.
//
//  Each option takes a comma-separated list; a frame is shown if it
//  passes every option given (an option not given passes everything).
//  --type takes kind names (frame_kind_name) and "corrupt"; --session
//  takes session ids or prefixes of them (1..32 lower-case hex digits, so
//  that the 8-digit short ids megle-tap prints work) and matches the
//  frame's session or its peer; --gateway takes gateway ids (or "*") and
//  matches exactly; --direction takes "in" or "out". A corrupt frame has
//  no kind, session or gateway: it passes --direction, passes --type only
//  if the list names "corrupt", and never passes --session or --gateway.

#ifndef MEGLE_FILTER_H
#define MEGLE_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/frame.h"

#define FILTER_LIST_MAX 16 //  entries per option

typedef struct _filter_t filter_t;

//  A filter that passes everything. Returns NULL if out of memory.
filter_t *filter_new (void);

//  Destroy. NULL-safe; nulls *self_p.
void filter_destroy (filter_t **self_p);

//  Set an option from its command-line value. Return 0, or -1 with the
//  reason (naming the bad value) in err, leaving the filter unchanged.
int filter_set_types (filter_t *self, const char *list, char *err,
                      size_t err_size);
int filter_set_sessions (filter_t *self, const char *list, char *err,
                         size_t err_size);
int filter_set_gateways (filter_t *self, const char *list, char *err,
                         size_t err_size);
int filter_set_direction (filter_t *self, const char *value, char *err,
                          size_t err_size);

//  The only direction to look at (RECORD_IN or RECORD_OUT), or 0 = both.
int filter_direction (const filter_t *self);

//  Does a frame travelling in dir (RECORD_IN/RECORD_OUT) pass? frame is
//  NULL for a frame that did not decode.
bool filter_match (const filter_t *self, int dir, const frame_t *frame);

#endif
