#!/usr/bin/env bash
# Restore an EyeTagger backup into a new database, check it, and swap it in, keeping the old one.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy/restore.sh [--compose | --database-url URL] [--no-swap] [--yes]
                         [--terminate-connections] BACKUP

Restore BACKUP (made by backups.sh) without touching the live database until the copy is
known good:
  1. check BACKUP reads back whole (a corrupt or truncated file is refused);
  2. load it into a NEW database (Postgres: <name>_restore_<time>; SQLite: a new file);
  3. check the new database (Django's tables, row counts);
  4. swap: the live database is renamed <name>_old_<time> (SQLite: db.sqlite3.old-<time>)
     and the new one takes its name. The old one stays until you drop it.

Which database (the live one, whose name the restored copy takes):
  --database-url URL  postgres://user:password@host:port/name or sqlite:///path
                      (default: $DATABASE_URL)
  --compose           Postgres in the docker compose service `db`; the web and backup
                      services are stopped during the swap and started again after it
  neither, and no DATABASE_URL: the compose service when docker-compose.yaml and
  env/postgres.env are here, else data/db.sqlite3.

Options:
  --no-swap                only restore into the new database and check it
  --yes                    swap without asking (needed when not run from a terminal)
  --terminate-connections  Postgres at a URL: end other sessions on the live database
                           (otherwise stop EyeTagger first; the restore refuses to swap
                           while anything is connected)
  --help                   show this help
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/dbtools.sh
source "$repo/deploy/dbtools.sh"

mode=auto
url=${DATABASE_URL:-}
swap=true
assume_yes=false
terminate=false
backup=""
scratch=()

log() { printf '%s restore.sh: %s\n' "$(now_utc)" "$*"; }
fail() {
    printf '%s restore.sh FAILED: %s\n' "$(now_utc)" "$*" >&2
    exit 1
}
cleanup() { if ((${#scratch[@]})); then rm -f "${scratch[@]}"; fi; }
trap cleanup EXIT

while (($#)); do
    case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        --database-url) url=${2:-}; mode=url; shift 2 || fail "--database-url needs a URL" ;;
        --database-url=*) url=${1#*=}; mode=url; shift ;;
        --compose) mode=compose; shift ;;
        --no-swap) swap=false; shift ;;
        --yes) assume_yes=true; shift ;;
        --terminate-connections) terminate=true; shift ;;
        -*) fail "unknown option: $1 (see --help)" ;;
        *)
            [[ -z $backup ]] || fail "name one backup file; got '$backup' and '$1'"
            backup=$1
            shift
            ;;
    esac
done
[[ -n $backup ]] || fail "name the backup to restore (see --help)"
[[ -f $backup ]] || fail "no such file: $backup"
kind=$(dump_kind "$backup" 2>&1) || fail "$kind"

errors=$(mktemp)
scratch+=("$errors")
last_error() { grep -v '^\s*$' "$errors" | tail -n 1 | cut -c1-300; }

db_select "$mode" "$url" "$repo" 2>"$errors" || fail "$(last_error)"
[[ $kind == "$DB_KIND" ]] || fail "$backup is a $kind backup, but the database is $DB_LABEL"
stamp=$(date -u +%Y%m%d%H%M%S)

confirm_swap() {
    [[ $assume_yes == true ]] && return 0
    [[ -t 0 ]] || fail "not swapping without --yes (no terminal to ask on); the restored copy is $1"
    local answer
    read -r -p "Swap $1 in as the live database (the current one is kept as $2)? [y/N] " answer
    [[ $answer == [yY]* ]] || fail "not swapped; the restored copy is $1"
}

# ---------------------------------------------------------------------------- SQLite
restore_sqlite() {
    local live=$SQLITE_PATH
    local new="$live.restore-$stamp" old="$live.old-$stamp" tries=0
    # A restore in the same second as the last one would reuse its names: take the next second.
    while [[ -e $new || -e $old ]]; do
        ((++tries <= 5)) || fail "$new or $old already exists"
        sleep 1
        stamp=$(date -u +%Y%m%d%H%M%S)
        new="$live.restore-$stamp" old="$live.old-$stamp"
    done
    log "checking $backup"
    verify_sqlite_dump "$backup" "$new" 2>"$errors" || {
        rm -f "$new"
        fail "refused: $(last_error)"
    }
    # Older or hand-made copies may be in WAL mode: make the file whole on its own before it moves.
    sqlite3 "$new" 'PRAGMA journal_mode=DELETE;' >/dev/null 2>"$errors" || fail "refused: $(last_error)"
    rm -f "$new-wal" "$new-shm"
    log "restored into $new: $(sqlite_counts "$new")"
    if [[ $swap == false ]]; then
        log "not swapped (--no-swap); the live database is untouched"
        return 0
    fi
    confirm_swap "$new" "$old"
    if [[ -f $live ]]; then
        # Fold the write-ahead log into the file, so the kept copy is whole on its own.
        sqlite3 "$live" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null 2>"$errors" ||
            fail "cannot checkpoint $live (is EyeTagger still running? stop it first): $(last_error)"
        mv "$live" "$old"
        local extra
        for extra in -wal -shm -journal; do
            [[ -e $live$extra ]] && mv "$live$extra" "$old$extra"
        done
    fi
    mv "$new" "$live"
    verify_sqlite_file "$live" 2>"$errors" || fail "after the swap: $(last_error)"
    log "swapped in: $live now holds the backup ($(sqlite_counts "$live"))"
    [[ -f $old ]] && log "the previous database is kept as $old; delete it when satisfied"
    return 0
}

sqlite_counts() {
    sqlite3 -readonly "$1" "SELECT (SELECT count(*) FROM auth_user) || ' users, ' ||
        (SELECT count(*) FROM api_dataset) || ' datasets, ' || (SELECT count(*) FROM api_image) || ' images, ' ||
        (SELECT count(*) FROM api_annotation) || ' annotations';"
}

# ---------------------------------------------------------------------------- Postgres
pg_counts() {
    pg_psql "$1" -At -c "SELECT (SELECT count(*) FROM auth_user) || ' users, ' ||
        (SELECT count(*) FROM api_dataset) || ' datasets, ' || (SELECT count(*) FROM api_image) || ' images, ' ||
        (SELECT count(*) FROM api_annotation) || ' annotations'"
}

pg_quote_ident() { printf '"%s"' "${1//\"/\"\"}"; }

restore_postgres() {
    local live new old
    log "checking $backup"
    verify_postgres_dump "$backup" 2>"$errors" || fail "refused: $(last_error)"
    live=$(pg_live_name 2>"$errors") || fail "cannot reach the database: $(last_error)"
    new="${live}_restore_$stamp"
    old="${live}_old_$stamp"
    ((${#old} <= 63)) || fail "the database name $live is too long to add _old_$stamp (Postgres allows 63 bytes)"
    # A restore in the same second as the last one (which kept its copy) would reuse its names: take the next second.
    local tries=0
    while [[ -n $(pg_psql postgres -At -c "SELECT 1 FROM pg_database WHERE datname IN ('${new//\'/\'\'}', '${old//\'/\'\'}')" 2>/dev/null) ]]; do
        ((++tries <= 5)) || fail "$new or $old already exists"
        sleep 1
        stamp=$(date -u +%Y%m%d%H%M%S)
        new="${live}_restore_$stamp"
        old="${live}_old_$stamp"
    done

    log "creating $new"
    pg_psql postgres -c "CREATE DATABASE $(pg_quote_ident "$new") TEMPLATE template0" 2>"$errors" ||
        fail "cannot create $new: $(last_error)"
    # From here on, a failure drops the half-restored copy; the live database was never touched.
    drop_new_on_failure() {
        pg_psql postgres -c "DROP DATABASE IF EXISTS $(pg_quote_ident "$new")" >/dev/null 2>&1 || true
    }
    trap 'drop_new_on_failure; cleanup' EXIT

    log "loading $backup into $new"
    gzip -dc "$backup" | pg_psql "$new" --single-transaction >/dev/null 2>"$errors" ||
        fail "loading the dump failed: $(last_error)"
    local migrations
    migrations=$(pg_psql "$new" -At -c "SELECT count(*) FROM django_migrations" 2>"$errors") ||
        fail "the restored database has no Django tables: $(last_error)"
    ((migrations > 0)) || fail "the restored database has no migrations recorded"
    local counts
    counts=$(pg_counts "$new" 2>"$errors") || fail "the restored database lacks EyeTagger's tables: $(last_error)"
    log "restored into $new: $counts"
    trap cleanup EXIT # the restored copy is good: keep it, whatever happens next

    if [[ $swap == false ]]; then
        log "not swapped (--no-swap); the live database is untouched"
        return 0
    fi
    confirm_swap "$new" "$old"

    local stopped=false
    if [[ $DB_MODE == compose ]]; then
        log "stopping the web and backup services for the swap"
        "${COMPOSE_CMD[@]}" stop web backup >/dev/null 2>"$errors" || fail "cannot stop web: $(last_error)"
        stopped=true
        terminate=true # whatever is left (an operator's psql) goes too
    fi

    local live_q new_q old_q sessions
    live_q=$(pg_quote_ident "$live")
    new_q=$(pg_quote_ident "$new")
    old_q=$(pg_quote_ident "$old")
    # No new sessions on the live database while it is renamed.
    pg_psql postgres -c "ALTER DATABASE $live_q ALLOW_CONNECTIONS false" 2>"$errors" ||
        fail "cannot lock $live: $(last_error); nothing swapped, the restored copy is $new"
    reopen_live() { pg_psql postgres -c "ALTER DATABASE $live_q ALLOW_CONNECTIONS true" >/dev/null 2>&1 || true; }
    trap 'reopen_live; cleanup' EXIT
    local others="SELECT count(*) FROM pg_stat_activity WHERE datname = '${live//\'/\'\'}' AND pid <> pg_backend_pid()"
    if [[ $terminate == true ]]; then
        pg_psql postgres -At -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = '${live//\'/\'\'}' AND pid <> pg_backend_pid()" >/dev/null 2>"$errors" ||
            fail "cannot end the sessions on $live: $(last_error)"
        sleep 1
    fi
    sessions=$(pg_psql postgres -At -c "$others" 2>"$errors") || fail "$(last_error)"
    if ((sessions > 0)); then
        fail "$sessions sessions are connected to $live: stop EyeTagger (or pass --terminate-connections);" \
            "nothing swapped, the restored copy is $new"
    fi
    pg_psql postgres -c "BEGIN; ALTER DATABASE $live_q RENAME TO $old_q; ALTER DATABASE $new_q RENAME TO $live_q; COMMIT;" \
        2>"$errors" || fail "the swap failed: $(last_error); nothing swapped, the restored copy is $new"
    trap cleanup EXIT
    pg_psql postgres -c "ALTER DATABASE $old_q ALLOW_CONNECTIONS true" 2>"$errors" ||
        log "warning: $old stays closed to connections: $(last_error)"

    if [[ $stopped == true ]]; then
        log "starting the web and backup services"
        "${COMPOSE_CMD[@]}" start web backup >/dev/null 2>"$errors" || fail "swapped, but web did not start: $(last_error)"
    fi
    counts=$(pg_counts "$live" 2>"$errors") || fail "after the swap, $live does not answer: $(last_error)"
    log "swapped in: $live now holds the backup ($counts)"
    log "the previous database is kept as $old; drop it when satisfied: DROP DATABASE $old_q;"
}

if [[ $DB_KIND == sqlite ]]; then
    command -v sqlite3 >/dev/null || fail "the sqlite3 command is missing (apt-get install sqlite3)"
    restore_sqlite
else
    restore_postgres
fi
