#!/usr/bin/env bash
# Set up everything the harness needs on a Debian/Ubuntu machine, idempotently:
#   - system packages: Redis + Sentinel, HAProxy, iproute2, iptables, procps
#   - Toxiproxy 2.12.0 via `go install` (installed as /usr/local/bin/toxiproxy-server)
#   - a virtualenv in .venv with the harness, the reference app and the test tools
# Safe to run again: each step is skipped when already done, and then prints nothing.
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
  # Debian starts these as services on install; the harness runs its own instances.
  for svc in redis-server redis-sentinel haproxy; do
    as_root systemctl disable --now "$svc" >/dev/null 2>&1 || true
    as_root service "$svc" stop >/dev/null 2>&1 || true
  done
  pkill -x redis-server 2>/dev/null || true
  pkill -x redis-sentinel 2>/dev/null || true
  pkill -x haproxy 2>/dev/null || true
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
