#!/usr/bin/env bash
#  compose.sh - the compose stack for real (ctest compose.stack): builds the
#  images of compose/, brings up redis + matcher + 3 gateways + the
#  balancer, drives WebSocket clients through the balancer on 127.0.0.1
#  (tests/compose/drive.mjs: spread over gateways, cross-gateway matches,
#  signal relay, then --scale gateway=4 and the new gateway takes clients),
#  checks the tap and coturn images, and always tears everything down.
#
#  Needs a Docker engine with the compose v2 plugin. Where `docker info`
#  fails and the CI helper <parent of the clone>/shared/tools/docker-engine
#  exists, it is run (`up`) first; otherwise the test is skipped (77).
#  Runs may overlap (several checkouts, several build dirs): the compose
#  projects are megle-test-<pid>[-m|-g], the images are tagged
#  test-<hash of the checkout's path> (MEGLE_TAG), every port is free-picked;
#  projects of runs whose pid is gone are removed at start. Builds use the
#  layer cache, so only the first run pays for apt and the compile.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
file=$repo/compose/docker-compose.yml
project=megle-test-$$
MEGLE_TAG=test-$(printf '%s' "$repo" | md5sum | cut -c1-8)
export MEGLE_TAG
export COMPOSE_PROJECT=$project COMPOSE_FILE_PATH=$file

say() { printf 'compose.sh: %s\n' "$*"; }
since() { echo $(($(date +%s) - $1)); }
dc() { docker compose -p "$project" -f "$file" "$@"; }

#  ---------------------------------------------------------------------
#  Engine
if ! docker info >/dev/null 2>&1; then
    engine=$(dirname "$repo")/shared/tools/docker-engine
    if [ -f "$engine" ]; then
        #  Run through bash: the CI copy of shared/ may lack exec bits.
        say "no Docker engine: $engine up"
        timeout 900 bash "$engine" up
    fi
fi
if ! docker info >/dev/null 2>&1 || ! docker compose version >/dev/null 2>&1; then
    say "SKIP: no Docker engine with the compose v2 plugin"
    exit 77
fi
command -v node >/dev/null || { say "node not found"; exit 1; }
[ -d "$repo/tests/node_modules/ws" ] || { say "tests/node_modules/ws missing (npm ci in tests/)"; exit 1; }

#  ---------------------------------------------------------------------
#  Always leave nothing behind.
cleanup() {
    local rc=$?
    if [ $rc -ne 0 ]; then
        say "FAILED ($rc); last logs:"
        dc ps -a 2>&1 || true
        dc logs --no-color --tail 60 2>&1 | tail -300 || true
    fi
    say "docker compose down -v"
    [ -z "${cid:-}" ] || docker rm -f "$cid" >/dev/null 2>&1 || true
    down_all "$project" 20
    [ -z "${ports:-}" ] || rm -f "$ports"
    exit $rc
}
#  down_all PROJECT TIMEOUT: remove PROJECT, PROJECT-g and PROJECT-m.
down_all() {
    timeout 120 docker compose -p "$1" -f "$file" --profile turn --profile tools \
        down -v --remove-orphans --timeout "$2" >/dev/null 2>&1 || true
    MEGLE_MATCHER_ADDR=127.0.0.1 timeout 120 docker compose -p "$1-g" \
        -f "$repo/compose/gateway-host.yml" down -v --remove-orphans \
        --timeout "$2" >/dev/null 2>&1 || true
    MEGLE_BUS_ADDR=127.0.0.1 timeout 120 docker compose -p "$1-m" \
        -f "$repo/compose/matcher-host.yml" --profile tools down -v \
        --remove-orphans --timeout "$2" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

#  Leftovers of interrupted earlier runs (their pid is gone).
for p in $(docker ps -a --format '{{.Label "com.docker.compose.project"}}' \
        | grep -E '^megle-test-[0-9]+(-[gm])?$' | sed -E 's/-[gm]$//' | sort -u); do
    kill -0 "${p#megle-test-}" 2>/dev/null || down_all "$p" 5
done

#  free_port ADDR: a free TCP port on ADDR, never the same twice.
ports=$(mktemp "${TMPDIR:-/tmp}/megle-compose-ports.XXXXXX")
free_port() { "$repo/scripts/free-port" "$ports" "$1"; }
MEGLE_PORT=$(free_port 127.0.0.1)
export MEGLE_PORT
#  Every gateway the same salt, as documented.
export MEGLE_IP_SALT=compose-test-salt-0123456789abcdef

#  Every compose file of compose/ is valid (tls.yml is an override).
for f in docker-compose.yml matcher-host.yml gateway-host.yml \
    "docker-compose.yml -f tls.yml" "gateway-host.yml -f tls.yml"; do
    (cd "$repo/compose" && MEGLE_MATCHER_ADDR=10.0.0.1 MEGLE_BUS_ADDR=10.0.0.1 \
        docker compose -f $f --profile turn --profile tools config -q)
done
say "compose files valid"

#  ---------------------------------------------------------------------
t0=$(date +%s)
timeout 1100 docker compose -p "$project" -f "$file" --profile turn --profile tools \
    build --progress plain >"${TMPDIR:-/tmp}/megle-compose-build.log" 2>&1 \
    || { tail -60 "${TMPDIR:-/tmp}/megle-compose-build.log"; exit 1; }
say "images built in $(since "$t0") s"

t1=$(date +%s)
dc up -d --no-build --scale gateway=3 --wait --wait-timeout 180
say "stack healthy in $(since "$t1") s"
dc ps

#  Nothing but the balancer is published, and only on 127.0.0.1.
published=$(docker ps --filter "label=com.docker.compose.project=$project" \
    --format '{{.Names}} {{.Ports}}' | grep -- '->' || true)
say "published: $published"
[ "$(printf '%s\n' "$published" | grep -c -- '->')" = 1 ]
printf '%s\n' "$published" | grep -q "^$project-lb-1 127.0.0.1:$MEGLE_PORT->8080/tcp$"

#  Non-root everywhere.
for c in $(dc ps -q); do
    user=$(docker exec "$c" id -u)
    [ "$user" != 0 ] || { say "$(docker inspect -f '{{.Name}}' "$c") runs as root"; exit 1; }
done
say "every container runs as non-root"

#  The web client through the balancer.
node -e "
const http = require('http');
http.get('http://127.0.0.1:$MEGLE_PORT/', (r) => {
    let b = ''; r.on('data', (c) => b += c);
    r.on('end', () => process.exit(r.statusCode === 200 && /<html/i.test(b) ? 0 : 1));
}).on('error', () => process.exit(1)).setTimeout(5000, () => process.exit(1));"
say "GET / through the balancer: 200"
code=$(node -e "require('http').get('http://127.0.0.1:$MEGLE_PORT/metrics',
    (r) => { console.log(r.statusCode); r.resume(); }).on('error', () => console.log(0))")
[ "$code" = 403 ] || { say "/metrics through the balancer: $code, want 403"; exit 1; }
#  grep reads it all (not -q): under pipefail an exec whose output grep
#  stopped reading would fail the pipeline (docker compose exec: 255).
dc exec -T --index 1 gateway megle-check get /metrics | grep '^megle_' >/dev/null
say "/metrics: 403 through the balancer, served inside the network"

#  ---------------------------------------------------------------------
(cd "$repo/tests" && timeout 300 node compose/drive.mjs)

#  The tap sees the bus (gateway heartbeats flow all the time).
if docker run --rm --entrypoint sh "megle-tap:$MEGLE_TAG" -c 'command -v megle-tap' >/dev/null; then
    out=$(timeout 60 docker compose -p "$project" -f "$file" --profile tools \
        run --rm --no-deps -T tap --type heartbeat --count 1 --duration 15 --json)
    say "tap: $out"
    printf '%s\n' "$out" | grep -q heartbeat
fi

#  coturn starts with the shared secret (on the internal bus network: it is a
#  host-network service in compose, and tests do not bind public interfaces).
cid=$(docker run -d --network "${project}_bus" -e MEGLE_TURN_SECRET=compose-test-secret \
    "megle-coturn:$MEGLE_TAG")
ok=0
for _ in $(seq 40); do
    if docker exec "$cid" megle-check tcp 3478 2>/dev/null; then ok=1; break; fi
    [ "$(docker inspect -f '{{.State.Running}}' "$cid")" = true ] || break
    sleep 0.5
done
docker logs "$cid" 2>&1 | tail -5
docker rm -f "$cid" >/dev/null
[ $ok = 1 ] || { say "coturn did not come up"; exit 1; }
say "coturn listens on 3478"

#  ---------------------------------------------------------------------
#  Matcher on its own host: matcher-host.yml publishes the bus on a private
#  address (here docker0's, reachable only from this machine and its
#  containers), gateway-host.yml runs 2 gateways + balancer against it.
dc down -v --remove-orphans --timeout 20 >/dev/null 2>&1
bus_addr=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1)
if [ -z "$bus_addr" ]; then
    say "no docker0 address: split deployment not tested"
else
    t2=$(date +%s)
    export MEGLE_BUS_ADDR=$bus_addr MEGLE_MATCHER_ADDR=$bus_addr
    MEGLE_BUS_IN_PORT=$(free_port "$bus_addr")
    MEGLE_BUS_OUT_PORT=$(free_port "$bus_addr")
    export MEGLE_BUS_IN_PORT MEGLE_BUS_OUT_PORT
    docker compose -p "$project-m" -f "$repo/compose/matcher-host.yml" \
        up -d --no-build --wait --wait-timeout 120
    docker compose -p "$project-g" -f "$repo/compose/gateway-host.yml" \
        up -d --no-build --scale gateway=2 --wait --wait-timeout 120
    (cd "$repo/tests" && DRIVE_MODE=split COMPOSE_PROJECT="$project-g" \
        COMPOSE_FILE_PATH="$repo/compose/gateway-host.yml" \
        REDIS_PROJECT="$project-m" REDIS_FILE_PATH="$repo/compose/matcher-host.yml" \
        timeout 120 node compose/drive.mjs)
    say "split deployment (bus on $bus_addr) ok in $(since "$t2") s"
fi

say "ok in $(since "$t0") s"
