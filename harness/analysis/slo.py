"""Good/bad classification of requests, SLO results and the error budget.

Definitions (docs/MEASUREMENT.md):

* **good** = outcome OK, HTTP status 200-299, latency ``end - intended <= threshold`` (measured
  from the *intended* send time; exactly at the threshold is good), and not degraded unless the
  SLO says ``degraded_is_good``. Everything else is **bad**, including ERROR, TIMEOUT and DROPPED.
* **bad at** -- when a bad request became bad: its end time, but never later than its deadline
  ``intended + threshold`` (a late request is bad from its deadline on, whenever it finished);
  a DROPPED request is bad at its intended time.
* **error budget** = ``(1 - A) * total``; **consumed** = ``bad / budget`` (``None`` with no
  requests; can exceed 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis.arrays import RequestArrays
from harness.analysis.spec import SLOSpec
from harness.analysis.stats import IntervalMethod, bounds, needed_requests, slo_verdict
from harness.analysis.verdict import Verdict
from harness.timeline import Outcome

__all__ = ["ErrorBudget", "SLOResult", "bad_at", "classify", "error_budget", "evaluate_slo"]


def classify(req: RequestArrays, slo: SLOSpec) -> np.ndarray:
    """Boolean mask: True where the request is good for ``slo``."""
    good = (req.outcome == Outcome.OK) & (req.status >= 200) & (req.status < 300)
    thr = slo.latency_threshold_ns
    if thr is not None:
        good &= (req.end - req.intended) <= thr
    if not slo.degraded_is_good:
        good &= ~req.degraded
    return good


def bad_at(req: RequestArrays, slo: SLOSpec) -> np.ndarray:
    """int64 ns per request: when it became bad (meaningful only for bad requests)."""
    t = np.where(req.outcome == Outcome.DROPPED, req.intended, req.end)
    thr = slo.latency_threshold_ns
    if thr is not None:
        t = np.minimum(t, req.intended + thr)
    return np.maximum(t, req.intended)


@dataclass(frozen=True, slots=True, kw_only=True)
class SLOResult:
    slo: SLOSpec
    good: int
    total: int
    lower: float
    upper: float
    confidence: float
    method: str
    verdict: Verdict
    needed_requests: int | None

    @property
    def bad(self) -> int:
        return self.total - self.good

    @property
    def bad_fraction(self) -> float | None:
        return None if self.total == 0 else self.bad / self.total

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.slo.name, "objective": self.slo.objective,
            "latency_threshold_ms": self.slo.latency_threshold_ms,
            "degraded_is_good": self.slo.degraded_is_good, "good": self.good,
            "total": self.total, "bad": self.bad, "bad_fraction": self.bad_fraction,
            "lower": self.lower, "upper": self.upper, "confidence": self.confidence,
            "interval": self.method, "verdict": self.verdict.value,
            "needed_requests": self.needed_requests,
        }


def evaluate_slo(good_mask: np.ndarray, slo: SLOSpec, *, confidence: float,
                 method: IntervalMethod) -> SLOResult:
    total = int(good_mask.shape[0])
    good = int(np.count_nonzero(good_mask))
    b = bounds(total - good, total, confidence, method)
    return SLOResult(
        slo=slo, good=good, total=total, lower=b.lower, upper=b.upper, confidence=confidence,
        method=method, verdict=slo_verdict(b, slo.objective),
        needed_requests=needed_requests(total - good, total, slo.objective, confidence, method),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorBudget:
    slo_name: str
    objective: float
    allowed_bad: float
    bad: int

    @property
    def consumed(self) -> float | None:
        if self.allowed_bad > 0:
            return self.bad / self.allowed_bad
        return None

    def to_json(self) -> dict[str, Any]:
        return {"slo": self.slo_name, "objective": self.objective,
                "allowed_bad": self.allowed_bad, "bad": self.bad, "consumed": self.consumed}


def error_budget(result: SLOResult) -> ErrorBudget:
    return ErrorBudget(slo_name=result.slo.name, objective=result.slo.objective,
                       allowed_bad=result.slo.allowed_bad_fraction * result.total, bad=result.bad)
