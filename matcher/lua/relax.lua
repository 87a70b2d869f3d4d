--  relax: open due interest waiters to anyone (lib.lua: OPS.relax).
return OPS.relax (ARGV, 0, #ARGV)
