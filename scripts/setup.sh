#!/usr/bin/env bash
# Set up everything the harness needs on a Debian/Ubuntu machine, idempotently:
#   - system packages: Redis + Sentinel, HAProxy, iproute2, iptables, procps
#   - Toxiproxy 2.12.0 via `go install` (installed as /usr/local/bin/toxiproxy-server)
#   - a virtualenv in .venv with the harness, the reference app and the test tools
#   - the docker substrate (skip with CHAOS_SETUP_DOCKER=0): Debian's docker.io and debootstrap,
#     the Compose v2 plugin via `go install` (Debian bookworm ships none), a dockerd started
#     when no engine answers (its PID goes to $CHAOS_SETUP_DOCKERD_PIDFILE, default
#     /run/chaos-harness/dockerd.pid: only that engine is ever stopped, by scripts/test.sh or
#     by you), and the stack's images built offline (scripts/images.sh), selected through
#     the CHAOS_*_IMAGE variables written to .venv/docker-images.env
# Safe to run again: each step is skipped when already done, and then prints nothing.
# It stops nothing it did not start: Debian starts redis/haproxy services on install, and only
# those (the ones this run just installed) are stopped again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CHAOS_HARNESS_VENV:-$ROOT/.venv}"
TOXIPROXY_VERSION="2.12.0"
APT_PACKAGES=(redis-server redis-sentinel haproxy iproute2 iptables procps psmisc)

say() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*  (run this script as root or install sudo)"; exit 1; fi
}

# 1. System packages ---------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the services it just installed; the harness runs its own instances. Stop the
  # services of the packages this run installed (through their init system), nothing else.
  for svc in redis-server redis-sentinel haproxy; do
    [[ " ${missing[*]} " == *" $svc "* ]] || continue
    as_root systemctl disable --now "$svc" >/dev/null 2>&1 || true
    as_root service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# 2. Toxiproxy ----------------------------------------------------------------------------------
TOXI_BIN=/usr/local/bin/toxiproxy-server
# `go install` builds carry their module version (`-version` only says "git"), so ask Go.
toxi_ok() { [ -x "$TOXI_BIN" ] && command -v go >/dev/null &&
  go version -m "$TOXI_BIN" 2>/dev/null | grep -q "toxiproxy/v2[[:space:]]*v$TOXIPROXY_VERSION"; }
if ! toxi_ok; then
  command -v go >/dev/null || { say "Go is required to install Toxiproxy (go install); install Go >= 1.22"; exit 1; }
  say "installing Toxiproxy $TOXIPROXY_VERSION with go install"
  GOBIN_DIR="$(mktemp -d)"
  GOBIN="$GOBIN_DIR" GOFLAGS=-mod=mod go install "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION"
  as_root install -m 0755 "$GOBIN_DIR/server" "$TOXI_BIN"
  rm -rf "$GOBIN_DIR"
fi

# 3. Python virtualenv ----------------------------------------------------------------------------
PY="${PYTHON:-python3}"
STAMP="$VENV/.chaos-harness-installed"
want="$(cat "$ROOT/pyproject.toml" "$ROOT"/scripts/constraints*.txt 2>/dev/null | sha256sum | cut -d' ' -f1 || true)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  say "creating virtualenv $VENV and installing the harness (a few minutes the first time)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  cons=()
  [ -f "$ROOT/scripts/constraints.txt" ] && cons=(-c "$ROOT/scripts/constraints.txt")
  "$VENV/bin/python" -m pip install -q "${cons[@]}" -e "$ROOT[dev]"
  echo "$want" > "$STAMP"
fi

# 4. Docker substrate ------------------------------------------------------------------------------
[ "${CHAOS_SETUP_DOCKER:-1}" = "0" ] && exit 0
COMPOSE_VERSION="2.29.7"
dmissing=()
# an engine from elsewhere (docker-ce, Docker Desktop) is used as it is
{ command -v dockerd >/dev/null || docker info >/dev/null 2>&1; } || dmissing+=(docker.io)
command -v debootstrap >/dev/null || dmissing+=(debootstrap)
if [ "${#dmissing[@]}" -gt 0 ]; then
  say "installing ${dmissing[*]} (Debian's Docker Engine 20.10 and debootstrap for offline images)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null
  as_root apt-get install -y -qq --no-install-recommends "${dmissing[@]}" >/dev/null
fi

# Compose v2: Debian bookworm has no plugin package, so build it with Go (once, ~5 min on 2 cores)
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
if ! docker compose version >/dev/null 2>&1; then
  say "installing the Docker Compose v$COMPOSE_VERSION plugin with go install (once)"
  GOBIN_DIR="$(mktemp -d)"
  GOBIN="$GOBIN_DIR" GOFLAGS=-mod=mod nice -n 10 go install "github.com/docker/compose/v2/cmd@v$COMPOSE_VERSION"
  as_root install -D -m 0755 "$GOBIN_DIR/cmd" "$PLUGIN_DIR/docker-compose"
  rm -rf "$GOBIN_DIR"
fi

# An engine: use the one that answers; otherwise start dockerd and remember that we did.
DOCKERD_PIDFILE="${CHAOS_SETUP_DOCKERD_PIDFILE:-/run/chaos-harness/dockerd.pid}"
if ! docker info >/dev/null 2>&1; then
  say "no Docker engine answers: starting dockerd (PID in $DOCKERD_PIDFILE; log /var/log/chaos-harness-dockerd.log)"
  as_root mkdir -p "$(dirname "$DOCKERD_PIDFILE")"
  as_root sh -c 'nohup dockerd >>/var/log/chaos-harness-dockerd.log 2>&1 </dev/null & echo $! >"$1"' \
    sh "$DOCKERD_PIDFILE"
  for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { say "dockerd did not answer within 30 s; see /var/log/chaos-harness-dockerd.log"; exit 1; }
fi

# The stack's images, offline and cached (a second run builds nothing)
"$ROOT/scripts/images.sh" > "$VENV/docker-images.env.tmp"
mv "$VENV/docker-images.env.tmp" "$VENV/docker-images.env"
