"""Distributions of per-fault metrics over trials (min / median / p95 / max).

Samples are grouped by fault *name* (the same fault in every trial). Besides the fault metrics,
each failover milestone is a metric ``<milestone>_at_s`` (``decided_at_s``: seconds from the
inject to the stack's decision, e.g. Sentinel's ``+switch-master``). ``median`` is numpy's
(linear, averages the middle two); ``p95`` is nearest rank (with fewer than 20 trials it equals
the max -- honest for small samples). ``None`` values (not measurable in that trial) are left out
and counted in ``missing``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis.latency import nearest_rank
from harness.analysis.milestones import MILESTONES
from harness.analysis.run import RunAnalysis

__all__ = ["FAULT_METRICS", "MILESTONE_METRICS", "Distribution", "distributions", "distributions_json", "summarise"]

FAULT_METRICS: tuple[str, ...] = (
    "detect_s", "failover_s", "recover_s", "failback_s", "bad_requests", "error_seconds",
    "impact_s")

#: Milestone metrics (seconds since the injection), named ``<milestone>_at_s``.
MILESTONE_METRICS: tuple[str, ...] = tuple(f"{m}_at_s" for m in MILESTONES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    n: int
    missing: int
    min: float | None
    median: float | None
    p95: float | None
    max: float | None

    def to_json(self) -> dict[str, Any]:
        return {"min": self.min, "median": self.median, "p95": self.p95, "max": self.max,
                "n": self.n, "missing": self.missing}


def summarise(values: Sequence[float | None]) -> Distribution:
    present = np.array([float(v) for v in values if v is not None], dtype=np.float64)
    missing = len(values) - int(present.shape[0])
    if present.shape[0] == 0:
        return Distribution(n=0, missing=missing, min=None, median=None, p95=None, max=None)
    return Distribution(n=int(present.shape[0]), missing=missing, min=float(present.min()),
                        median=float(np.median(present)), p95=nearest_rank(present, 95.0),
                        max=float(present.max()))


def distributions(trials: Iterable[RunAnalysis]) -> dict[str, dict[str, Distribution]]:
    """``{fault name: {metric: Distribution}}`` over every occurrence of the fault in ``trials``
    (landed faults only: an unlanded fault's numbers describe nothing)."""
    samples: dict[str, dict[str, list[float | None]]] = {}
    for trial in trials:
        for f in trial.faults:
            if not f.fault.landed:
                continue
            per = samples.setdefault(f.fault.name,
                                     {m: [] for m in (*FAULT_METRICS, *MILESTONE_METRICS)})
            for m in FAULT_METRICS:
                per[m].append(getattr(f, m))
            reached = {ms.name: ms.at_s for ms in f.milestones}
            for name in MILESTONES:
                per[f"{name}_at_s"].append(reached.get(name))
    return {name: {m: summarise(v) for m, v in per.items()} for name, per in samples.items()}


def distributions_json(trials: Iterable[RunAnalysis]) -> dict[str, dict[str, Any]]:
    return {name: {m: d.to_json() for m, d in per.items()}
            for name, per in distributions(trials).items()}

