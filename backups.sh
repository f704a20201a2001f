#!/usr/bin/env bash
# Back up EyeTagger's database: a timestamped, compressed, verified dump in data/backups/.
# Prints one log line per run; exits non-zero on any failure. See --help.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: backups.sh [--compose | --database-url URL] [--keep N] [--dir DIR] [--dvc]

Dump EyeTagger's database into DIR (default data/backups/) as
  eyetagger_bkp_<UTC time>.sql.gz       Postgres: pg_dump, plain SQL, gzip
  eyetagger_bkp_<UTC time>.sqlite3.gz   SQLite: the online .backup of the live file, gzip
check that the file reads back whole, then delete all but the newest N backups.

Which database:
  --database-url URL  postgres://user:password@host:port/name or sqlite:///path
                      (default: $DATABASE_URL)
  --compose           Postgres in the docker compose service `db` (its own pg_dump)
  neither, and no DATABASE_URL: the compose service when docker-compose.yaml and
  env/postgres.env are here, else data/db.sqlite3.

Options:
  --keep N   keep the newest N backups (default $BACKUP_KEEP or 28: a week of 6-hourly runs)
  --dir DIR  where backups go (default $BACKUP_DIR or data/backups/ beside this script)
  --dvc      then `dvc add DIR && dvc push` to the DVC remote configured in this repository
  --help     show this help

Schedule it with cron (docs/operations.md, "Backups"), e.g. every 6 hours:
  0 */6 * * * /eyetagger/backups.sh >> /eyetagger/data/logs/backups.log 2>&1
Restore with deploy/restore.sh.
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/dbtools.sh
source "$repo/deploy/dbtools.sh"

keep=${BACKUP_KEEP:-28}
dir=${BACKUP_DIR:-$repo/data/backups}
mode=auto
url=${DATABASE_URL:-}
dvc=false
done_logging=false
scratch=()

# fail MESSAGE: the run's one log line, then exit 1.
fail() {
    printf '%s backups.sh FAILED: %s\n' "$(now_utc)" "$*" >&2
    done_logging=true
    exit 1
}

on_exit() {
    local status=$?
    if ((${#scratch[@]})); then rm -f "${scratch[@]}"; fi
    if ((status != 0)) && [[ $done_logging == false ]]; then
        printf '%s backups.sh FAILED: exit status %s (line %s: %s)\n' \
            "$(now_utc)" "$status" "${failed_line:-?}" "${failed_command:-?}" >&2
    fi
}
trap on_exit EXIT
trap 'failed_line=$LINENO; failed_command=$BASH_COMMAND' ERR

while (($#)); do
    case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        --keep) keep=${2:-}; shift 2 || fail "--keep needs a number" ;;
        --keep=*) keep=${1#*=}; shift ;;
        --dir) dir=${2:-}; shift 2 || fail "--dir needs a folder" ;;
        --dir=*) dir=${1#*=}; shift ;;
        --database-url) url=${2:-}; mode=url; shift 2 || fail "--database-url needs a URL" ;;
        --database-url=*) url=${1#*=}; mode=url; shift ;;
        --compose) mode=compose; shift ;;
        --dvc) dvc=true; shift ;;
        *) fail "unknown argument: $1 (see --help)" ;;
    esac
done
[[ $keep =~ ^[1-9][0-9]*$ ]] || fail "--keep must be a whole number of at least 1; got '$keep'"
[[ $mode == url && -z $url ]] && fail "--database-url is empty"

errors=$(mktemp)
scratch+=("$errors")
last_error() { tail -n 1 "$errors" | cut -c1-300; }

db_select "$mode" "$url" "$repo" 2>"$errors" || fail "$(last_error)"
mkdir -p "$dir" 2>"$errors" || fail "cannot create $dir: $(last_error)"
dir=$(cd "$dir" && pwd)

# One run at a time: a slow dump must not overlap the next cron run.
# (A lock on the folder itself: no lock file to end up in the backups or in DVC.)
if command -v flock >/dev/null; then
    exec 9<"$dir"
    flock -n 9 || fail "another backups.sh is running on $dir"
fi

case $DB_KIND in
    postgres) suffix=sql.gz ;;
    sqlite) suffix=sqlite3.gz ;;
esac
name="${BACKUP_PREFIX}_$(date -u +%Y-%m-%dT%H%M%SZ).$suffix"
if [[ -e $dir/$name ]]; then # two runs in one second: names must stay unique and ordered
    sleep 1
    name="${BACKUP_PREFIX}_$(date -u +%Y-%m-%dT%H%M%SZ).$suffix"
fi
partial="$dir/.$name.partial"
scratch+=("$partial")
started=$SECONDS

if [[ $DB_KIND == postgres ]]; then
    # pg_dump reads one consistent snapshot, however busy the database is.
    pg_dump_stdout 2>"$errors" | gzip -c >"$partial" || fail "pg_dump of $DB_LABEL failed: $(last_error)"
    verify_postgres_dump "$partial" 2>"$errors" || fail "the new dump does not read back: $(last_error)"
else
    [[ -f $SQLITE_PATH ]] || fail "no SQLite database at $SQLITE_PATH"
    command -v sqlite3 >/dev/null || fail "the sqlite3 command is missing (apt-get install sqlite3)"
    copy="$dir/.$name.sqlite3"
    scratch+=("$copy" "$copy-journal" "$copy-wal" "$copy-shm")
    # The online backup API, inside a read transaction: one consistent snapshot while
    # EyeTagger keeps writing (WAL), copied without restarting when a write lands mid-copy.
    sqlite3 -bail "$SQLITE_PATH" <<EOF >/dev/null 2>"$errors" || fail "SQLite .backup of $SQLITE_PATH failed: $(last_error)"
.timeout 20000
BEGIN;
SELECT count(*) FROM sqlite_master;
.backup "$copy"
COMMIT;
EOF
    # A plain rollback-journal file: it opens on its own, with no -wal or -shm beside it.
    sqlite3 "$copy" 'PRAGMA journal_mode=DELETE;' >/dev/null 2>"$errors" || fail "the copy does not open: $(last_error)"
    verify_sqlite_file "$copy" 2>"$errors" || fail "the copy is not sound: $(last_error)"
    gzip -c <"$copy" >"$partial" 2>"$errors" || fail "compressing the copy failed: $(last_error)"
    rm -f "$copy"
    check="$dir/.$name.check"
    scratch+=("$check" "$check-wal" "$check-shm")
    verify_sqlite_dump "$partial" "$check" 2>"$errors" || fail "the new backup does not read back: $(last_error)"
    rm -f "$check"
fi

mv "$partial" "$dir/$name"
size=$(wc -c <"$dir/$name")

# Keep the newest N (names sort by time).
shopt -s nullglob
backups=("$dir/${BACKUP_PREFIX}_"*.sql.gz "$dir/${BACKUP_PREFIX}_"*.sqlite3.gz)
shopt -u nullglob
mapfile -t backups < <(printf '%s\n' "${backups[@]}" | sort)
removed=0
while ((${#backups[@]} - removed > keep)); do
    rm -f "${backups[removed]}"
    removed=$((removed + 1))
done
kept=$((${#backups[@]} - removed))

pushed=""
if [[ $dvc == true ]]; then
    command -v dvc >/dev/null || fail "backup $name written, but the dvc command is missing (pip install dvc)"
    (cd "$repo" && dvc add --quiet "$dir" && dvc push --quiet "$dir.dvc") >"$errors" 2>&1 ||
        fail "backup $name written, but the DVC push failed: $(grep -v '^\s*$' "$errors" | tail -n 1 | cut -c1-300)"
    pushed=", pushed to the DVC remote"
fi

printf '%s backups.sh ok: %s -> %s (%s bytes, %s s); kept %s, removed %s%s\n' \
    "$(now_utc)" "$DB_LABEL" "$dir/$name" "$size" "$((SECONDS - started))" "$kept" "$removed" "$pushed"
done_logging=true
