#  shellcheck shell=bash
#  lib.sh - shell helpers shared by the scripts that start megle stacks
#  on loopback (scripts/bench.sh, tools/bench/cost.sh, tests/massclose.sh).
#  Source it from bash; it defines functions only.
#
#    free_port          a free 127.0.0.1 port this run has not handed out
#                       yet (scripts/free-port; its state file is
#                       $WORK/ports: set WORK, the run's own directory)
#    wait_for S CMD...  run CMD (quietly) every 0.05 s until it succeeds;
#                       fails once S seconds have passed
#    ready PORT         is the megle process serving HTTP on PORT ready
#                       (its /readyz answers 200)?

MEGLE_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

free_port() { "$MEGLE_SCRIPTS/free-port" "$WORK/ports"; }

wait_for() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.05 #  the polling interval
    done
}

ready() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz")" = 200 ]; }
