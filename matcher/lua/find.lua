--  find: match a session or queue it (lib.lua: OPS.find).
return OPS.find (ARGV, 0, #ARGV)
