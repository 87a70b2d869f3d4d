//  answer - script replies to frames (see answer.h).

#include "answer.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "reply.h"

const char *
answer_str (const redisReply *reply, size_t index)
{
    return reply_str (reply, index);
}

void
answer_matched (publisher_t *pub, const char *sid, const char *gw,
                const char *cand, const char *cand_gw, const char *mid,
                const char *mode, const char *shared)
{
    size_t shared_len = strlen (shared);
    log_ev_info ("match_made", "match", mid, "mode", mode, "session", sid,
                 "gateway", gw, "partner", cand, "partner_gateway", cand_gw,
                 "shared_interests", shared_len ? "yes" : "no", NULL);
    publisher_emit (pub, FRAME_MATCHED, gw, sid, cand, mid, FRAME_F_INITIATOR,
                    mode, shared, shared_len);
    publisher_emit (pub, FRAME_MATCHED, cand_gw, cand, sid, mid, 0, mode,
                    shared, shared_len);
}

void
answer_find (publisher_t *pub, const frame_t *f, const char *status,
             const redisReply *reply)
{
    if (!strcmp (status, "matched"))
        answer_matched (pub, f->session, f->gateway, answer_str (reply, 1),
                        answer_str (reply, 2), answer_str (reply, 3),
                        answer_str (reply, 4), answer_str (reply, 5));
    else if (!strcmp (status, "waiting"))
        publisher_emit (pub, FRAME_WAITING, f->gateway, f->session, "", "", 0,
                        "", NULL, 0);
    else if (!strcmp (status, "already_matched"))
        publisher_error (pub, f->gateway, f->session, "already_matched");
    else if (!strcmp (status, "banned")) {
        //  retry_after: the ban's remaining time, in the ERROR's flags.
        unsigned long long left = strtoull (answer_str (reply, 1), NULL, 10);
        static const char text[] =
            "you were reported by too many people; try again later";
        publisher_emit (pub, FRAME_ERROR, f->gateway, f->session, "", "",
                        left > UINT32_MAX ? UINT32_MAX : (uint32_t) left,
                        "banned", text, sizeof text - 1);
    } else {
        if (!strcmp (status, "gone"))
            log_warn ("session %s on %s: find for a session redis does not "
                      "know",
                      f->session, f->gateway);
        publisher_error (pub, f->gateway, f->session, "internal");
    }
}

void
answer_leave (publisher_t *pub, const frame_t *f, const char *status,
              const redisReply *reply)
{
    if (!strcmp (status, "ended")) {
        const char *partner = answer_str (reply, 1);
        const char *partner_gw = answer_str (reply, 2);
        const char *mid = answer_str (reply, 3);
        log_ev_info ("match_ended", "match", mid, "session", f->session, "how",
                     f->kind == FRAME_CLOSE ? "closed" : "left", NULL);
        if (*partner_gw)
            publisher_emit (pub, FRAME_PARTNER_LEFT, partner_gw, partner,
                            f->session, mid, 0, "", NULL, 0);
        if (f->kind == FRAME_LEAVE)
            publisher_emit (pub, FRAME_ENDED, f->gateway, f->session, partner,
                            mid, 0, "", NULL, 0);
    } else if (f->kind == FRAME_CLOSE)
        ; //  "closed": nobody to tell
    else if (!strcmp (status, "unqueued"))
        publisher_emit (pub, FRAME_ENDED, f->gateway, f->session, "", "", 0, "",
                        NULL, 0);
    else if (!strcmp (status, "not_partner") || !strcmp (status, "not_matched"))
        publisher_error (pub, f->gateway, f->session, status);
    else
        publisher_error (pub, f->gateway, f->session, "internal");
}

int
answer_gw_dead (publisher_t *pub, const frame_t *f, const char *status,
                const redisReply *reply)
{
    if (!strcmp (status, "alive"))
        return -1;
    int told = 0;
    for (size_t i = 1; i + 3 < reply->elements; i += 4) {
        const char *partner = answer_str (reply, i);
        const char *partner_gw = answer_str (reply, i + 1);
        const char *sid = answer_str (reply, i + 2);
        const char *mid = answer_str (reply, i + 3);
        if (!strcmp (partner_gw, f->gateway))
            continue;
        publisher_emit (pub, FRAME_PARTNER_LEFT, partner_gw, partner, sid, mid,
                        0, "", NULL, 0);
        told++;
    }
    return told;
}

void
answer_relay (publisher_t *pub, const frame_t *f, const char *partner_gw,
              const char *mid, const char *partner)
{
    //  The relayed frame keeps the sender gateway's time, so that the
    //  receiving gateway can measure the relay (signal_relay_seconds).
    if (f->kind == FRAME_SIGNAL)
        publisher_emit_at (pub, FRAME_DELIVER, partner_gw, f->peer, f->session,
                           mid, 0, f->type, f->payload, f->payload_len,
                           f->time_ms);
    else if (f->kind == FRAME_CHAT)
        publisher_emit_at (pub, FRAME_CHAT_OUT, partner_gw, partner, f->session,
                           mid, 0, "", f->payload, f->payload_len, f->time_ms);
    else
        publisher_emit_at (pub, FRAME_TYPING_OUT, partner_gw, partner,
                           f->session, mid, f->flags & FRAME_F_TYPING, "", NULL,
                           0, f->time_ms);
}

void
answer_route (publisher_t *pub, const frame_t *f, const char *status,
              const redisReply *reply)
{
    if (!strcmp (status, "ok"))
        answer_relay (pub, f, answer_str (reply, 1), answer_str (reply, 2),
                      answer_str (reply, 3));
    else if (!strcmp (status, "not_partner")
             || !strcmp (status, "not_matched")) {
        //  Chat and typing name no target: a match that is over is simply
        //  "not matched" for them.
        publisher_error (pub, f->gateway, f->session,
                         f->kind == FRAME_SIGNAL ? status : "not_matched");
    } else
        publisher_error (pub, f->gateway, f->session, "internal");
}

void
answer_report (publisher_t *pub, const frame_t *f, const char *status,
               const redisReply *reply)
{
    if (!strcmp (status, "reported")) {
        const char *partner = answer_str (reply, 1);
        bool banned = !strcmp (answer_str (reply, 3), "1");
        //  Ids only: the reason is the reporter's words about a stranger,
        //  and the address hashes stay in Redis.
        log_at (banned ? MEGLE_LOG_WARN : MEGLE_LOG_INFO,
                "session %s on %s reported %s (%s distinct reporters)%s",
                f->session, f->gateway, partner, answer_str (reply, 2),
                banned ? ": its address is banned" : "");
    } else if (!strcmp (status, "not_matched"))
        publisher_error (pub, f->gateway, f->session, "not_matched");
    else
        publisher_error (pub, f->gateway, f->session, "internal");
}

size_t
answer_relax (publisher_t *pub, const redisReply *reply, int *more_p)
{
    *more_p = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3
        || strcmp (answer_str (reply, 0), "relaxed")) {
        log_error ("redis: unexpected reply to the relax script%s%s",
                   reply && reply->type == REDIS_REPLY_ERROR ? ": " : "",
                   reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "");
        return 0;
    }
    const redisReply *moved = reply->element[1];
    *more_p = !strcmp (answer_str (reply, 2), "1");
    for (size_t i = 3; i + 6 < reply->elements; i += 7)
        answer_matched (pub, answer_str (reply, i), answer_str (reply, i + 1),
                        answer_str (reply, i + 2), answer_str (reply, i + 3),
                        answer_str (reply, i + 4), answer_str (reply, i + 5),
                        answer_str (reply, i + 6));
    return moved->type == REDIS_REPLY_INTEGER && moved->integer > 0
               ? (size_t) moved->integer
               : 0;
}
