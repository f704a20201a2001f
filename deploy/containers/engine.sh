#!/usr/bin/env bash
# Give the container tests a Docker engine with compose v2, and the official base images the
# project's Dockerfile and compose files name. Where Docker runs already (a developer's machine)
# it only checks; where an image cannot be pulled (no registry: these CI machines) it builds a
# local stand-in from Debian's packages and tags it with the official name. See --help.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy/containers/engine.sh COMMAND [IMAGE...]

  check          exit 0 if `docker` answers and has compose v2; else say why and exit 3
  setup          as root on Debian: install docker.io (apt), start dockerd by hand (there is no
                 systemd here) and add compose v2 + buildx (from Debian trixie's packages);
                 elsewhere only `check`. Exit 3 (and the reason) when no engine can be had.
  images IMAGE.. make sure each image is in the local store: present, or pulled, or (when the
                 pull fails: no registry) a stand-in built from Debian bookworm's packages and
                 tagged IMAGE. Stand-ins: python:* (Debian's Python 3.11), node:* (this host's
                 Node, copied in), nginx:* (Debian's nginx 1.22 with the official image's
                 templates/envsubst start-up), postgres:* (Debian's PostgreSQL 15 with the
                 official entrypoint's variables). `docker run IMAGE` tells what each really is.
  stop           stop the dockerd this script started (by its recorded PID)

State (pid file, logs, the Debian root file system while it is built): $EYETAGGER_ENGINE_DIR,
default /var/tmp/eyetagger-engine. docs/development.md, "Container tests".
EOF
}

W=${EYETAGGER_ENGINE_DIR:-/var/tmp/eyetagger-engine}
log() { printf '%s engine.sh: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
skip() {
    printf 'engine.sh: NO CONTAINER ENGINE: %s\n' "$*" >&2
    exit 3
}
# timed LABEL CMD...: run CMD and log how long it took.
timed() {
    local label=$1 start=$SECONDS
    shift
    "$@"
    log "$label: $((SECONDS - start)) s"
}

engine_answers() { docker info >/dev/null 2>&1; }
has_compose_v2() { docker compose version >/dev/null 2>&1; }

check() {
    command -v docker >/dev/null || skip "no docker command (install Docker, or run as root on Debian so that make test installs Debian's docker.io)"
    engine_answers || skip "docker does not answer (docker info: $(docker info 2>&1 | grep -m1 -iE 'error|cannot' || echo 'no daemon'))"
    has_compose_v2 || skip "no compose v2 (\`docker compose\`): install the docker-compose-plugin"
    log "engine: $(docker version --format 'dockerd {{.Server.Version}}'), $(docker compose version --short | sed 's/^/compose /')"
}

# The Debian mirror apt already uses (never a hard-coded host).
mirror() {
    awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
        || awk '/^deb /{print $2; exit}' /etc/apt/sources.list
}

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v docker >/dev/null || missing+=(docker-cli)
    ((${#missing[@]})) || return 0
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >"$W/apt.log" 2>&1 || {
        tail -20 "$W/apt.log" >&2
        return 1
    }
}

start_dockerd() {
    engine_answers && return 0
    # A plain `cmd &`, so that $! is dockerd itself and `stop` kills the right process.
    # Niced: on a shared machine, image builds and containers give way to interactive work.
    nohup nice -n 10 dockerd >"$W/dockerd.log" 2>&1 &
    echo $! >"$W/dockerd.pid"
    for _ in $(seq 120); do
        engine_answers && return 0
        sleep 0.5
    done
    tail -20 "$W/dockerd.log" >&2
    skip "dockerd did not answer within 60 s (log: $W/dockerd.log)"
}

# Download .debs from Debian trixie through a private apt state, leaving the host's apt alone.
trixie_download() { # DEST PKG...
    local dest=$1 t=$W/trixie-apt o
    shift
    mkdir -p "$t/lists/partial" "$t/cache/archives/partial" "$dest"
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$(mirror)" >"$t/sources.list"
    o=(-o "Dir::Etc::SourceList=$t/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$t/lists" -o "Dir::Cache=$t/cache" -o APT::Sandbox::User=root)
    apt-get "${o[@]}" update -q >/dev/null
    (cd "$dest" && apt-get "${o[@]}" download "$@" >/dev/null)
}

# Bookworm has compose v1 only; trixie's compose v2 and buildx are Go binaries that need only
# libc6 >= 2.34 (bookworm has 2.36).
install_compose_v2() {
    has_compose_v2 && docker buildx version >/dev/null 2>&1 && return 0
    local debs=$W/debs x=$W/x-plugins deb
    rm -rf "$debs"
    trixie_download "$debs" docker-compose docker-buildx
    mkdir -p /usr/local/lib/docker/cli-plugins
    for deb in "$debs"/*.deb; do
        rm -rf "$x"
        dpkg-deb -x "$deb" "$x"
        cp "$x"/usr/libexec/docker/cli-plugins/* /usr/local/lib/docker/cli-plugins/
    done
    rm -rf "$x" "$debs"
}

setup() {
    if command -v docker >/dev/null && engine_answers && has_compose_v2; then
        check
        return 0
    fi
    ((EUID == 0)) || skip "not root, and docker does not answer with compose v2: start Docker, or run make test as root on Debian"
    command -v apt-get >/dev/null || skip "no running Docker and no apt-get to install Debian's docker.io"
    mkdir -p "$W"
    timed "packages" install_packages
    timed "dockerd" start_dockerd
    timed "compose v2 + buildx" install_compose_v2
    check
}

# ---------------------------------------------------------------- images
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

base_image() {
    have_image eyetagger-standin/debian:bookworm && return 0
    if ((EUID != 0)) || ! command -v debootstrap >/dev/null; then
        skip "no registry, and debootstrap (as root) is needed to make a base image"
    fi
    local rootfs=$W/rootfs
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$(mirror)" >"$W/debootstrap.log" 2>&1 || {
        tail -20 "$W/debootstrap.log" >&2
        return 1
    }
    # The host's apt sources (updates, security) and its extra CA certificates: HTTPS to the
    # package registries from here is verified against them (pip and npm in builds need it).
    rm -f "$rootfs/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || cp /etc/apt/sources.list "$rootfs/etc/apt/"
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
    echo 'APT::Install-Recommends "false";' >"$rootfs/etc/apt/apt.conf.d/99norecommends"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    : >"$rootfs/etc/resolv.conf" # docker writes its own
    local ca=/etc/ssl/certs/ca-certificates.crt
    tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' \
        --change "ENV LANG=C.UTF-8 SSL_CERT_FILE=$ca REQUESTS_CA_BUNDLE=$ca PIP_CERT=$ca NODE_EXTRA_CA_CERTS=$ca" \
        - eyetagger-standin/debian:bookworm >/dev/null
    rm -rf "$rootfs"
}

standin_dir() { # KIND -> a build context for the stand-in of that kind
    local d=$W/standins/$1 here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    rm -rf "$d"
    mkdir -p "$d"
    cp -r "$here/standins/$1/." "$d/"
    if [[ $1 == node ]]; then
        local node npm
        node=$(command -v node) || skip "no registry for node:*, and no Node on this host to copy into a stand-in"
        npm=$(dirname "$(readlink -f "$(command -v npm)")")/..
        cp "$node" "$d/node"
        tar -C "$npm/.." -cf "$d/npm.tar" npm
    fi
    echo "$d"
}

build_quietly() { docker build -q -t "$1" "$2" >/dev/null; }

standin() { # IMAGE: build the stand-in of IMAGE's kind once, tag IMAGE onto it
    local image=$1 kind=${1%%:*} tag context
    tag=eyetagger-standin/$kind:latest
    case $kind in python | node | nginx | postgres) ;; *) skip "no registry, and no stand-in for $image" ;; esac
    if ! have_image "$tag"; then
        have_image eyetagger-standin/debian:bookworm || timed "base image (debootstrap bookworm)" base_image
        context=$(standin_dir "$kind")
        timed "stand-in $tag" build_quietly "$tag" "$context"
    fi
    docker tag "$tag" "$image"
    log "$image <- stand-in: $(docker run --rm "$tag" standin-version)"
}

images() {
    local image
    for image in "$@"; do
        have_image "$image" && continue
        if timeout 300 docker pull -q "$image" >"$W/pull.log" 2>&1; then
            log "$image pulled"
        else
            log "$image cannot be pulled ($(grep -m1 -oE 'no such host|timeout|denied|not found' "$W/pull.log" || echo failed)); building a stand-in"
            standin "$image"
        fi
    done
}

stop() {
    [[ -f $W/dockerd.pid ]] || {
        log "no $W/dockerd.pid: dockerd was not started by this script; left alone"
        return 0
    }
    local pid
    pid=$(cat "$W/dockerd.pid")
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]]; then
        kill "$pid"
        for _ in $(seq 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        log "stopped dockerd $pid"
    fi
    rm -f "$W/dockerd.pid"
}

mkdir -p "$W"
case ${1:-} in
    check) check ;;
    setup) setup ;;
    images)
        shift
        images "$@"
        ;;
    stop) stop ;;
    -h | --help | "") usage ;;
    *)
        usage >&2
        exit 2
        ;;
esac
