#!/usr/bin/env bash
#  install-deps.sh - install whatever megle needs that is missing, from
#  Debian's packages (and the tests' npm packages). Idempotent: a second run
#  changes nothing. Needs root (or sudo) for apt-get.
#
#    scripts/install-deps.sh          build + run + test dependencies
#    scripts/install-deps.sh --run    only what building and running need
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

build_pkgs=(gcc libc6-dev cmake ninja-build pkg-config
    libzmq3-dev libczmq-dev libwebsockets-dev libhiredis-dev libmsgpack-dev
    libcjson-dev libssl-dev check redis-server
    libev-dev libwebsockets-evlib-ev)
test_pkgs=(clang libclang-rt-14-dev clang-format chromium iproute2 util-linux python3 python3-prometheus-client haproxy openssl curl
    ca-certificates procps)

pkgs=("${build_pkgs[@]}")
[ "${1:-}" = --run ] || pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done
#  Node.js may come from Debian (nodejs + npm) or elsewhere (NodeSource ships
#  npm inside its nodejs): only ask apt for what is really absent.
if [ "${1:-}" != --run ]; then
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

#  The tests' own npm packages (ws, playwright-core; never a browser
#  download: the tests drive Debian's chromium).
if [ "${1:-}" != --run ]; then
    if [ ! -d "$here/tests/node_modules/ws" ] \
        || [ "$here/tests/package-lock.json" -nt "$here/tests/node_modules/.package-lock.json" ]; then
        (cd "$here/tests" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
            npm ci --no-audit --no-fund --loglevel=error)
    fi
fi
echo "install-deps: ok"
