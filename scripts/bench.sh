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
#  Next to each relay run it runs megle-floor (tools/bench/floor.c): the
#  relay path's process topology (3 gateways, a matcher, TCP and ZeroMQ on
#  loopback) with none of megle's logic, paced at 10 k/s and flat out with
#  the relay runs' pairs, sizes and window: the floor megle is measured
#  against.
#
#  It also writes docs/capacity.md next to it (tools/bench/capacity.py: the capacity
#  model built from the same results, checked against a scaled-down run:
#  50 k idle connections over three gateways plus a mixed load).
#
#  scripts/bench.sh [--build DIR] [--runs N] [--quick] [--out FILE]
#                   [--results DIR] [--servers DIR] [--smoke]
#                   [--matchers N] [--scale-conns N] [--scale-rate R]
#                   [--capacity FILE] [--scale-only]
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
#    --matchers N   megle-matcher processes per stack (default 1; the
#                   gateways get the MEGLE_BUS_IN/OUT lists)
#    --scale-conns N  idle connections over three gateways for the
#                   conns50k and scale runs (default 50000; --quick 6000)
#    --scale-rate R mixed arrivals/s during the scale run (default 100)
#    --capacity FILE  the capacity model to write (default: capacity.md
#                   next to --out)
#    --scale-only   only the conns50k and scale runs, then the capacity
#                   model, reading the other results already in --results
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build/bench
RUNS=3
QUICK=0
SMOKE=0
OUT=$ROOT/docs/performance.md
RESULTS=
SERVERS=
MATCHERS=${MEGLE_BENCH_MATCHERS:-1}
SCALE_CONNS=
SCALE_RATE=100
CAPACITY=
SCALE_ONLY=0

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^#/, ""); sub(/^ /, ""); sub(/^ /, ""); print }' "$0"; }
while [ $# -gt 0 ]; do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --smoke) SMOKE=1; RUNS=1; shift ;;
        --out) OUT=$2; shift 2 ;;
        --results) RESULTS=$2; shift 2 ;;
        --servers) SERVERS=$2; shift 2 ;;
        --matchers) MATCHERS=$2; shift 2 ;;
        --scale-conns) SCALE_CONNS=$2; shift 2 ;;
        --scale-rate) SCALE_RATE=$2; shift 2 ;;
        --capacity) CAPACITY=$2; shift 2 ;;
        --scale-only) SCALE_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
for v in "$RUNS" "$MATCHERS" "${SCALE_CONNS:-1}" "$SCALE_RATE"; do
    case $v in ''|*[!0-9]*|0) echo "bench.sh: bad number '$v'" >&2; exit 2 ;; esac
done
[ -n "$CAPACITY" ] || CAPACITY=$(dirname "$OUT")/capacity.md
#  Tens of thousands of sockets per process: up to the hard limit (the
#  gateways and megle-bench inherit it; megle-bench forks past it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

BENCH=$BUILD/tools/bench/megle-bench
FLOOR=$BUILD/tools/bench/megle-floor
GATEWAY=${SERVERS:-$BUILD}/gateway/megle-gateway
MATCHER=${SERVERS:-$BUILD}/matcher/megle-matcher
if [ "${MEGLE_BENCH_NO_BUILD:-0}" != 1 ]; then
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$ROOT" -B "$BUILD" -G Ninja \
              -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    ninja -C "$BUILD" megle-bench megle-floor megle-gateway megle-matcher >/dev/null
fi
#  The Lua the matcher runs: from the source tree its build came from.
LUA_ROOT=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' \
           "${SERVERS:-$BUILD}/CMakeCache.txt" 2>/dev/null || true)
[ -n "$LUA_ROOT" ] || LUA_ROOT=$ROOT
for b in "$BENCH" "$FLOOR" "$GATEWAY" "$MATCHER"; do
    [ -x "$b" ] || { echo "bench.sh: $b missing" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/megle-bench.XXXXXX)
[ -n "$RESULTS" ] || RESULTS=$WORK/results
mkdir -p "$RESULTS"
PIDS=()

log() { echo "bench.sh: $*" >&2; }

stop_stack() {
    local p
    #  Gateways first (they tell the matcher), then the matchers and redis.
    for p in "${GW_PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
    for p in "${GW_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    for p in "${MT_PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
    for p in "${MT_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    for p in ${REDIS_PID:-}; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    GW_PIDS=(); MT_PIDS=(); GW_PORTS=(); MATCHER_PID=; REDIS_PID=
}
cleanup() {
    stop_stack
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

#  free_port, wait_for, ready
. "$ROOT/scripts/lib.sh"

#  start_stack NGW: redis, $MATCHERS matchers, NGW gateways; sets URLS,
#  PIDSPEC and GW_PORTS.
start_stack() {
    local n=$1 i port bin bout mspec=
    GW_PIDS=(); MT_PIDS=(); GW_PORTS=()
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
                 --appendonly no --daemonize no --loglevel warning \
                 >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_for 10 redis-cli -p "$REDIS_PORT" ping || { log "redis did not start"; return 1; }
    BUS_IN=; BUS_OUT=
    for i in $(seq 1 "$MATCHERS"); do
        bin=tcp://127.0.0.1:$(free_port)
        bout=tcp://127.0.0.1:$(free_port)
        MEGLE_REDIS_URL=redis://127.0.0.1:$REDIS_PORT MEGLE_BUS_IN=$bin \
            MEGLE_BUS_OUT=$bout MEGLE_TAP= MEGLE_MATCHER_HTTP= MEGLE_LOG_LEVEL=warn \
            MEGLE_MATCHER_ID=m-bench-$i "$MATCHER" >"$WORK/matcher-$i.log" 2>&1 &
        MT_PIDS+=($!)
        BUS_IN=${BUS_IN:+$BUS_IN,}$bin
        BUS_OUT=${BUS_OUT:+$BUS_OUT,}$bout
        #  One matcher keeps the name "matcher" (report.py, capacity.py).
        if [ "$MATCHERS" = 1 ]; then mspec=matcher=$!; else mspec=${mspec:+$mspec,}matcher$i=$!; fi
    done
    MATCHER_PID=${MT_PIDS[0]}
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
        GW_PORTS+=("$port")
        wait_for 10 ready "$port" || { log "gateway gw-$i not ready"; tail -5 "$WORK/gw-$i.log" >&2; return 1; }
        URLS=${URLS:+$URLS,}ws://127.0.0.1:$port/ws
        PIDSPEC=${PIDSPEC:+$PIDSPEC,}gateway$i=${GW_PIDS[$((i - 1))]}
    done
    PIDSPEC=$PIDSPEC,$mspec,redis=$REDIS_PID
}

#  gw_conns: open WebSockets over the stack's gateways (their /metrics).
gw_conns() {
    local p total=0 v
    for p in "${GW_PORTS[@]}"; do
        v=$(curl -s "http://127.0.0.1:$p/metrics" |
            sed -n 's/^megle_gateway_connections \([0-9]*\)$/\1/p')
        total=$(( total + ${v:-0} ))
    done
    echo "$total"
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

#  run_floor LABEL ARGS...: megle-floor --runs times (it forks its own
#  gateways and matcher); the JSON goes to $RESULTS/LABEL.R.json.
run_floor() {
    local label=$1 r rc
    shift
    for r in $(seq 1 "$RUNS"); do
        rc=0
        "$FLOOR" "$@" --json -q >"$RESULTS/$label.$r.json" || rc=$?
        log "$label run $r: exit $rc: $(head -c 300 "$RESULTS/$label.$r.json")"
        [ "$rc" = 0 ] || FAILED=1
    done
}

if [ "$SMOKE" = 1 ]; then
    run_bench conns 1 conns 200 --hold 1 --ping 0.2
    run_bench match 1 match --clients 50 --duration 1
    run_bench relay 3 relay --pairs 20 --duration 1
    run_bench relay_rate 3 relay --pairs 20 --rate 1000 --duration 1
    run_floor floor --gateways 3 --pairs 20 --flat --window 4 --duration 1
    run_floor floor_rate --gateways 3 --pairs 20 --rate 1000 --duration 1
    run_bench mixed 3 mixed --rate 50 --duration 2 --talk 0.3
    run_bench conns_procs 3 conns 300 --procs 3 --hold 1 --ping 0.2
    python3 "$ROOT/tools/bench/report.py" --check "$RESULTS" || FAILED=1
    exit "$FAILED"
fi

if [ "$QUICK" = 1 ]; then
    D=3; HOLD=3; CONNS=2000; MIXD=5; CEIL_PAIRS=10000; SCALE_CONNS=${SCALE_CONNS:-6000}
else
    D=10; HOLD=10; CONNS=10000; MIXD=20; CEIL_PAIRS=50000; SCALE_CONNS=${SCALE_CONNS:-50000}
fi

#  run_scale: the capacity model's check. SCALE_CONNS idle connections over
#  three gateways (megle-bench conns, forking past the open-file limit),
#  and once all are open a mixed load at SCALE_RATE arrivals/s on the same
#  stack, measured while they are held: $RESULTS/scale_conns.R.json and
#  $RESULTS/scale_mixed.R.json.
run_scale() {
    local r rc cpid n deadline
    for r in $(seq 1 "$RUNS"); do
        start_stack 3 || { FAILED=1; stop_stack; return 1; }
        "$BENCH" conns "$SCALE_CONNS" --hold $(( MIXD + 20 )) --ping 5 \
            --url "$URLS" --pid "$PIDSPEC" --json -q \
            >"$RESULTS/scale_conns.$r.json" &
        cpid=$!
        deadline=$(( $(date +%s) + 60 + SCALE_CONNS * 3 / 1000 ))
        until n=$(gw_conns); [ "$n" -ge "$SCALE_CONNS" ]; do
            if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$cpid" 2>/dev/null; then
                log "scale run $r: only $n of $SCALE_CONNS connections opened"
                FAILED=1
                break
            fi
            sleep 0.5
        done
        rc=0
        "$BENCH" mixed --rate "$SCALE_RATE" --duration "$MIXD" --talk 5 \
            --url "$URLS" --pid "$PIDSPEC" --json -q \
            >"$RESULTS/scale_mixed.$r.json" || rc=$?
        wait "$cpid" || rc=$?
        stop_stack
        log "scale run $r: exit $rc: $(head -c 300 "$RESULTS/scale_mixed.$r.json")"
        [ "$rc" = 0 ] || FAILED=1
    done
}

write_capacity() {
    python3 "$ROOT/tools/bench/capacity.py" --out "$CAPACITY" \
        --cost "$RESULTS/cost.model" "$RESULTS" || { FAILED=1; return 0; }
    log "wrote $CAPACITY"
}

if [ "$SCALE_ONLY" = 1 ]; then
    run_bench conns50k 3 conns "$SCALE_CONNS" --hold "$HOLD" --ping 5
    run_scale
    write_capacity
    exit "$FAILED"
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
run_floor floor --gateways 3 --pairs 500 --flat --window 4 --duration "$D"
run_floor floor_10k --gateways 3 --pairs 500 --rate 10000 --duration "$D"
run_bench mixed 3 mixed --rate 200 --duration "$MIXD" --talk 5
run_bench conns50k 3 conns "$SCALE_CONNS" --hold "$HOLD" --ping 5
run_scale

log "cost model: callgrind"
"$ROOT/tools/bench/cost.sh" "$BUILD" "${SERVERS:-$BUILD}" \
    >"$WORK/cost.json" 2>"$WORK/cost.log" || { log "cost.sh failed"; tail -5 "$WORK/cost.log" >&2; }
cp "$WORK/cost.json" "$RESULTS/cost.model" 2>/dev/null || true
#  This run's machine state, not an earlier run's into the same --results
#  (report.py keeps it there for later rewrites of the document).
rm -f "$RESULTS/machine.meta"
python3 "$ROOT/tools/bench/report.py" --write "$OUT" --runs "$RUNS" \
    --cost "$RESULTS/cost.model" "$RESULTS"
log "wrote $OUT"
write_capacity
exit "$FAILED"
