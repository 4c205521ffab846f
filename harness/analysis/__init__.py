"""Pure analysis of a run's timeline: SLOs with confidence, error budget and burn, latency,
per-fault impact (detect / fail over / recover), generator health, annual projection, verdicts.

Everything here is a function of a :class:`harness.timeline.Timeline` (no I/O, no clock), so a
saved run can be re-analysed later. Definitions: ``docs/MEASUREMENT.md``.
"""

from __future__ import annotations

from harness.analysis.burn import AlertResult, BurnReport, BurnWindow
from harness.analysis.failover import FaultImpact
from harness.analysis.health import GeneratorHealth
from harness.analysis.impact import FaultRecord
from harness.analysis.latency import LatencySummary, LatencyWindow
from harness.analysis.projection import (
    DEFAULT_FREQUENCIES,
    FaultFrequencies,
    Projection,
    project_annual,
    project_samples,
)
from harness.analysis.run import RunAnalysis, analyse
from harness.analysis.slo import ErrorBudget, SLOResult, bad_at, classify
from harness.analysis.spec import DEFAULT_ALERTS, AlertSpec, AnalysisSpec, SLOSpec
from harness.analysis.stats import (
    Bounds,
    clopper_pearson,
    needed_requests,
    wilson,
    zero_failure_requests,
)
from harness.analysis.trials import Distribution, distributions, distributions_json
from harness.analysis.verdict import Verdict, VerdictCheck, combine

__all__ = [
    "DEFAULT_ALERTS",
    "DEFAULT_FREQUENCIES",
    "AlertResult",
    "AlertSpec",
    "AnalysisSpec",
    "Bounds",
    "BurnReport",
    "BurnWindow",
    "Distribution",
    "ErrorBudget",
    "FaultFrequencies",
    "FaultImpact",
    "FaultRecord",
    "GeneratorHealth",
    "LatencySummary",
    "LatencyWindow",
    "Projection",
    "RunAnalysis",
    "SLOResult",
    "SLOSpec",
    "Verdict",
    "VerdictCheck",
    "analyse",
    "bad_at",
    "classify",
    "clopper_pearson",
    "combine",
    "distributions",
    "distributions_json",
    "needed_requests",
    "project_annual",
    "project_samples",
    "wilson",
    "zero_failure_requests",
]
