#!/usr/bin/env bash
# Run backups.sh every BACKUP_INTERVAL seconds: the compose service `backup` (a postgres image,
# so pg_dump matches the server). A failed run is logged and tried again a minute later.
set -euo pipefail

usage() {
    cat <<'EOF_USAGE'
Usage: backup-loop.sh [--check] [BACKUPS.SH OPTIONS...]

Back up the compose service db now and then every BACKUP_INTERVAL seconds (default 21600,
6 hours), keeping BACKUP_KEEP backups. Reads POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB
(env/postgres.env) and connects to POSTGRES_HOST (default db).
  --check  exit 0 if the newest backup is younger than two intervals (the healthcheck)
EOF_USAGE
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
interval=${BACKUP_INTERVAL:-21600}
[[ $interval =~ ^[1-9][0-9]*$ ]] || { echo "BACKUP_INTERVAL must be a number of seconds; got '$interval'" >&2; exit 1; }

case ${1:-} in
    -h | --help)
        usage
        exit 0
        ;;
    --check)
        newest=$(find "${BACKUP_DIR:-$repo/data/backups}" -maxdepth 1 -name 'eyetagger_bkp_*.gz' \
            -mmin "-$((2 * interval / 60 + 1))" -print -quit)
        [[ -n $newest ]] || { echo "no backup in the last $((2 * interval)) s" >&2; exit 1; }
        exit 0
        ;;
esac

: "${POSTGRES_USER:?set in env/postgres.env}" "${POSTGRES_PASSWORD:?set in env/postgres.env}"
: "${POSTGRES_DB:?set in env/postgres.env}"

# percent_encode TEXT: make TEXT safe inside a URL (a password may hold @, / or :).
percent_encode() {
    local text=$1 out="" char i
    for ((i = 0; i < ${#text}; i++)); do
        char=${text:i:1}
        if [[ $char == [A-Za-z0-9._~-] ]]; then out+=$char; else out+=$(printf '%%%02X' "'$char"); fi
    done
    printf '%s' "$out"
}
# backups.sh hands the password to pg_dump through PGPASSWORD, never on a command line.
DATABASE_URL="postgres://$(percent_encode "$POSTGRES_USER"):$(percent_encode "$POSTGRES_PASSWORD")"
DATABASE_URL+="@${POSTGRES_HOST:-db}:5432/$(percent_encode "$POSTGRES_DB")"
export DATABASE_URL

# As PID 1 in a container, bash ignores SIGTERM unless told otherwise.
trap 'exit 0' TERM INT

while true; do
    # A failed run (it logged why) is tried again in a minute, not an interval later: the first one
    # may run while the database is still starting. The healthcheck turns red if failures go on.
    next_run=$interval
    "$repo/backups.sh" "$@" || next_run=$((interval < 60 ? interval : 60))
    sleep "$next_run" &
    wait $! # so `docker compose stop` (SIGTERM) ends the sleep at once
done
