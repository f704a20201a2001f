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

# A worker killed while an upload arrived or unpacked leaves a spooled file in
# FILE_UPLOAD_TEMP_DIR or a hidden .unpacking-* folder in DATASET_UPLOAD_ROOT (both volumes, so
# restarting does not clear them). Remove those a day old: never an upload still in progress,
# since Nginx gives one minutes, not hours. Failing to clean up does not stop the start.
if [[ -n "${FILE_UPLOAD_TEMP_DIR:-}" && -d "$FILE_UPLOAD_TEMP_DIR" ]]; then
    find "$FILE_UPLOAD_TEMP_DIR" -maxdepth 1 -type f -name '*.upload*' -mmin +1440 -delete \
        || log "could not remove old uploads from $FILE_UPLOAD_TEMP_DIR; starting anyway"
fi
if [[ -n "${DATASET_UPLOAD_ROOT:-}" && -d "$DATASET_UPLOAD_ROOT" ]]; then
    find "$DATASET_UPLOAD_ROOT" -mindepth 1 -maxdepth 1 -type d -name '.unpacking-*' -mmin +1440 \
        -exec rm -rf {} + || log "could not remove old unpacking folders from $DATASET_UPLOAD_ROOT; starting anyway"
fi

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
