//  answer - turns the replies of the matcher's Lua scripts into frames for
//  the gateways: match_found for both sides of a new match, waiting,
//  partner_left, relayed signals, chat and typing, and the errors the
//  client is owed. Each function takes the publisher (borrowed), the
//  frame that asked (borrowed; NULL for the relax timer's own call), the
//  reply's status (its first element, "error" if Redis failed) and the
//  reply itself (borrowed; see each script's header for its layout).

#ifndef MEGLE_ANSWER_H
#define MEGLE_ANSWER_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "proto/frame.h"
#include "publisher.h"

//  Element `index` of an array reply as a string ("" if absent or not a
//  string). Valid while the reply is.
const char *answer_str (const redisReply *reply, size_t index);

//  Publish MATCHED to both sides of a new match: `sid` on `gw` (the
//  initiator) and `cand` on `cand_gw`, with the match's mode and the
//  shared interests ("\n"-joined).
void answer_matched (publisher_t *pub, const char *sid, const char *gw,
                     const char *cand, const char *cand_gw, const char *mid,
                     const char *mode, const char *shared);

//  find.lua's reply to FIND frame f.
void answer_find (publisher_t *pub, const frame_t *f, const char *status,
                  const redisReply *reply);

//  leave.lua's or close.lua's reply to LEAVE or CLOSE frame f.
void answer_leave (publisher_t *pub, const frame_t *f, const char *status,
                   const redisReply *reply);

//  gw_dead.lua's reply for gateway f->gateway (a BYE frame). Returns the
//  number of partners told, or -1 if the reply says the gateway is alive.
int answer_gw_dead (publisher_t *pub, const frame_t *f, const char *status,
                    const redisReply *reply);

//  route.lua's reply to SIGNAL, CHAT or TYPING frame f: relay it to the
//  partner (DELIVER, CHAT_OUT, TYPING_OUT) or answer the sender's error.
void answer_route (publisher_t *pub, const frame_t *f, const char *status,
                   const redisReply *reply);

//  Relay SIGNAL, CHAT or TYPING frame f to partner (on partner_gw) in
//  match mid: what route.lua's "ok" makes answer_route publish (the
//  route cache calls it directly).
void answer_relay (publisher_t *pub, const frame_t *f, const char *partner_gw,
                   const char *mid, const char *partner);

//  report.lua's reply to REPORT frame f: log it (and a ban it caused);
//  the reporter hears nothing unless the report was refused.
void answer_report (publisher_t *pub, const frame_t *f, const char *status,
                    const redisReply *reply);

//  relax.lua's reply: publish every match it made. Returns how many
//  sessions it moved (opened to a random stranger), and sets *more_p to
//  1 if due sessions may remain (call again at once), else 0.
size_t answer_relax (publisher_t *pub, const redisReply *reply, int *more_p);

#endif
