//  scripts - the matcher's Redis Lua scripts, embedded at build time.
//
//  The Lua source lives in matcher/lua/*.lua; matcher/embed_lua.cmake turns
//  each into a byte array (prefixed with lua/lib.lua) that this module
//  exposes. Every script is called with the same SCRIPT_NKEYS key,
//  SCRIPT_KEY_GATEWAYS, then its own ARGV (listed in each .lua file's
//  header). Queue, session, match and recent-partner keys are built inside
//  the Lua from the "{megle}:" prefix (lua/lib.lua lists them): they all
//  share that one hash tag, so on Redis Cluster they live in the same slot
//  as the key passed in KEYS.

#ifndef MEGLE_SCRIPTS_H
#define MEGLE_SCRIPTS_H

#include <stddef.h>

#define SCRIPT_KEY_GATEWAYS "{megle}:gws"
#define SCRIPT_NKEYS        1
#define SCRIPT_NKEYS_STR    "1"
//  The random queue of each mode (lua/lib.lua lists every key).
#define SCRIPT_KEY_QUEUE_VIDEO "{megle}:q:video"
#define SCRIPT_KEY_QUEUE_TEXT  "{megle}:q:text"

//  Match ids the relax script is given per call: it matches at most this
//  many due sessions, so one call stays short.
#define SCRIPT_RELAX_BATCH 32

typedef enum {
    SCRIPT_GW_BEAT = 0, //  gw, now_ms
    SCRIPT_OPEN,        //  sid, gw, ip_hash, session_ttl
    SCRIPT_FIND,        //  sid, gw, mid, match_ttl, session_ttl, mode,
                        //  interests, now_ms, wait_ms
    SCRIPT_ROUTE,       //  sid, target ("" = partner), match
    SCRIPT_LEAVE,       //  sid, target, session_ttl, now_ms, block_ms
    SCRIPT_CLOSE,       //  sid, gw, now_ms, block_ms
    SCRIPT_GW_DEAD,     //  gw, dead_before_ms ("" = unconditional),
                        //  now_ms, block_ms
    SCRIPT_RELAX,       //  now_ms, match_ttl, session_ttl, mid...
    SCRIPT_REPORT,      //  sid, match, now_ms, window_s, threshold, ban_s
    SCRIPT_BATCH,       //  now_ms, match_ttl, session_ttl, block_ms
                        //  (header), then name1, n1, n1 args, name2, ...:
                        //  many of the above in one call (lua/batch.lua;
                        //  batch.h)
    SCRIPT_COUNT
} script_id_t;

//  The script's short name ("find", ...), or NULL if id is out of range.
//  It is also the op's name in a batch.lua call.
const char *script_name (int id);

//  The script's full Lua source (NUL-terminated, static storage), or NULL
//  if id is out of range.
const char *script_source (int id);

#endif
