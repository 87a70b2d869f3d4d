#!/bin/bash
#  megle-check - container health checks without curl (bash's /dev/tcp):
#    megle-check http PATH [PORT]  GET http://127.0.0.1:PORT/PATH answers 200
#                                  (PORT defaults to the port of MEGLE_HTTP,
#                                  else 8080)
#    megle-check tcp PORT          something accepts TCP on 127.0.0.1:PORT
#    megle-check get PATH [PORT]   print the whole answer (e.g. /metrics)
#  Exit status 0 = healthy, 1 = not.
set -u
case "${1:-}" in
http | get)
    path=${2:-/healthz}
    port=${3:-}
    if [ -z "$port" ]; then
        port=${MEGLE_HTTP:-:8080}
        port=${port##*:}
    fi
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' \
        "$path" >&3
    if [ "$1" = get ]; then
        exec cat <&3
    fi
    read -r -t 3 _ status _ <&3 || exit 1
    [ "$status" = 200 ]
    ;;
tcp)
    exec 3<>"/dev/tcp/127.0.0.1/${2:?port}" || exit 1
    ;;
*)
    echo "usage: megle-check http PATH [PORT] | tcp PORT" >&2
    exit 2
    ;;
esac
