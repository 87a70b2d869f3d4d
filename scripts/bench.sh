#!/usr/bin/env bash
#  bench.sh - measure megle with megle-bench and regenerate
#  docs/performance.md. Builds a release tree, then for every run starts a
#  private stack on loopback free ports (redis-server, megle-matcher, 1 or
#  3 megle-gateways), runs one megle-bench scenario against it and stops
#  it again. Measures the same day's ceilings (the match and route Lua
#  scripts pipelined into the same redis-server build), takes the median
#  of --runs runs per figure and writes the document from the bench's
#  --json output (tools/bench/report.py).
#
#  scripts/bench.sh [--build DIR] [--runs N] [--quick] [--out FILE]
#                   [--results DIR] [--servers DIR] [--smoke]
#    --build DIR    release build directory (default build/bench)
#    --servers DIR  take megle-gateway and megle-matcher from this build
#                   directory instead (e.g. a build of another commit)
#    --runs N       runs per figure, median reported (default 3)
#    --quick        short runs (a few seconds each) for a dry run
#    --out FILE     the document to write (default docs/performance.md)
#    --results DIR  keep the raw JSON there (default: a temporary dir)
#    --smoke        small N, a few seconds, no document: only checks that
#                   every scenario runs and reports zero lost, duplicated
#                   and misdelivered signals (what ctest bench.smoke runs)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build/bench
RUNS=3
QUICK=0
SMOKE=0
OUT=$ROOT/docs/performance.md
RESULTS=
SERVERS=

usage() { sed -n '2,24p' "$0" | sed 's/^#  \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --smoke) SMOKE=1; RUNS=1; shift ;;
        --out) OUT=$2; shift 2 ;;
        --results) RESULTS=$2; shift 2 ;;
        --servers) SERVERS=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
case $RUNS in ''|*[!0-9]*) echo "bench.sh: bad --runs '$RUNS'" >&2; exit 2 ;; esac

BENCH=$BUILD/tools/bench/megle-bench
GATEWAY=${SERVERS:-$BUILD}/gateway/megle-gateway
MATCHER=${SERVERS:-$BUILD}/matcher/megle-matcher
if [ "${MEGLE_BENCH_NO_BUILD:-0}" != 1 ]; then
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$ROOT" -B "$BUILD" -G Ninja \
              -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    ninja -C "$BUILD" megle-bench megle-gateway megle-matcher >/dev/null
fi
#  The Lua the matcher runs: from the source tree its build came from.
LUA_ROOT=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' \
           "${SERVERS:-$BUILD}/CMakeCache.txt" 2>/dev/null || true)
[ -n "$LUA_ROOT" ] || LUA_ROOT=$ROOT
for b in "$BENCH" "$GATEWAY" "$MATCHER"; do
    [ -x "$b" ] || { echo "bench.sh: $b missing" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/megle-bench.XXXXXX)
[ -n "$RESULTS" ] || RESULTS=$WORK/results
mkdir -p "$RESULTS"
PIDS=()

log() { echo "bench.sh: $*" >&2; }

stop_stack() {
    local p
    #  Gateways first (they tell the matcher), then the matcher and redis.
    for p in "${GW_PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
    for p in "${GW_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    for p in ${MATCHER_PID:-} ${REDIS_PID:-}; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    GW_PIDS=(); MATCHER_PID=; REDIS_PID=
}
cleanup() {
    stop_stack
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

#  wait_for SECONDS CMD...: run CMD until it succeeds or the time is up.
wait_for() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz")" = 200 ]; }

#  start_stack NGW: redis, matcher, NGW gateways; sets URLS and PIDSPEC.
start_stack() {
    local n=$1 i port
    GW_PIDS=()
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
                 --appendonly no --daemonize no --loglevel warning \
                 >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_for 10 redis-cli -p "$REDIS_PORT" ping || { log "redis did not start"; return 1; }
    BUS_IN=tcp://127.0.0.1:$(free_port)
    BUS_OUT=tcp://127.0.0.1:$(free_port)
    MEGLE_REDIS_URL=redis://127.0.0.1:$REDIS_PORT MEGLE_BUS_IN=$BUS_IN \
        MEGLE_BUS_OUT=$BUS_OUT MEGLE_TAP= MEGLE_MATCHER_HTTP= MEGLE_LOG_LEVEL=warn \
        MEGLE_MATCHER_ID=m-bench "$MATCHER" >"$WORK/matcher.log" 2>&1 &
    MATCHER_PID=$!
    URLS=
    PIDSPEC=
    for i in $(seq 1 "$n"); do
        port=$(free_port)
        MEGLE_HTTP=127.0.0.1:$port MEGLE_GATEWAY_ID=gw-$i MEGLE_BUS_IN=$BUS_IN \
            MEGLE_BUS_OUT=$BUS_OUT MEGLE_WEB_ROOT=$ROOT/web \
            MEGLE_LOG_LEVEL=warn MEGLE_IP_SALT=bench \
            MEGLE_RATE_MSGS=0 MEGLE_RATE_BYTES=0 MEGLE_RATE_FINDS=0 \
            MEGLE_MAX_CONNS=0 \
            "$GATEWAY" >"$WORK/gw-$i.log" 2>&1 &
        GW_PIDS+=($!)
        wait_for 10 ready "$port" || { log "gateway gw-$i not ready"; tail -5 "$WORK/gw-$i.log" >&2; return 1; }
        URLS=${URLS:+$URLS,}ws://127.0.0.1:$port/ws
        PIDSPEC=${PIDSPEC:+$PIDSPEC,}gateway$i=${GW_PIDS[$((i - 1))]}
    done
    PIDSPEC=$PIDSPEC,matcher=$MATCHER_PID,redis=$REDIS_PID
}

#  run_bench LABEL NGW SCENARIO ARGS...: one run on a fresh stack; the JSON
#  goes to $RESULTS/LABEL.R.json. Returns the bench's status.
FAILED=0
run_bench() {
    local label=$1 ngw=$2 r rc
    shift 2
    for r in $(seq 1 "$RUNS"); do
        start_stack "$ngw" || { FAILED=1; stop_stack; return 1; }
        rc=0
        "$BENCH" "$@" --url "$URLS" --pid "$PIDSPEC" --json -q \
            >"$RESULTS/$label.$r.json" || rc=$?
        stop_stack
        log "$label run $r: exit $rc: $(head -c 300 "$RESULTS/$label.$r.json")"
        [ "$rc" = 0 ] || FAILED=1
    done
}

if [ "$SMOKE" = 1 ]; then
    run_bench conns 1 conns 200 --hold 1 --ping 0.2
    run_bench match 1 match --clients 50 --duration 1
    run_bench relay 3 relay --pairs 20 --duration 1
    run_bench relay_rate 3 relay --pairs 20 --rate 1000 --duration 1
    run_bench mixed 3 mixed --rate 50 --duration 2 --talk 0.3
    python3 "$ROOT/tools/bench/report.py" --check "$RESULTS" || FAILED=1
    exit "$FAILED"
fi

if [ "$QUICK" = 1 ]; then
    D=3; HOLD=3; CONNS=2000; MIXD=5; CEIL_PAIRS=10000
else
    D=10; HOLD=10; CONNS=10000; MIXD=20; CEIL_PAIRS=50000
fi

#  Ceilings first, on an idle stack's redis-server.
log "ceilings: the match and route scripts pipelined into redis"
for r in $(seq 1 "$RUNS"); do
    start_stack 1
    python3 "$ROOT/tools/bench/ceiling.py" --port "$REDIS_PORT" \
        --root "$LUA_ROOT" --pairs "$CEIL_PAIRS" >"$RESULTS/ceiling.$r.json" || FAILED=1
    stop_stack
    log "ceiling run $r: $(cat "$RESULTS/ceiling.$r.json")"
done

run_bench conns 1 conns "$CONNS" --hold "$HOLD" --ping 5
run_bench match 1 match --clients 1000 --duration "$D"
HALF=$(python3 "$ROOT/tools/bench/report.py" --half-match "$RESULTS")
run_bench match_half 1 match --clients 1000 --duration "$D" --rate "$HALF"
run_bench relay 3 relay --pairs 500 --window 4 --duration "$D"
run_bench relay_10k 3 relay --pairs 500 --rate 10000 --duration "$D"
run_bench mixed 3 mixed --rate 200 --duration "$MIXD" --talk 5

log "cost model: callgrind"
"$ROOT/tools/bench/cost.sh" "$BUILD" "${SERVERS:-$BUILD}" \
    >"$WORK/cost.json" 2>"$WORK/cost.log" || { log "cost.sh failed"; tail -5 "$WORK/cost.log" >&2; }
cp "$WORK/cost.json" "$RESULTS/cost.model" 2>/dev/null || true
python3 "$ROOT/tools/bench/report.py" --write "$OUT" --runs "$RUNS" \
    --cost "$RESULTS/cost.model" "$RESULTS"
log "wrote $OUT"
exit "$FAILED"
