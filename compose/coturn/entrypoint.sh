#!/bin/sh
#  entrypoint.sh - start coturn with megle's settings from the environment:
#    MEGLE_TURN_SECRET       shared secret of the TURN REST API (required;
#                            the gateways must use the same one)
#    MEGLE_TURN_REALM        realm (default megle)
#    MEGLE_TURN_EXTERNAL_IP  public address, when the host is behind NAT
#    MEGLE_TURN_MIN_PORT, MEGLE_TURN_MAX_PORT  UDP relay ports (49160-49200)
#  The secret goes into a private config file, not onto the command line.
set -eu
: "${MEGLE_TURN_SECRET:?MEGLE_TURN_SECRET is not set (see docs/deploy.md)}"
umask 077
conf=$(mktemp /tmp/turnserver.XXXXXX)
{
    cat /etc/coturn/megle.conf
    echo "static-auth-secret=$MEGLE_TURN_SECRET"
    echo "realm=${MEGLE_TURN_REALM:-megle}"
    echo "min-port=${MEGLE_TURN_MIN_PORT:-49160}"
    echo "max-port=${MEGLE_TURN_MAX_PORT:-49200}"
    if [ -n "${MEGLE_TURN_EXTERNAL_IP:-}" ]; then
        echo "external-ip=$MEGLE_TURN_EXTERNAL_IP"
    fi
} >"$conf"
exec turnserver -c "$conf" "$@"
