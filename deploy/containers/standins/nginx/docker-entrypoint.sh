#!/bin/sh
# As the official image's entrypoint: before starting nginx, run /docker-entrypoint.d/*.sh.
set -e
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    for script in /docker-entrypoint.d/*.sh; do
        if [ -x "$script" ]; then
            echo "$0: running $script"
            "$script"
        fi
    done
fi
exec "$@"
