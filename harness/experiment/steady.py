"""The steady-state check before the method: was the stack healthy to begin with?

It judges the steady-state window with the experiment's SLOs (same analysis as the run). It
fails when no request was answered in the window, or when any SLO is already a FAIL there (the
lower confidence bound on the bad fraction is above what the SLO allows). A short window rarely
proves a PASS at 99.99%, so INCONCLUSIVE in the window is accepted.
"""

from __future__ import annotations

from typing import Any

from harness.analysis.run import analyse
from harness.experiment.assemble import analysis_spec
from harness.experiment.model import Experiment
from harness.timeline import Timeline

__all__ = ["steady_state_check"]


def steady_state_check(tl: Timeline, exp: Experiment, *, window: tuple[int, int]
                       ) -> dict[str, Any]:
    a = analyse(tl, analysis_spec(exp), window=window)
    first = a.slos[0]
    failed = [r for r in a.slos if r.verdict.value == "FAIL"]
    if first.total == 0:
        detail = "no requests were judged in the steady-state window (is the load running?)"
    elif failed:
        detail = "; ".join(f"SLO {r.slo.name!r}: {r.bad} bad of {r.total}" for r in failed)
    else:
        detail = f"{first.bad} bad of {first.total} requests"
    return {"ok": first.total > 0 and not failed, "total": first.total, "bad": first.bad,
            "detail": detail}
