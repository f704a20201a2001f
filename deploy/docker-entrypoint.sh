#!/usr/bin/env bash
# Start the EyeTagger web container: wait for the database, migrate it, then run the command
# (Gunicorn by default). Migrations are safe to run from several replicas at once on Postgres:
# each runs in a transaction, and the loser of a race fails and is restarted by Docker.
set -euo pipefail

log() { printf '%s docker-entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

if [[ "${1:-}" == "--help" ]]; then
    echo "Usage: docker-entrypoint.sh [COMMAND...]  (default: gunicorn -c deploy/gunicorn.conf.py backend.wsgi)"
    echo "Set MIGRATE_ON_START=false to skip the migrations (e.g. on all replicas but one)."
    exit 0
fi

cd "$(dirname "$0")/.."
python=${PYTHON:-python}

if [[ "${MIGRATE_ON_START:-true}" == "true" ]]; then
    log "waiting for the database"
    for attempt in $(seq 1 "${DB_WAIT_SECONDS:-60}"); do
        if "$python" manage.py shell -c "from django.db import connection; connection.ensure_connection()" \
            >/dev/null 2>&1; then
            break
        fi
        if [[ "$attempt" == "${DB_WAIT_SECONDS:-60}" ]]; then
            log "the database did not answer in ${DB_WAIT_SECONDS:-60} s; giving up"
            "$python" manage.py shell -c "from django.db import connection; connection.ensure_connection()"
            exit 1
        fi
        sleep 1
    done
    log "applying migrations"
    "$python" manage.py migrate --no-input
fi

if [[ $# -eq 0 ]]; then
    set -- gunicorn -c deploy/gunicorn.conf.py backend.wsgi
fi
log "starting: $*"
exec "$@"
