//  ratelimit - token buckets and flood detection for one connection (see
//  ratelimit.h).
//
//  Tokens are counted in thousandths so that the refill is exact integer
//  arithmetic: a bucket of `rate` tokens per second gains `rate`
//  thousandths per millisecond.

#include "ratelimit.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MILLI 1000u

//  A bucket's rate and burst stay in the config (shared by every
//  connection of a gateway): a bucket is only its state.
typedef struct {
    uint64_t tokens;     //  thousandths of a token
    uint64_t at_ms;      //  when tokens was last brought up to date
    uint64_t told_until; //  refusals before this are not answered again
} s_bucket_t;

struct _ratelimit_t {
    const ratelimit_config_t *config; //  not owned (ratelimit_new: a copy)
    s_bucket_t msgs, bytes, finds;
    uint64_t window_start; //  monotonic ms the flood window began
    uint32_t refusals;     //  refusals within it
};

void
ratelimit_config (ratelimit_config_t *config, int msgs, int msgs_burst,
                  int bytes, int bytes_burst, int finds, int finds_burst)
{
    assert (config);
#define S_U32(v) ((v) < 0 ? 0u : (uint32_t) (v))
    config->msgs.rate = S_U32 (msgs);
    config->msgs.burst = S_U32 (msgs_burst);
    config->bytes.rate = S_U32 (bytes);
    config->bytes.burst = S_U32 (bytes_burst);
    config->finds.rate = S_U32 (finds);
    config->finds.burst = S_U32 (finds_burst);
#undef S_U32
    uint64_t flood = (uint64_t) config->msgs.burst * RATELIMIT_FLOOD_FACTOR;
    config->flood_max = flood > UINT32_MAX ? UINT32_MAX : (uint32_t) flood;
    config->flood_window_ms = RATELIMIT_FLOOD_WINDOW_MS;
}

//  The burst, at least 1.
static uint64_t
s_burst (const ratelimit_rate_t *conf)
{
    return conf->burst ? conf->burst : 1;
}

static void
s_bucket_init (s_bucket_t *b, const ratelimit_rate_t *conf, uint64_t now_ms)
{
    b->tokens = s_burst (conf) * MILLI;
    b->at_ms = now_ms;
    b->told_until = 0;
}

static void
s_refill (s_bucket_t *b, const ratelimit_rate_t *conf, uint64_t now_ms)
{
    uint64_t cap = s_burst (conf) * MILLI;
    if (now_ms <= b->at_ms)
        return; //  same millisecond, or a clock that went back: no refill
    uint64_t elapsed = now_ms - b->at_ms;
    b->at_ms = now_ms;
    uint64_t missing = cap - b->tokens;
    //  elapsed * rate could overflow for a long-idle connection: compare
    //  by division first.
    if (elapsed >= missing / conf->rate + 1)
        b->tokens = cap;
    else
        b->tokens += elapsed * conf->rate;
    if (b->tokens > cap)
        b->tokens = cap;
}

//  Can `cost` tokens be taken now? If not, sets *wait_ms to the time
//  until they can (>= 1). Takes nothing.
static bool
s_has (s_bucket_t *b, const ratelimit_rate_t *conf, uint64_t cost,
       uint64_t now_ms, uint64_t *wait_ms)
{
    if (conf->rate == 0)
        return true;
    s_refill (b, conf, now_ms);
    if (cost > s_burst (conf))
        cost = s_burst (conf);
    uint64_t need = cost * MILLI;
    if (b->tokens >= need)
        return true;
    uint64_t missing = need - b->tokens;
    uint64_t wait = (missing + conf->rate - 1) / conf->rate;
    *wait_ms = wait ? wait : 1;
    return false;
}

static void
s_take (s_bucket_t *b, const ratelimit_rate_t *conf, uint64_t cost)
{
    if (conf->rate == 0)
        return;
    if (cost > s_burst (conf))
        cost = s_burst (conf);
    b->tokens -= cost * MILLI; //  s_has checked that it is there
}

size_t
ratelimit_sizeof (void)
{
    return sizeof (ratelimit_t);
}

ratelimit_t *
ratelimit_new (const ratelimit_config_t *config, uint64_t now_ms)
{
    assert (config);
    //  The copy of the config lives right after the limits.
    struct {
        ratelimit_t limits;
        ratelimit_config_t config;
    } *both = malloc (sizeof *both);
    if (!both)
        return NULL;
    both->config = *config;
    return ratelimit_init (&both->limits, &both->config, now_ms);
}

ratelimit_t *
ratelimit_init (void *mem, const ratelimit_config_t *config, uint64_t now_ms)
{
    assert (mem);
    assert (config);
    ratelimit_t *self = mem;
    memset (self, 0, sizeof *self);
    self->config = config;
    s_bucket_init (&self->msgs, &config->msgs, now_ms);
    s_bucket_init (&self->bytes, &config->bytes, now_ms);
    s_bucket_init (&self->finds, &config->finds, now_ms);
    self->window_start = now_ms;
    return self;
}

void
ratelimit_destroy (ratelimit_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

//  Count a refusal by bucket b; decide between REFUSE, DROP and FLOOD.
static ratelimit_verdict_t
s_refuse (ratelimit_t *self, s_bucket_t *b, uint64_t now_ms, uint64_t wait_ms,
          uint32_t *retry_after_ms_p)
{
    uint32_t window = self->config->flood_window_ms;
    uint32_t flood_max = self->config->flood_max;
    if (now_ms - self->window_start >= (window ? window : 1)) {
        self->window_start = now_ms;
        self->refusals = 0;
    }
    if (self->refusals < UINT32_MAX)
        self->refusals++;
    if (self->refusals > (flood_max ? flood_max : 1))
        return RATELIMIT_FLOOD;
    if (now_ms < b->told_until)
        return RATELIMIT_DROP;
    b->told_until = now_ms + wait_ms;
    if (retry_after_ms_p)
        *retry_after_ms_p =
            wait_ms > UINT32_MAX ? UINT32_MAX : (uint32_t) wait_ms;
    return RATELIMIT_REFUSE;
}

ratelimit_verdict_t
ratelimit_message (ratelimit_t *self, size_t bytes, uint64_t now_ms,
                   uint32_t *retry_after_ms_p)
{
    assert (self);
    uint64_t wait_msgs = 0, wait_bytes = 0;
    const ratelimit_config_t *conf = self->config;
    bool msgs_ok = s_has (&self->msgs, &conf->msgs, 1, now_ms, &wait_msgs);
    bool bytes_ok =
        s_has (&self->bytes, &conf->bytes, bytes, now_ms, &wait_bytes);
    if (!msgs_ok || !bytes_ok) {
        //  Told about the longer wait, through the bucket that needs it.
        if (wait_bytes > wait_msgs)
            return s_refuse (self, &self->bytes, now_ms, wait_bytes,
                             retry_after_ms_p);
        return s_refuse (self, &self->msgs, now_ms, wait_msgs,
                         retry_after_ms_p);
    }
    s_take (&self->msgs, &conf->msgs, 1);
    s_take (&self->bytes, &conf->bytes, bytes);
    return RATELIMIT_PASS;
}

ratelimit_verdict_t
ratelimit_find (ratelimit_t *self, uint64_t now_ms, uint32_t *retry_after_ms_p)
{
    assert (self);
    uint64_t wait = 0;
    const ratelimit_rate_t *finds = &self->config->finds;
    if (!s_has (&self->finds, finds, 1, now_ms, &wait))
        return s_refuse (self, &self->finds, now_ms, wait, retry_after_ms_p);
    s_take (&self->finds, finds, 1);
    return RATELIMIT_PASS;
}

uint32_t
ratelimit_refusals (ratelimit_t *self)
{
    assert (self);
    return self->refusals;
}
