"""Who answered while each fault was on: requests by X-Provider in each fault window of a run.

    .venv/bin/python tests/benchmarks/fault_providers.py reports/<run-id>

Reads the run's saved ``timeline.zip`` (and ``report.json`` for the measured cache-hit ratio) and
prints, per fault, the requests whose intended send time falls between the fault's injection and
its revert, answered (2xx) by the primary, the fallback, the cache or nothing (a degraded answer
from the passages), plus the failed ones. A provider fault is exercised by the requests that
reached a provider: the primary and fallback columns, and the misses that degraded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from harness.analysis.cache import provider_counts
    from harness.analysis.impact import parse_faults
    from harness.timeline import Timeline

    if len(argv) != 1:
        print(__doc__)
        return 2
    run = Path(argv[0])
    tl = Timeline.load(run / "timeline.zip")
    rep = json.loads((run / "report.json").read_text())
    print(f"{rep['experiment']['name']} ({rep['run_id']}): verdict {rep['verdict']}; cache-hit "
          f"ratio {rep.get('cache_hit_ratio')}")
    for f in parse_faults(tl.events):
        end = f.revert_ns if f.revert_ns is not None else tl.events[-1].t_ns
        window = (f.inject_ns, end)
        answered = provider_counts(tl, window)
        sent = sum(provider_counts(tl, window, answered_only=False).values())
        failed = sent - sum(answered.values())
        print(f"  {f.fault_id} {f.target or ''} {dict(f.params)}: {(end - f.inject_ns) / 1e9:.1f} s, "
              f"{sent} requests sent; answered by primary {answered['primary']}, fallback "
              f"{answered['fallback']}, cache {answered['cache']}, degraded (no LLM) "
              f"{answered['none']}; failed {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
