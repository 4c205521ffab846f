"""report.json ``judged_window`` and ``budget``: the fault-anchored verdict window and what each
incident costs the real SLO window's budget (pure: no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.analysis.budget import BudgetSpec, IncidentCost, incident_cost
from harness.analysis.episodes import EpisodeSample, episode_views
from harness.analysis.run import RunAnalysis
from harness.experiment.model import Experiment

__all__ = ["budget_spec", "fault_anchored_json"]


def budget_spec(exp: Experiment, objective: float) -> BudgetSpec:
    b = exp.budget
    return BudgetSpec(objective=objective, production_rate=b.production_rate or exp.load.rate,
                      window_s=b.window, method=b.method, timeslice_s=b.timeslice,
                      timeslice_target=b.timeslice_target)


def _judged_json(overall: RunAnalysis, per_trial: Sequence[tuple[Any, RunAnalysis]]
                 ) -> dict[str, Any] | None:
    spec = overall.spec
    rows = []
    for w, t in per_trial:
        spans = t.judged or ((w.start_ns, w.end_ns),)
        lo, hi = spans[0]
        rows.append({"trial": w.trial, "start_s": (lo - overall.origin_ns) / 1e9,
                     "end_s": (hi - overall.origin_ns) / 1e9,
                     "anchored": bool(t.faults), "requests": t.slos[0].total})
    if not rows:
        return None
    return {"lead_s": spec.lead_s, "recovery_s": spec.judged_recovery_s,
            "rule": "per trial: lead_s before the first inject to recovery_s after the last "
                    "revert (clipped to the trial); the SLO verdict counts only these requests",
            "requests": sum(r["requests"] for r in rows), "trials": rows}


def _costs(exp: Experiment, spec: BudgetSpec,
           per_trial: Sequence[tuple[Any, RunAnalysis]]) -> list[IncidentCost]:
    return [incident_cost(f, spec, trial=w.trial, rate=exp.load.rate)
            for w, t in per_trial for f in t.faults if f.fault.landed]


def fault_anchored_json(exp: Experiment, overall: RunAnalysis,
                        per_trial: Sequence[tuple[Any, RunAnalysis]]) -> dict[str, Any]:
    """The ``judged_window`` and ``budget`` keys of report.json (None without trials)."""
    spec = budget_spec(exp, overall.spec.primary.objective)
    costs = _costs(exp, spec, per_trial)
    shares = [c.share for c in costs if c.share is not None]
    views = episode_views([EpisodeSample(name=c.name, family=c.family,
                                         bad_requests=c.bad_requests,
                                         error_seconds=c.error_seconds, share=c.share)
                           for c in costs], confidence=overall.spec.confidence)
    budget = {
        **spec.to_json(),
        "rate_source": "budget.production_rate" if exp.budget.production_rate else
                       "load.rate (no production_rate stated)",
        "incidents": [c.to_json() for c in costs],
        "worst_share": max(shares, default=None),
        "episodes": {n: v.to_json() for n, v in views.items()},
    }
    return {"judged_window": _judged_json(overall, per_trial),
            "budget": budget if per_trial else None}
