#!/usr/bin/env bash
# Start what `make test` needs that is not a Python or Node package: the Debian packages the
# tests drive (deploy/install-test-tools.sh) and the PostgreSQL server at TEST_POSTGRES_URL.
# On a fresh Debian machine, as root, it installs and starts them; otherwise it says what to do.
set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    echo "Usage: deploy/test-setup.sh   (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/eyetagger)"
    exit 0
fi

log() { printf 'test-setup: %s\n' "$*"; }
cd "$(dirname "$0")/.."
url=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/eyetagger}

deploy/install-test-tools.sh

if pg_isready -q -d "$url"; then
    log "PostgreSQL answers at $url"
    exit 0
fi
# Only a server on this machine can be started from here; a remote one is its operator's.
host=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname or "")' "$url")
if [[ $host != 127.0.0.1 && $host != localhost ]]; then
    log "PostgreSQL does not answer at $url; start it or set TEST_POSTGRES_URL" >&2
    exit 1
fi
if ! command -v pg_ctlcluster >/dev/null || ((EUID != 0)); then
    log "PostgreSQL does not answer at $url; start the local server (as root: pg_ctlcluster <version> main start)" >&2
    exit 1
fi
shopt -s nullglob
versions=(/etc/postgresql/*)
if ((${#versions[@]} == 0)); then
    log "no PostgreSQL cluster in /etc/postgresql; install one (apt-get install postgresql) or set TEST_POSTGRES_URL" >&2
    exit 1
fi
version=$(basename "${versions[-1]}")
log "starting PostgreSQL $version (cluster main)"
pg_ctlcluster --skip-systemctl-redirect "$version" main start
for _ in $(seq 30); do
    if pg_isready -q -d "$url"; then
        log "PostgreSQL answers at $url"
        exit 0
    fi
    sleep 1
done
log "PostgreSQL did not answer at $url within 30 s after starting it" >&2
exit 1
