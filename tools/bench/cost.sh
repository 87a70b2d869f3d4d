#!/usr/bin/env bash
#  cost.sh - the cost model: instructions per find_match and per relayed
#  signal in megle-gateway and megle-matcher, counted by callgrind (so it
#  repeats on a noisy machine). Runs the matcher and one gateway under
#  `valgrind --tool=callgrind`, zeroes their counters once the stack is
#  ready, drives a fixed paced workload with megle-bench, dumps, and
#  divides each process's instruction count by the operations the bench
#  reports. Writes JSON for tools/bench/report.py (--cost).
#
#  tools/bench/cost.sh BUILD_DIR [SERVERS_BUILD_DIR] > cost.json
set -euo pipefail
BUILD=${1:?usage: cost.sh BUILD_DIR [SERVERS_BUILD_DIR]}
SERVERS=${2:-$BUILD}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH=$BUILD/tools/bench/megle-bench
WORK=$(mktemp -d /tmp/megle-cost.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    if [ -n "${COST_KEEP:-}" ]; then
        mkdir -p "$COST_KEEP" && cp "$WORK"/*.out "$WORK"/*.json "$COST_KEEP"/ 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
#  free_port, wait_for, ready
. "$ROOT/scripts/lib.sh"

#  measure NAME BENCH_ARGS...: prints "gw_ir matcher_ir bench_json_file"
measure() {
    local name=$1; shift
    local rp bi bo hp
    rp=$(free_port); bi=tcp://127.0.0.1:$(free_port); bo=tcp://127.0.0.1:$(free_port); hp=$(free_port)
    redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no \
        --loglevel warning >/dev/null 2>&1 &
    PIDS+=($!)
    wait_for 10 redis-cli -p "$rp" ping
    MEGLE_REDIS_URL=redis://127.0.0.1:$rp MEGLE_BUS_IN=$bi MEGLE_BUS_OUT=$bo \
        MEGLE_TAP= MEGLE_MATCHER_HTTP= MEGLE_LOG_LEVEL=warn \
        valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.matcher.%p" \
        "$SERVERS/matcher/megle-matcher" >"$WORK/$name.matcher.log" 2>&1 &
    local mpid=$!
    PIDS+=($mpid)
    MEGLE_HTTP=127.0.0.1:$hp MEGLE_GATEWAY_ID=gw-1 MEGLE_BUS_IN=$bi \
        MEGLE_BUS_OUT=$bo MEGLE_WEB_ROOT=$ROOT/web MEGLE_LOG_LEVEL=warn \
        MEGLE_MATCHER_TIMEOUT_MS=60000 \
        valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.gateway.%p" \
        "$SERVERS/gateway/megle-gateway" >"$WORK/$name.gateway.log" 2>&1 &
    local gpid=$!
    PIDS+=($gpid)
    wait_for 60 ready "$hp"
    callgrind_control -z "$mpid" >/dev/null
    callgrind_control -z "$gpid" >/dev/null
    "$BENCH" "$@" --url "ws://127.0.0.1:$hp/ws" --json -q \
        >"$WORK/$name.json" || true
    callgrind_control -d "$mpid" >/dev/null
    callgrind_control -d "$gpid" >/dev/null
    local g m
    #  The dump after zeroing is the file with the highest suffix.
    g=$(ls -t "$WORK/$name.gateway.$gpid"* | head -1)
    m=$(ls -t "$WORK/$name.matcher.$mpid"* | head -1)
    cp "$g" "$WORK/$name.gateway.out"
    cp "$m" "$WORK/$name.matcher.out"
    kill -TERM "$gpid" "$mpid" 2>/dev/null || true
    wait "$gpid" "$mpid" 2>/dev/null || true
    kill -TERM "${PIDS[0]}" 2>/dev/null || true
    wait "${PIDS[0]}" 2>/dev/null || true
    PIDS=()
}

measure match match --clients 50 --rate 100 --duration 5
measure relay relay --pairs 10 --rate 1000 --duration 5

python3 - "$WORK" <<'PY'
import json, os, re, subprocess, sys
work = sys.argv[1]
def ir(path):
    with open(path) as f:
        for line in f:
            if line.startswith('summary:') or line.startswith('totals:'):
                return int(line.split()[1])
    return 0
def hot(path):
    out = subprocess.run(['callgrind_annotate', '--auto=no', '--threshold=100', path],
                         capture_output=True, text=True).stdout
    rows = []
    for l in out.splitlines():
        m = re.match(r'^\s*[\d,]+ \(\s*([\d.]+)%\)', l)
        #  Functions on the stack when the counters were zeroed (main,
        #  the loop, thread entries) show their inclusive cost: skip them.
        if not m or float(m.group(1)) >= 50 or 'clone.S' in l \
                or 'start_thread' in l or 'PROGRAM TOTALS' in l:
            continue
        #  Keep the library's file name: it names unsymbolised code.
        rows.append(re.sub(r' \[(?:[^]]*/)?([^]/]*)\]$', r'  [\1]',
                           l.strip()))
    return '\n'.join(rows[:14])
mj = json.load(open(os.path.join(work, 'match.json')))
rj = json.load(open(os.path.join(work, 'relay.json')))
finds, pairs, sig = mj.get('finds', 0), mj.get('pairs', 0), rj.get('delivered', 0)
g_m, m_m = ir(work + '/match.gateway.out'), ir(work + '/match.matcher.out')
g_r, m_r = ir(work + '/relay.gateway.out'), ir(work + '/relay.matcher.out')
rows = [
    {'what': 'per find_match (a pair cycle: 2 find_match, 2 match_found, 1 '
             'leave, 1 partner_left; divided by the find_match count)',
     'gateway': g_m / finds if finds else None,
     'matcher': m_m / finds if finds else None},
    {'what': 'per relayed signal (one gateway holds both sides: receive, '
             'forward, deliver)',
     'gateway': g_r / sig if sig else None,
     'matcher': m_r / sig if sig else None},
]
print(json.dumps({
    'method': ('`tools/bench/cost.sh`: megle-matcher and one megle-gateway '
               'run under `valgrind --tool=callgrind`; counters are zeroed '
               'once the stack is ready, then megle-bench runs a paced, '
               'fixed workload (match: 50 clients at 100 pairs/s for 5 s = '
               '%d find_match; relay: 10 pairs at 1000 signals/s for 5 s = '
               '%d signals); instructions (Ir) of each process over that '
               'window divided by the operation count. Timers and '
               'heartbeats of the window are included.' % (finds, sig)),
    'rows': rows, 'finds': finds, 'pairs': pairs, 'signals': sig,
    'hot_workload': 'relay workload, self cost, top functions',
    'hot': {'gateway': hot(work + '/relay.gateway.out'),
            'matcher': hot(work + '/relay.matcher.out')},
}, indent=1))
PY
