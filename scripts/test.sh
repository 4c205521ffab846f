#!/usr/bin/env bash
# Set everything up (idempotent) and run the whole test suite: unit, integration (real Redis,
# Sentinel, HAProxy, Toxiproxy, app replicas in network namespaces) and the CI chaos subset.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
PY="$ROOT/.venv/bin/python"

# Reap any stack a killed earlier run left behind, so tests start from a clean machine.
"$PY" -m harness down --stale >/dev/null 2>&1 || true

set +e
"$PY" -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
# Under CI (CI=true) pytest itself fails when integration/chaos tests were skipped for a machine
# capability (no root, no namespaces): tests/tier_guard.py.
# pytest exit 5 = "no tests collected": a selection that matched nothing is a broken suite here.
if [ "$rc" -eq 5 ]; then
  echo "scripts/test.sh: pytest collected no tests; failing (a suite that runs nothing proves nothing)" >&2
  exit 1
fi
exit "$rc"
