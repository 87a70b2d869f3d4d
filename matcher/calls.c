//  calls - the Redis script call an inbound frame makes (calls.h).

#include "calls.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scripts.h"

void
calls_init (calls_t *self, const config_t *config)
{
    assert (self);
    assert (config);
    memset (self, 0, sizeof *self);
    snprintf (self->session_ttl, sizeof self->session_ttl, "%d",
              config->session_ttl);
    snprintf (self->match_ttl, sizeof self->match_ttl, "%d", config->match_ttl);
    snprintf (self->wait, sizeof self->wait, "%d", config->interest_wait_ms);
    snprintf (self->block, sizeof self->block, "%d", config->rematch_block_ms);
    snprintf (self->window, sizeof self->window, "%d", config->report_window_s);
    snprintf (self->threshold, sizeof self->threshold, "%d",
              config->report_threshold);
    snprintf (self->ban, sizeof self->ban, "%d", config->ban_s);
}

int
calls_build (calls_t *self, const frame_t *f, const char *before,
             uint64_t now_ms, const char **argv, size_t *lens, int *argc_p)
{
    assert (self);
    assert (f);
    assert (before);
    int argc = 0;
    int script;
    if (now_ms != self->now_ms || !self->now[0]) {
        snprintf (self->now, sizeof self->now, "%" PRIu64, now_ms);
        self->now_ms = now_ms;
    }
    const char *now = self->now, *session_ttl = self->session_ttl;
    const char *match_ttl = self->match_ttl, *wait = self->wait;
    const char *block = self->block, *window = self->window;
    const char *threshold = self->threshold, *ban = self->ban;
#define ARG(s, n)                                                              \
    do {                                                                       \
        argv[argc] = (s);                                                      \
        lens[argc] = (n);                                                      \
        argc++;                                                                \
    } while (0)
#define ARGS(s) ARG (s, strlen (s))
    switch (f->kind) {
    case FRAME_HELLO:
    case FRAME_HEARTBEAT:
        script = SCRIPT_GW_BEAT;
        ARGS (f->gateway);
        ARGS (now);
        break;
    case FRAME_OPEN:
        script = SCRIPT_OPEN;
        ARGS (f->session);
        ARGS (f->gateway);
        ARG (f->payload ? (const char *) f->payload : "", f->payload_len);
        ARGS (session_ttl);
        break;
    case FRAME_FIND:
        //  s_dispatch checked type (the mode) and payload (the interests).
        script = SCRIPT_FIND;
        ARGS (f->session);
        ARGS (f->gateway);
        ARGS (f->match);
        ARGS (match_ttl);
        ARGS (session_ttl);
        ARGS (f->type);
        ARG (f->payload ? (const char *) f->payload : "", f->payload_len);
        ARGS (now);
        ARGS (f->flags & FRAME_F_NO_WAIT ? "0" : wait);
        break;
    case FRAME_SIGNAL:
    case FRAME_CHAT:
    case FRAME_TYPING:
        //  A signal names its target; chat and typing go to the partner.
        script = SCRIPT_ROUTE;
        ARGS (f->session);
        ARGS (f->kind == FRAME_SIGNAL ? f->peer : "");
        ARGS (f->match);
        break;
    case FRAME_REPORT:
        script = SCRIPT_REPORT;
        ARGS (f->session);
        ARGS (f->match);
        ARGS (now);
        ARGS (window);
        ARGS (threshold);
        ARGS (ban);
        break;
    case FRAME_LEAVE:
        script = SCRIPT_LEAVE;
        ARGS (f->session);
        ARGS (f->peer);
        ARGS (session_ttl);
        ARGS (now);
        ARGS (block);
        break;
    case FRAME_CLOSE:
        script = SCRIPT_CLOSE;
        ARGS (f->session);
        ARGS (f->gateway);
        ARGS (now);
        ARGS (block);
        break;
    case FRAME_BYE:
        script = SCRIPT_GW_DEAD;
        ARGS (f->gateway);
        ARGS (before);
        ARGS (now);
        ARGS (block);
        break;
    default:
        return -1;
    }
#undef ARGS
#undef ARG
    *argc_p = argc;
    return script;
}
