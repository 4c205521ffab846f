#!/usr/bin/env bash
# Build the docker substrate's images offline, tagged :local (no image registry needed):
#   chaos-harness-base:local       Debian bookworm (debootstrap minbase) with Debian's redis-server,
#                                  redis-sentinel, haproxy and python3 (3.11); `docker import`ed.
#                                  Serves as the Redis / Sentinel image.
#   chaos-harness-haproxy:local    the base with the official image's command and config path
#   chaos-harness-toxiproxy:local  the base with /usr/local/bin/toxiproxy-server (go install)
#   chaos-harness-app:local        docker/harness.Dockerfile target app, FROM the base
#   chaos-harness-simulator:local  docker/harness.Dockerfile target simulator, FROM the base
#   chaos-harness-qdrant:local     only when QDRANT_BIN names a Qdrant binary built on this machine
#
# Each image carries the label org.chaos-harness.recipe = a hash of what it is built from (the
# recipe, the files copied in, the parent image); an image whose label matches is kept, so a
# second run builds nothing. Python packages come from a wheelhouse built on the host with
# `pip wheel` (PyPI is reachable from the host), so the image builds need no network at all.
# Prints `export CHAOS_*_IMAGE=...` lines on stdout for the images it made or found.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${CHAOS_HARNESS_VENV:-$ROOT/.venv}/bin/python"
LABEL=org.chaos-harness.recipe
SUITE=bookworm
BASE_PACKAGES=redis-server,redis-sentinel,haproxy,python3,python3-venv,ca-certificates
CACHE="${CHAOS_IMAGE_CACHE:-/var/cache/chaos-harness/images}"
WHEELS_RECIPE="setuptools wheel async-timeout v2"

# Debian's docker.io client when installed: it builds with BuildKit without the buildx plugin
# (BuildKit honours docker/harness.Dockerfile.dockerignore; the classic builder would send .venv)
docker() { if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else command docker "$@"; fi; }
export DOCKER_BUILDKIT=1

say() { printf '[images] %s\n' "$*" >&2; }
hash_of() { sha256sum | cut -c1-16; }
have() {  # have IMAGE RECIPE -> the image exists with this recipe label
  [ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null)" = "$2" ]
}
image_id() { docker image inspect -f '{{.Id}}' "$1"; }
# A rebuild moves the tag to a new image; the image it replaced (ours: it had the tag) is removed
# then, so repeated set-ups after source changes do not pile up ~500 MB of untagged images each.
# `docker image rm` by ID refuses an image a container still uses or another tag still names.
drop_replaced() {  # drop_replaced OLD_ID TAG
  local old="$1" tag="$2"
  [ -n "$old" ] && [ "$old" != "$(image_id "$tag" 2>/dev/null)" ] || return 0
  docker image rm "$old" >/dev/null 2>&1 && say "removed the image $tag replaced (${old:7:12})" || true
}

docker info >/dev/null 2>&1 || { say "no Docker engine answers; nothing built"; exit 1; }
mkdir -p "$CACHE"

# 1. Base: debootstrap + docker import ----------------------------------------------------------
base_recipe="$(printf '%s\n' "$SUITE" "$BASE_PACKAGES" "v1" | hash_of)"
if ! have chaos-harness-base:local "$base_recipe"; then
  command -v debootstrap >/dev/null || { say "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
  say "building chaos-harness-base:local with debootstrap ($SUITE, ~1 min)"
  rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" \
    http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
    || { say "debootstrap failed; see $CACHE/debootstrap.log"; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
    --change "LABEL $LABEL=$base_recipe" --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - chaos-harness-base:local >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi
base_id="$(image_id chaos-harness-base:local)"

build() {  # build TAG RECIPE CONTEXT [docker build args...]
  local tag="$1" recipe="$2" ctx="$3"; shift 3
  if have "$tag" "$recipe"; then return; fi
  say "building $tag"
  local old; old="$(image_id "$tag" 2>/dev/null || true)"
  docker build -q --label "$LABEL=$recipe" -t "$tag" "$@" "$ctx" >/dev/null
  drop_replaced "$old" "$tag"
}

# 2. HAProxy and Toxiproxy on the base ----------------------------------------------------------
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cat >"$ctx/Dockerfile" <<'EOF'
FROM chaos-harness-base:local
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
EOF
build chaos-harness-haproxy:local "$(cat "$ctx/Dockerfile" - <<<"$base_id" | hash_of)" "$ctx"

TOXI_BIN=/usr/local/bin/toxiproxy-server
cp "$TOXI_BIN" "$ctx/toxiproxy"
cat >"$ctx/Dockerfile" <<'EOF'
FROM chaos-harness-base:local
COPY toxiproxy /toxiproxy
EXPOSE 8474
ENTRYPOINT ["/toxiproxy"]
CMD ["-host=0.0.0.0", "-config=/config/toxiproxy.json"]
EOF
build chaos-harness-toxiproxy:local \
  "$(cat "$ctx/Dockerfile" "$ctx/toxiproxy" - <<<"$base_id" | hash_of)" "$ctx"

# 3. Qdrant, only from a binary built on this machine (never shipped with the project) ----------
qdrant_tag=""
if [ -n "${QDRANT_BIN:-}" ] && [ -x "$QDRANT_BIN" ]; then
  cp "$QDRANT_BIN" "$ctx/qdrant"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM chaos-harness-base:local
WORKDIR /qdrant
COPY qdrant /qdrant/qdrant
EXPOSE 6333 6334 6335
CMD ["./qdrant"]
EOF
  build chaos-harness-qdrant:local \
    "$(cat "$ctx/Dockerfile" "$ctx/qdrant" - <<<"$base_id" | hash_of)" "$ctx"
  qdrant_tag=chaos-harness-qdrant:local
fi
rm -rf "$ctx"
trap - EXIT

# 4. App and simulator: the project from a host-built wheelhouse --------------------------------
cd "$ROOT"
src_hash="$( { git ls-files -s pyproject.toml README.md scripts/constraints.txt harness \
               reference_app fixtures/corpus docker/harness.Dockerfile 2>/dev/null || true
             git diff HEAD -- pyproject.toml harness reference_app fixtures/corpus \
               docker/harness.Dockerfile 2>/dev/null || true
             echo "$base_id"; } | hash_of)"
if ! have chaos-harness-app:local "$src_hash" || ! have chaos-harness-simulator:local "$src_hash"; then
  wheels="$CACHE/wheels"
  # bump WHEELS_RECIPE when the extra wheels below change
  wheel_recipe="$( { cat pyproject.toml scripts/constraints.txt; echo "$WHEELS_RECIPE"; } | hash_of)"
  if [ "$(cat "$wheels/.recipe" 2>/dev/null)" != "$wheel_recipe" ]; then
    say "building the wheelhouse for the images (pip wheel, once per dependency set)"
    rm -rf "$wheels"; mkdir -p "$wheels"
    # async-timeout: Debian bookworm's python3 is 3.11.2, and redis needs it below 3.11.3
    "$PY" -m pip wheel -q -c scripts/constraints.txt -w "$wheels" ".[app]" "setuptools>=68" wheel \
      "async-timeout>=4.0.3" >/dev/null 2>"$CACHE/pip-wheel.log" \
      || { say "pip wheel failed; see $CACHE/pip-wheel.log"; exit 1; }
    rm -f "$wheels"/chaos_harness-*.whl  # the project itself is built in the image, from source
    echo "$wheel_recipe" >"$wheels/.recipe"
  fi
  # the build context is the repository (docker/harness.Dockerfile.dockerignore limits it) plus
  # the wheelhouse, linked in under a name the dockerignore lets through
  rm -rf "$ROOT/.image-wheels"; cp -al "$wheels" "$ROOT/.image-wheels" 2>/dev/null \
    || cp -a "$wheels" "$ROOT/.image-wheels"
  trap 'rm -rf "$ROOT/.image-wheels"' EXIT
  for target in app simulator; do
    old="$(image_id "chaos-harness-$target:local" 2>/dev/null || true)"
    docker build -q --label "$LABEL=$src_hash" -t "chaos-harness-$target:local" \
      -f docker/harness.Dockerfile --target "$target" \
      --build-arg PYTHON_IMAGE=chaos-harness-base:local --build-arg WHEELS=.image-wheels \
      "$ROOT" >/dev/null
    say "built chaos-harness-$target:local"
    drop_replaced "$old" "chaos-harness-$target:local"
  done
  rm -rf "$ROOT/.image-wheels"
  trap - EXIT
fi

echo "export CHAOS_APP_IMAGE=chaos-harness-app:local"
echo "export CHAOS_SIMULATOR_IMAGE=chaos-harness-simulator:local"
echo "export CHAOS_REDIS_IMAGE=chaos-harness-base:local"
echo "export CHAOS_HAPROXY_IMAGE=chaos-harness-haproxy:local"
echo "export CHAOS_TOXIPROXY_IMAGE=chaos-harness-toxiproxy:local"
[ -z "$qdrant_tag" ] || echo "export CHAOS_QDRANT_IMAGE=$qdrant_tag"
