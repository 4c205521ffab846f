#!/usr/bin/env bash
# Set everything up (idempotent) and run the default game day on the local, embedded-default
# stack. The last line printed is the path of the game-day HTML report.
# Extra arguments go to `chaos-harness gameday`, e.g. `scripts/gameday.sh --report-dir /tmp/r`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The default game day runs on the local substrate: set-up skips the docker part (it would start a
# dockerd that nothing here stops). CHAOS_SETUP_DOCKER=1 prepares docker too, for a plan with
# `substrate: docker`.
CHAOS_SETUP_DOCKER="${CHAOS_SETUP_DOCKER:-0}" "$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/python" -m harness gameday "$ROOT/experiments/gameday.yaml" "$@"
