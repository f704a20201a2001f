#!/usr/bin/env bash
# Create env/*.env from env/*.env.example with generated secrets, and a self-signed TLS
# certificate in env/tls/ if there is none. `make env` runs it.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy/make-env.sh [--host NAME] [--force] [--dir DIR]

Write every DIR/NAME.env from DIR/NAME.env.example (DIR is env/ by default), filling in
  __secret_key__   a new random Django SECRET_KEY (100 hex digits)
  __db_password__  a new random database password (the same one in every file)
  __host__         NAME (default localhost): ALLOWED_HOSTS, and the certificate's name
and, when DIR/tls/ has no certificate, write a self-signed one valid for NAME (needs
openssl), so HTTPS works at once; replace it with your own (docs/operations.md, "With docker compose").

Refuses to overwrite existing .env files (nothing is written) unless --force is given.
Careful with --force on a running deployment: the new database password only applies to a
new Postgres volume (otherwise also run ALTER ROLE ... PASSWORD in the db service).
EOF
}

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/env"
host=localhost
force=false

log() { printf 'make-env: %s\n' "$*"; }
fail() {
    printf 'make-env: error: %s\n' "$*" >&2
    exit 1
}

while (($#)); do
    case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        --force) force=true; shift ;;
        --host) host=${2:-}; shift 2 || fail "--host needs a name" ;;
        --host=*) host=${1#*=}; shift ;;
        --dir) dir=${2:-}; shift 2 || fail "--dir needs a folder" ;;
        --dir=*) dir=${1#*=}; shift ;;
        *) fail "unknown argument: $1 (see --help)" ;;
    esac
done
[[ $host =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || fail "--host must be a host name or address; got '$host'"
[[ -d $dir ]] || fail "no folder $dir"

shopt -s nullglob
examples=("$dir"/*.env.example)
shopt -u nullglob
((${#examples[@]})) || fail "no *.env.example files in $dir"

existing=()
for example in "${examples[@]}"; do
    target=${example%.example}
    [[ -e $target ]] && existing+=("$target")
done
if ((${#existing[@]})) && [[ $force == false ]]; then
    fail "these exist already, nothing written (use --force to replace them, with new secrets): ${existing[*]}"
fi

# random_hex BYTES: that many random bytes from the kernel, as hex.
random_hex() { od -An -vtx1 -N "$1" /dev/urandom | tr -d ' \n'; }

secret_key=$(random_hex 50)
db_password=$(random_hex 20)
((${#secret_key} == 100 && ${#db_password} == 40)) || fail "could not read /dev/urandom"

umask 077 # secrets: readable by their owner only
for example in "${examples[@]}"; do
    target=${example%.example}
    # Hex digits and a checked host name: nothing here means anything special to sed.
    sed -e "s/__secret_key__/$secret_key/g" -e "s/__db_password__/$db_password/g" -e "s/__host__/$host/g" \
        "$example" >"$target.tmp"
    mv "$target.tmp" "$target"
    chmod 600 "$target"
    log "wrote $target"
done

tls="$dir/tls"
if [[ -f $tls/fullchain.pem && -f $tls/privkey.pem ]]; then
    log "kept the certificate in $tls/"
elif command -v openssl >/dev/null; then
    mkdir -p "$tls"
    if [[ $host =~ ^[0-9.]+$ ]]; then san="IP:$host"; else san="DNS:$host"; fi
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 -subj "/CN=$host" \
        -addext "subjectAltName=$san" -keyout "$tls/privkey.pem" -out "$tls/fullchain.pem" 2>/dev/null ||
        fail "openssl could not write a certificate into $tls/"
    chmod 644 "$tls/fullchain.pem" # Nginx's master reads it as root; the key stays 600
    log "wrote a self-signed certificate for $host in $tls/ (browsers will warn until you replace it)"
else
    log "warning: openssl is missing; put fullchain.pem and privkey.pem in $tls/ before starting nginx"
fi
log "next: review $dir/django.env (ALLOWED_HOSTS, DJANGO_STATIC_HOST), then: docker compose up -d --build"
