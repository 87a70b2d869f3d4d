//  roster - the live WebSocket sessions of one gateway, by session id.
//
//  An open-addressing hash table (linear probing, backward-shift deletion,
//  so no tombstones) from a session's id to the session. The roster does
//  not own the sessions: it only indexes them. Keys are the sessions' own
//  id strings (session_id), which stay valid while a session lives, so
//  the roster copies nothing. It needs no libwebsockets, so it is unit
//  tested on its own (tests/test_roster.c).

#ifndef MEGLE_ROSTER_H
#define MEGLE_ROSTER_H

#include <stddef.h>

#include "session.h"

typedef struct _roster_t roster_t;

//  Create an empty roster sized for about capacity_hint sessions (it grows
//  past that as needed). Returns NULL if out of memory.
roster_t *roster_new (size_t capacity_hint);

//  Destroy the roster (not the sessions in it). NULL-safe; nulls *self_p.
void roster_destroy (roster_t **self_p);

//  Index a session under session_id (session). Returns 0, or -1 if a
//  session with the same id is already there or out of memory.
int roster_add (roster_t *self, session_t *session);

//  The session with this id (NUL-terminated, any bytes), or NULL.
session_t *roster_find (roster_t *self, const char *id);

//  Forget the session with this id. Returns 0, or -1 if there is none.
int roster_remove (roster_t *self, const char *id);

//  Number of sessions in the roster.
size_t roster_size (roster_t *self);

//  Call fn (session, arg) for every session, in no particular order. fn
//  must not add or remove sessions.
void roster_foreach (roster_t *self, void (*fn) (session_t *, void *),
                     void *arg);

//  Slots of the table (a bound on its size; it changes as it grows).
size_t roster_slots (roster_t *self);

//  Visit the next count slots of the table from *cursor (wrapping round),
//  calling fn (session, arg) for each session there, and move *cursor on:
//  calls with the same cursor sweep the whole table in slices of bounded
//  work (the gateway's keep-alive sweep). fn must not add or remove
//  sessions. When the table grows between calls, sessions move: one
//  round of the sweep may then miss a session or visit one twice.
void roster_sweep (roster_t *self, size_t *cursor, size_t count,
                   void (*fn) (session_t *, void *), void *arg);

#endif
