--  gw_beat: a gateway said HELLO or HEARTBEAT (lib.lua: OPS.gw_beat).
return OPS.gw_beat (ARGV, 0, #ARGV)
