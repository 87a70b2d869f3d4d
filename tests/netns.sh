#!/bin/sh
#  netns.sh CMD [ARGS...] - run CMD inside a new network namespace that has
#  only the loopback interface, up. Browser tests use it so that WebRTC
#  candidates are all 127.0.0.1 and nothing can leave the machine.
#
#  As root with CAP_NET_ADMIN (a normal root shell, CI) a plain network
#  namespace does. Where root lacks CAP_NET_ADMIN (e.g. a container started
#  with only --cap-add SYS_ADMIN), a user namespace that maps root gives the
#  capabilities needed inside the new network namespace.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
inner='ip link set lo up && exec "$@"'
if unshare --net -- sh -c 'ip link set lo up' 2>/dev/null; then
    exec unshare --net -- sh -c "$inner" sh "$@"
fi
exec unshare --user --map-root-user --net -- sh -c "$inner" sh "$@"
