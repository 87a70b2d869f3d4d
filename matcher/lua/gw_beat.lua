--  gw_beat: a gateway said HELLO or HEARTBEAT.
--  ARGV: gw, now_ms (wall clock). Returns {"ok"}.
redis.call ('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'ok'}
