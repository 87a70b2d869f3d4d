#!/usr/bin/env bash
#  run.sh - run megle on this machine: installs what is missing, builds,
#  starts a private redis-server (unix socket in a temporary directory, no
#  persistence), one megle-matcher and one megle-gateway serving the web
#  client on http://localhost:8080. Ctrl-C stops everything.
#
#  Environment: MEGLE_HTTP (default 127.0.0.1:8080) and every other MEGLE_*
#  knob (see README) pass through to the processes.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

"$here/scripts/install-deps.sh" --run
cmake --preset release -S "$here" >/dev/null
cmake --build "$here/build/release" --target megle-gateway megle-matcher

tmp=$(mktemp -d /tmp/megle.XXXXXX)
pids=()
cleanup () {
    trap - INT TERM EXIT
    #  Gateway first (it says bye), then the matcher, then Redis.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup INT TERM EXIT

redis-server --port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 700 \
    --save '' --appendonly no --logfile "$tmp/redis.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$tmp/redis.sock" ] && break; sleep 0.05; done

export MEGLE_REDIS_URL="unix://$tmp/redis.sock"
export MEGLE_BUS_IN="${MEGLE_BUS_IN:-ipc://$tmp/bus-in}"
export MEGLE_BUS_OUT="${MEGLE_BUS_OUT:-ipc://$tmp/bus-out}"
export MEGLE_TAP="${MEGLE_TAP:-ipc://$tmp/tap}"
export MEGLE_HTTP="${MEGLE_HTTP:-127.0.0.1:8080}"
export MEGLE_WEB_ROOT="${MEGLE_WEB_ROOT:-$here/web}"

"$here/build/release/matcher/megle-matcher" &
pids+=($!)
"$here/build/release/gateway/megle-gateway" &
pids+=($!)

echo "megle: open http://localhost:${MEGLE_HTTP##*:} in two browser tabs," \
     "click Start in both, and talk to yourself. Ctrl-C stops." >&2
wait -n "${pids[@]}"
