--  gw_dead: close every session of a dead gateway (lib.lua: OPS.gw_dead).
return OPS.gw_dead (ARGV, 0, #ARGV)
