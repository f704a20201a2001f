#!/usr/bin/env bash
# Install, from Debian's packages, the commands the deployment tests drive: Nginx (the real one
# the compose file runs, in its light build), the Postgres client, SQLite's shell, OpenSSL, git,
# Chromium, shellcheck and unzip. Installs only what is missing; run as root (`make test` does, through deploy/test-setup.sh).
set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    echo "Usage: deploy/install-test-tools.sh   (as root; apt-get installs what is missing)"
    exit 0
fi

declare -A package_of=(
    [nginx]=nginx-light
    [pg_dump]=postgresql-client
    [psql]=postgresql-client
    [sqlite3]=sqlite3
    [openssl]=openssl
    [git]=git
    [gzip]=gzip
    [chromium]=chromium
    [shellcheck]=shellcheck
    [unzip]=unzip
)
missing=()
for command in "${!package_of[@]}"; do
    command -v "$command" >/dev/null || missing+=("${package_of[$command]}")
done
if ((${#missing[@]} == 0)); then
    echo "install-test-tools: everything is installed"
    exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if ((EUID != 0)); then
    echo "install-test-tools: missing ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "install-test-tools: installing ${missing[*]}"
# Installing nginx must not start a system Nginx on port 80: the tests run their own.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=true
fi
trap 'if [[ $created_policy == true ]]; then rm -f "$policy"; fi' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-test-tools: installed ${missing[*]}"
