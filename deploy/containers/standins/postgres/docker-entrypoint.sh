#!/bin/sh
# As the official postgres entrypoint: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB,
# POSTGRES_HOST_AUTH_METHOD, POSTGRES_INITDB_ARGS and PGDATA on the first start, then the
# scripts in /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz); `command: -c ...` works.
set -e
case "$1" in -*) set -- postgres "$@" ;; esac
if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec gosu postgres "$0" "$@"
fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        echo "Error: database is uninitialized and superuser password is not specified." >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-postgres}" >"$pwfile"
    # shellcheck disable=SC2086
    initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" -E UTF8 $POSTGRES_INITDB_ARGS >/dev/null
    rm -f "$pwfile"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    export PGUSER="$user" PGDATABASE=postgres
    [ "$db" = postgres ] || psql -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$db\"" >/dev/null
    for f in /docker-entrypoint-initdb.d/*; do
        # shellcheck disable=SC1090  # sources the image user's own *.sh scripts
        case "$f" in
            *.sh) echo "$0: running $f" && . "$f" ;;
            *.sql) echo "$0: running $f"; psql -v ON_ERROR_STOP=1 -q -d "$db" -f "$f" ;;
            *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | psql -v ON_ERROR_STOP=1 -q -d "$db" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
