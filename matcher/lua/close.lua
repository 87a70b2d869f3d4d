--  close: a session's socket closed (lib.lua: OPS.close).
return OPS.close (ARGV, 0, #ARGV)
