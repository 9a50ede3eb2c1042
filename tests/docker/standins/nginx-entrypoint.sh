#!/bin/sh
# Entrypoint of the nginx stand-in, after the official image's documented behaviour: when the
# command is nginx or nginx-debug, run the executable *.sh files of /docker-entrypoint.d in
# name order (and source *.envsh), then exec the command. Left out: the image's own scripts in
# that folder (templates with envsubst, IPv6 listen tuning, worker_processes auto-tuning) and
# NGINX_ENTRYPOINT_QUIET_LOGS.
set -eu
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    for f in /docker-entrypoint.d/*; do
        [ -x "$f" ] || continue
        # shellcheck disable=SC1090
        case "$f" in
            *.envsh) . "$f" ;;
            *.sh) "$f" ;;
            *) ;;
        esac
    done
    if [ "$1" = nginx-debug ]; then
        shift
        set -- nginx "$@"
    fi
fi
exec "$@"
