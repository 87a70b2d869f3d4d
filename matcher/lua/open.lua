--  open: a session connected (lib.lua: OPS.open).
return OPS.open (ARGV, 0, #ARGV)
