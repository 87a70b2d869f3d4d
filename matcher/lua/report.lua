--  report: report the partner, maybe ban it (lib.lua: OPS.report).
return OPS.report (ARGV, 0, #ARGV)
