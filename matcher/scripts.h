//  scripts - the matcher's Redis Lua scripts, embedded at build time.
//
//  The Lua source lives in matcher/lua/*.lua; matcher/embed_lua.cmake turns
//  each into a byte array (prefixed with lua/lib.lua) that this module
//  exposes. Every script is called with the same SCRIPT_NKEYS keys,
//  SCRIPT_KEY_QUEUE and SCRIPT_KEY_GATEWAYS, then its own ARGV (listed in
//  each .lua file's header). Per-session keys are built inside the Lua
//  from the "{megle}:" prefix: they all share that one hash tag, so on
//  Redis Cluster they live in the same slot as the keys passed in KEYS.

#ifndef MEGLE_SCRIPTS_H
#define MEGLE_SCRIPTS_H

#include <stddef.h>

#define SCRIPT_KEY_QUEUE    "{megle}:q"
#define SCRIPT_KEY_GATEWAYS "{megle}:gws"
#define SCRIPT_NKEYS        2

typedef enum {
    SCRIPT_GW_BEAT = 0, //  gw, now_ms
    SCRIPT_OPEN,        //  sid, gw, ip_hash, session_ttl
    SCRIPT_FIND,        //  sid, gw, mid, match_ttl, session_ttl
    SCRIPT_ROUTE,       //  sid, target, match
    SCRIPT_LEAVE,       //  sid, target, session_ttl
    SCRIPT_CLOSE,       //  sid, gw
    SCRIPT_GW_DEAD,     //  gw, dead_before_ms ("" = unconditional)
    SCRIPT_COUNT
} script_id_t;

//  The script's short name ("find", ...), or NULL if id is out of range.
const char *script_name (int id);

//  The script's full Lua source (NUL-terminated, static storage), or NULL
//  if id is out of range.
const char *script_source (int id);

#endif
