# shellcheck shell=bash
# shellcheck disable=SC2034  # DB_KIND, DB_LABEL, SQLITE_PATH are for the scripts that source this
# shellcheck disable=SC2016  # $POSTGRES_USER and friends expand inside the db container, not here
# What backups.sh and deploy/restore.sh share: finding the database, talking to it, checking dumps.
# Sourced, never run. Functions report problems by printing to stderr and returning non-zero.
#
# The database is one of:
#   - Postgres at a URL (DATABASE_URL or --database-url), with the local pg_dump/psql;
#   - Postgres in the compose service `db` (--compose), with the container's own pg_dump/psql;
#   - SQLite at a sqlite:/// URL, with the sqlite3 command-line shell.

BACKUP_PREFIX=${BACKUP_PREFIX:-eyetagger_bkp}

now_utc() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# _percent_decode TEXT: undo URL percent-encoding (a password may hold @ or / as %40, %2F).
_percent_decode() {
    local text=${1//\\/\\\\}
    printf '%b' "${text//%/\\x}"
}

# db_select MODE URL REPO: decide which database to use, and set
#   DB_KIND   postgres | sqlite
#   DB_MODE   url | compose
#   DB_LABEL  a description without the password, for log lines
#   SQLITE_PATH (sqlite), and the libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE
#   (postgres at a URL: the password travels in the environment, never on a command line).
# MODE is url, compose or auto: auto takes URL if given, else the compose service when this is
# a compose deployment (docker-compose.yaml and env/postgres.env), else data/db.sqlite3.
db_select() {
    local mode=$1 url=$2 repo=$3
    if [[ $mode == auto ]]; then
        if [[ -n $url ]]; then
            mode=url
        elif [[ -f $repo/docker-compose.yaml && -f $repo/env/postgres.env ]]; then
            mode=compose
        else
            mode=url
            url="sqlite:///$repo/data/db.sqlite3"
        fi
    fi
    if [[ $mode == compose ]]; then
        DB_KIND=postgres
        DB_MODE=compose
        DB_LABEL="postgres (compose service db)"
        read -r -a COMPOSE_CMD <<<"${COMPOSE:-docker compose}"
        return 0
    fi
    DB_MODE=url
    case $url in
        sqlite:*)
            DB_KIND=sqlite
            # Django's form: sqlite:///relative/path or sqlite:////absolute/path.
            SQLITE_PATH=${url#sqlite://}
            SQLITE_PATH=${SQLITE_PATH#/}
            if [[ -z $SQLITE_PATH || $SQLITE_PATH == *:memory:* ]]; then
                echo "DATABASE_URL names no SQLite file: $url" >&2
                return 1
            fi
            [[ $SQLITE_PATH == /* ]] || SQLITE_PATH="$repo/$SQLITE_PATH"
            if [[ $SQLITE_PATH == *\"* ]]; then
                echo "the SQLite path may not contain a double quote: $SQLITE_PATH" >&2
                return 1
            fi
            DB_LABEL="sqlite $SQLITE_PATH"
            ;;
        postgres://* | postgresql://* | pgsql://* | psql://*)
            DB_KIND=postgres
            local re='^[a-z]+://(([^:@/]*)(:([^@/]*))?@)?([^:/?]*)(:([0-9]+))?(/([^?]*))?(\?(.*))?$'
            if ! [[ $url =~ $re ]]; then
                echo "cannot read the database URL (expected postgres://user:password@host:port/name)" >&2
                return 1
            fi
            local user=${BASH_REMATCH[2]} password=${BASH_REMATCH[4]} host=${BASH_REMATCH[5]}
            local port=${BASH_REMATCH[7]} name=${BASH_REMATCH[9]} query=${BASH_REMATCH[11]}
            if [[ -z $name ]]; then
                echo "the database URL names no database (postgres://user:password@host:port/NAME)" >&2
                return 1
            fi
            unset PGHOST PGPORT PGUSER PGPASSWORD PGSSLMODE
            [[ -n $host ]] && export PGHOST=$host
            [[ -n $port ]] && export PGPORT=$port
            if [[ -n $user ]]; then
                PGUSER=$(_percent_decode "$user")
                export PGUSER
            fi
            if [[ -n $password ]]; then
                PGPASSWORD=$(_percent_decode "$password")
                export PGPASSWORD
            fi
            PGDATABASE=$(_percent_decode "$name")
            export PGDATABASE
            if [[ $query =~ (^|&)sslmode=([a-z-]+) ]]; then
                export PGSSLMODE=${BASH_REMATCH[2]}
            fi
            DB_LABEL="postgres $PGDATABASE on ${host:-the local socket}${port:+:$port}"
            ;;
        *)
            echo "unsupported DATABASE_URL scheme (use postgres:// or sqlite:///): ${url%%:*}:" >&2
            return 1
            ;;
    esac
}

# compose_db SCRIPT [ARGS...]: run a sh script in the compose service db, which knows
# POSTGRES_USER and POSTGRES_DB (env/postgres.env) and connects through its local socket.
compose_db() {
    local script=$1
    shift
    "${COMPOSE_CMD[@]}" exec -T db sh -c "$script" sh "$@"
}

# pg_dump_stdout: write a plain SQL dump of the live database to stdout. Plain SQL, as the
# original tool made, restores with psql anywhere; no owners or grants, so any role can load it.
pg_dump_stdout() {
    if [[ $DB_MODE == compose ]]; then
        compose_db 'exec pg_dump --no-owner --no-privileges -U "$POSTGRES_USER" -d "$POSTGRES_DB"'
    else
        pg_dump --no-owner --no-privileges
    fi
}

# pg_psql DBNAME [PSQL ARGS...]: run psql on database DBNAME, stopping at the first error.
pg_psql() {
    local dbname=$1
    shift
    if [[ $DB_MODE == compose ]]; then
        compose_db 'db=$1; shift; exec psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$db" "$@"' "$dbname" "$@"
    else
        psql -X -q -v ON_ERROR_STOP=1 -d "$dbname" "$@"
    fi
}

# pg_live_name: print the name of the database EyeTagger uses.
pg_live_name() {
    if [[ $DB_MODE == compose ]]; then
        compose_db 'printf %s "$POSTGRES_DB"'
    else
        printf '%s' "$PGDATABASE"
    fi
}

# verify_postgres_dump FILE: the gzip stream is whole and the SQL is a complete pg_dump.
verify_postgres_dump() {
    local file=$1
    if ! gzip -dc "$file" 2>/dev/null | awk '
        NR <= 5 && $0 == "-- PostgreSQL database dump" { header = 1 }
        $0 == "-- PostgreSQL database dump complete" { complete = NR; next }
        complete && !($0 == "" || $0 == "--" || $0 ~ /^\\unrestrict /) { complete = 0 }
        END { exit !(header && complete) }'; then
        if ! gzip -t "$file" 2>/dev/null; then
            echo "$file is not a readable gzip file (truncated or corrupt)" >&2
        else
            echo "$file is not a complete pg_dump (its header or its closing line is missing)" >&2
        fi
        return 1
    fi
}

# verify_sqlite_file FILE: SQLite's integrity check passes and Django's tables are there.
verify_sqlite_file() {
    local file=$1 result
    if ! result=$(sqlite3 -readonly "$file" 'PRAGMA integrity_check;' 2>&1) || [[ $result != ok ]]; then
        echo "$file fails SQLite's integrity check: ${result//$'\n'/; }" >&2
        return 1
    fi
    if ! sqlite3 -readonly "$file" 'SELECT count(*) FROM django_migrations;' >/dev/null 2>&1; then
        echo "$file holds no EyeTagger database (no django_migrations table)" >&2
        return 1
    fi
}

# verify_sqlite_dump FILE.sqlite3.gz SCRATCH: decompress into SCRATCH and check it.
verify_sqlite_dump() {
    local file=$1 scratch=$2
    if ! gzip -dc "$file" >"$scratch" 2>/dev/null; then
        echo "$file is not a readable gzip file (truncated or corrupt)" >&2
        return 1
    fi
    verify_sqlite_file "$scratch"
}

# dump_kind FILE: print postgres or sqlite from the backup's name.
dump_kind() {
    case $1 in
        *.sql.gz) echo postgres ;;
        *.sqlite3.gz) echo sqlite ;;
        *)
            echo "$1 is not an EyeTagger backup (*.sql.gz for Postgres, *.sqlite3.gz for SQLite)" >&2
            return 1
            ;;
    esac
}
