"""What one incident costs the real error budget (docs/MEASUREMENT.md, "Cost against the budget").

The experiment's own error budget (``(1 - A) x its requests``) says nothing about production. The
budget an SLO really grants over its window ``W`` at a production rate ``R`` is

* **requests**: ``(1 - A) x R x W`` bad requests (OpenSLO ``budgetingMethod: Occurrences``);
* **time**: ``(1 - A) x W`` error-seconds (4.32 min per 30 days at 99.99 %);
* **time slices** (``Timeslices``): ``(1 - A) x W / slice`` bad slices, where a slice is bad when
  its good fraction is below the slice target.

An incident measured in the experiment costs ``error_seconds`` (bad requests / the experiment's
offered rate: seconds of full outage with the same cost). Assumed (the same assumption as the
annual projection): in production the incident lasts as long and hurts the same *fraction* of
traffic, so it costs ``error_seconds x R`` bad requests. Its share of the requests budget and of
the time budget are then the same number, ``error_seconds / ((1 - A) x W)``; both are stated so a
reader sees the units. The time-slice share is different: a 2 s outage spoils a whole 1 min slice.

Bad slices are counted on a grid of ``slice`` seconds from the run's time zero (production
slices are not aligned with the incident; the count can be one more or one less on another grid).
Bad requests inside a slice are taken from the fault's impact windows, spread evenly over each
window; a slice holds ``rate x slice`` requests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.analysis.failover import FaultImpact
from harness.errors import ConfigError

__all__ = ["BudgetSpec", "IncidentCost", "bad_slices", "incident_cost"]

BudgetingMethod = Literal["occurrences", "timeslices"]
DAY_S = 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetSpec:
    objective: float  # A, e.g. 0.9999
    production_rate: float  # R, requests per second in production
    window_s: float = 30 * DAY_S  # W
    method: BudgetingMethod = "occurrences"
    timeslice_s: float = 60.0
    timeslice_target: float | None = None  # None: the objective

    def __post_init__(self) -> None:
        if not 0 < self.objective < 1:
            raise ConfigError("the objective is a fraction in (0, 1)", field="budget.objective",
                              value=self.objective)
        for name in ("production_rate", "window_s", "timeslice_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"{name} must be a positive number", field=f"budget.{name}",
                                  value=v)
        if self.method not in ("occurrences", "timeslices"):
            raise ConfigError("unknown budgeting method", field="budget.method",
                              value=self.method, allowed=("occurrences", "timeslices"))

    @property
    def allowed(self) -> float:
        return round(1.0 - self.objective, 12)

    @property
    def slice_target(self) -> float:
        return self.objective if self.timeslice_target is None else self.timeslice_target

    @property
    def budget_requests(self) -> float:
        return self.allowed * self.production_rate * self.window_s

    @property
    def budget_seconds(self) -> float:
        return self.allowed * self.window_s

    @property
    def budget_slices(self) -> float:
        return self.allowed * self.window_s / self.timeslice_s

    def to_json(self) -> dict[str, Any]:
        return {"objective": self.objective, "production_rate": self.production_rate,
                "window_s": self.window_s, "window_days": self.window_s / DAY_S,
                "method": self.method, "timeslice_s": self.timeslice_s,
                "timeslice_target": self.slice_target,
                "budget_requests": self.budget_requests, "budget_seconds": self.budget_seconds,
                "budget_slices": self.budget_slices}


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentCost:
    fault_id: str
    name: str
    family: str
    trial: int
    bad_requests: int  # in the experiment
    error_seconds: float | None
    production_bad_requests: float | None  # error_seconds x R
    share_requests: float | None  # of (1 - A) x R x W
    share_time: float | None  # of (1 - A) x W
    bad_slices: int | None
    share_timeslices: float | None  # of (1 - A) x W / slice
    share: float | None  # the share under the budgeting method

    def to_json(self) -> dict[str, Any]:
        return {"fault_id": self.fault_id, "name": self.name, "family": self.family,
                "trial": self.trial, "bad_requests": self.bad_requests,
                "error_seconds": self.error_seconds,
                "production_bad_requests": self.production_bad_requests,
                "share_requests": self.share_requests, "share_time": self.share_time,
                "bad_slices": self.bad_slices, "share_timeslices": self.share_timeslices,
                "share": self.share}


def bad_slices(windows_s: Sequence[tuple[float, float, int]], *, rate: float, slice_s: float,
               target: float) -> int:
    """Slices (grid from time 0) whose good fraction falls below ``target`` (see module doc)."""
    per: dict[int, float] = {}
    for start, end, bad in windows_s:
        if bad <= 0:
            continue
        length = end - start
        if length <= 0:
            k = math.floor(start / slice_s)
            per[k] = per.get(k, 0.0) + bad
            continue
        k = math.floor(start / slice_s)
        while k * slice_s < end:
            lo, hi = max(start, k * slice_s), min(end, (k + 1) * slice_s)
            if hi > lo:
                per[k] = per.get(k, 0.0) + bad * (hi - lo) / length
            k += 1
    per_slice = rate * slice_s
    allowed_bad = (1.0 - target) * per_slice
    return sum(1 for b in per.values() if b > allowed_bad + 1e-9)


def incident_cost(f: FaultImpact, spec: BudgetSpec, *, trial: int,
                  rate: float | None) -> IncidentCost:
    """One fault occurrence's cost against ``spec`` (``rate``: the experiment's offered rate)."""
    es = f.error_seconds
    share_time = None if es is None else es / spec.budget_seconds
    prod = None if es is None else es * spec.production_rate
    slices = None if not rate else bad_slices(f.windows_s, rate=rate, slice_s=spec.timeslice_s,
                                              target=spec.slice_target)
    share_slices = None if slices is None else slices / spec.budget_slices
    share = share_slices if spec.method == "timeslices" else \
        (None if prod is None else prod / spec.budget_requests)
    return IncidentCost(
        fault_id=f.fault.fault_id, name=f.fault.name, family=f.fault.family, trial=trial,
        bad_requests=f.bad_requests, error_seconds=es, production_bad_requests=prod,
        share_requests=None if prod is None else prod / spec.budget_requests,
        share_time=share_time, bad_slices=slices, share_timeslices=share_slices, share=share)
