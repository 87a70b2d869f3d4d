--  route: check and route a signal, chat or typing (lib.lua: OPS.route).
return OPS.route (ARGV, 0, #ARGV)
