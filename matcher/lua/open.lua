--  open: a session connected (lib.lua: OPS.open).
return OPS.open (ARGV)
