--  leave: end a match or leave the queues (lib.lua: OPS.leave).
return OPS.leave (ARGV, 0, #ARGV)
