#!/usr/bin/env bash
#  massclose - thousands of clients vanishing at once must not stall a
#  gateway. megle-bench opens N idle WebSockets to one gateway of a private
#  stack (redis-server, megle-matcher, megle-gateway on loopback free
#  ports) and exits; the gateway must notice every close and be back to
#  zero connections within a deadline. (A failed write used to close its
#  connection with lws_set_timeout, whose sorted list made the online-count
#  push after a mass close O(n^2): 15,000 vanished clients kept a gateway
#  at 100 % CPU for minutes.) The deadline is generous: the check is
#  seconds against minutes, not a timing of megle.
#
#  tests/massclose.sh GATEWAY MATCHER BENCH [N]
set -euo pipefail
GATEWAY=$1 MATCHER=$2 BENCH=$3 N=${4:-15000}
DEADLINE_S=30
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/megle-massclose.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

#  N sockets in one gateway and in megle-bench, plus slack.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 500)) ]; then
    echo "massclose: open-file limit $(ulimit -n) < $((N + 500)): skipped"
    exit 77
fi

#  free_port, wait_for, ready
. "$ROOT/scripts/lib.sh"
#  The gateway's open WebSockets (its /metrics), "?" if it does not answer.
conns() {
    local v
    v=$(curl -s -m 2 "http://127.0.0.1:$HTTP/metrics" |
        sed -n 's/^megle_gateway_connections \([0-9]*\)$/\1/p')
    echo "${v:-?}"
}
no_conns() { [ "$(conns)" = 0 ]; }

RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no \
             --loglevel warning >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_for 10 redis-cli -p "$RP" ping
BI=tcp://127.0.0.1:$(free_port)
BO=tcp://127.0.0.1:$(free_port)
MEGLE_REDIS_URL=redis://127.0.0.1:$RP MEGLE_BUS_IN=$BI MEGLE_BUS_OUT=$BO \
    MEGLE_TAP= MEGLE_MATCHER_HTTP= MEGLE_LOG_LEVEL=warn \
    "$MATCHER" >"$WORK/matcher.log" 2>&1 &
PIDS+=($!)
HTTP=$(free_port)
MEGLE_HTTP=127.0.0.1:$HTTP MEGLE_GATEWAY_ID=gw-1 MEGLE_BUS_IN=$BI \
    MEGLE_BUS_OUT=$BO MEGLE_WEB_ROOT=$ROOT/web MEGLE_LOG_LEVEL=warn \
    MEGLE_IP_SALT=massclose MEGLE_MAX_CONNS=0 MEGLE_RATE_MSGS=0 \
    MEGLE_RATE_BYTES=0 MEGLE_RATE_FINDS=0 \
    "$GATEWAY" >"$WORK/gateway.log" 2>&1 &
GW=$!
PIDS+=($GW)
wait_for 20 ready "$HTTP" || { echo "massclose: gateway not ready"; tail -5 "$WORK/gateway.log"; exit 1; }

#  megle-bench holds the connections (with pings) and exits: every socket
#  closes at once.
"$BENCH" conns "$N" --url "ws://127.0.0.1:$HTTP/ws" --hold 2 --ping 5 \
    >"$WORK/bench.log" 2>&1 || { cat "$WORK/bench.log"; exit 1; }
grep -E "held" "$WORK/bench.log" || true
t0=$(date +%s.%N)
if ! wait_for "$DEADLINE_S" no_conns; then
    echo "massclose: the gateway still has $(conns) of $N connections" \
         "${DEADLINE_S} s after the clients left (CPU time: $(ps -o time= -p "$GW"))"
    kill -KILL "$GW" 2>/dev/null || true #  a spinning gateway ignores SIGTERM
    exit 1
fi
echo "massclose: $N connections closed by the gateway in" \
     "$(python3 -c "import time; print(round(time.time() - $t0, 2))") s"
kill -0 "$GW" || { echo "massclose: the gateway died"; exit 1; }
