//  scripts - the table of embedded Lua scripts (see scripts.h).

#include "scripts.h"
#include "scripts_lua.h" //  generated: s_lua_<name>[] byte arrays

typedef struct {
    const char *name;
    const unsigned char *source;
} s_script_t;

static const s_script_t s_scripts[SCRIPT_COUNT] = {
    [SCRIPT_GW_BEAT] = {"gw_beat", s_lua_gw_beat},
    [SCRIPT_OPEN] = {"open", s_lua_open},
    [SCRIPT_FIND] = {"find", s_lua_find},
    [SCRIPT_ROUTE] = {"route", s_lua_route},
    [SCRIPT_LEAVE] = {"leave", s_lua_leave},
    [SCRIPT_CLOSE] = {"close", s_lua_close},
    [SCRIPT_GW_DEAD] = {"gw_dead", s_lua_gw_dead},
    [SCRIPT_RELAX] = {"relax", s_lua_relax},
    [SCRIPT_REPORT] = {"report", s_lua_report},
    [SCRIPT_BATCH] = {"batch", s_lua_batch},
};

const char *
script_name (int id)
{
    if (id < 0 || id >= SCRIPT_COUNT)
        return NULL;
    return s_scripts[id].name;
}

const char *
script_source (int id)
{
    if (id < 0 || id >= SCRIPT_COUNT)
        return NULL;
    return (const char *) s_scripts[id].source;
}
