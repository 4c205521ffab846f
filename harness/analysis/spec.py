"""What to judge a run against: SLOs and the analysis settings (frozen, validated values)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.analysis.exercise import ExerciseMinimum
from harness.analysis.stats import INTERVAL_METHODS, IntervalMethod, allowed_fraction
from harness.errors import ConfigError

__all__ = ["DEFAULT_ALERTS", "DEFAULT_DETECTION_EVENTS", "AlertSpec", "AnalysisSpec", "SLOSpec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SLOSpec:
    """An availability SLO over requests.

    A request is good when it got a 2xx, within ``latency_threshold_ms`` of its *intended* send
    time (``None``: no latency condition), and -- if it was marked degraded -- only when
    ``degraded_is_good``.
    """

    name: str
    objective: float  # e.g. 0.9999
    latency_threshold_ms: float | None = None
    degraded_is_good: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.objective, float | int) or not 0.0 < self.objective < 1.0:
            raise ConfigError("an SLO objective is a fraction strictly between 0 and 1",
                              field=f"slos[{self.name}].objective", value=self.objective,
                              allowed="e.g. 0.9999 for 99.99 %")
        thr = self.latency_threshold_ms
        if thr is not None and not (math.isfinite(thr) and thr > 0):
            raise ConfigError("a latency threshold is a positive number of milliseconds",
                              field=f"slos[{self.name}].latency_threshold_ms", value=thr,
                              allowed="a number > 0, or null for no latency condition")

    @property
    def allowed_bad_fraction(self) -> float:
        return allowed_fraction(self.objective)

    @property
    def latency_threshold_ns(self) -> int | None:
        thr = self.latency_threshold_ms
        return None if thr is None else round(thr * 1_000_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSpec:
    """A multiwindow burn-rate alert: fires when both windows burn at ``threshold`` or more."""

    name: str
    threshold: float
    long_window_s: float
    short_window_s: float
    severity: str  # "page" | "ticket"


#: The standard multiwindow, multi-burn-rate alerts for a 30-day budget (Google SRE workbook).
DEFAULT_ALERTS: tuple[AlertSpec, ...] = (
    AlertSpec(name="page-1h-5m", threshold=14.4, long_window_s=3600, short_window_s=300,
              severity="page"),
    AlertSpec(name="page-6h-30m", threshold=6.0, long_window_s=6 * 3600, short_window_s=1800,
              severity="page"),
    AlertSpec(name="ticket-3d-6h", threshold=1.0, long_window_s=3 * 86400,
              short_window_s=6 * 3600, severity="ticket"),
)

#: ``obs.event`` names that count as "the stack noticed" (besides any unhealthy ``obs.state``).
DEFAULT_DETECTION_EVENTS: frozenset[str] = frozenset(
    {"+sdown", "+odown", "+switch-master", "+failover-triggered", "breaker-open",
     "qdrant-peer-dropped", "qdrant-leader-lost", "qdrant-replica-dead"})


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive number", field=name, value=value)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisSpec:
    """Everything :func:`harness.analysis.analyse` needs besides the timeline.

    The first SLO is the *primary* one: error budget, burn and fault impact are measured with it.
    """

    slos: tuple[SLOSpec, ...]
    confidence: float = 0.95
    interval: IntervalMethod = "clopper-pearson"
    impact_gap_s: float = 1.0  # bad intervals closer than this merge into one impact window
    impact_grace_s: float = 5.0  # impact up to this long after a revert still belongs to the fault
    #: impact until this long after a revert was confirmed belongs to the fault too (experiments
    #: set it to their recovery wait: what goes wrong while the stack recovers is the fault's
    #: cost, e.g. a cache-miss herd once a provider is back); None: ``impact_grace_s`` only
    recovery_attribution_s: float | None = None
    failover_hold_s: float = 5.0  # clean traffic this long ends a fail-over (later impact: relapse)
    max_lateness_p99_ms: float = 100.0  # generator lateness bound (start - intended), p99
    latency_bin_s: float = 10.0  # width of the per-window latency percentiles
    burn_bin_s: float = 60.0  # width of the per-window burn rates
    alerts: tuple[AlertSpec, ...] = DEFAULT_ALERTS
    detection_events: frozenset[str] = field(default=DEFAULT_DETECTION_EVENTS)
    #: stated minimum exercise per method step (``f0-provider-5xx``); others: the default rule
    min_exercise: Mapping[str, ExerciseMinimum] = field(default_factory=dict)
    lead_s: float = 30.0  # judged window: this long before a trial's first inject ...
    judged_recovery_s: float | None = None  # ... to this long after the last revert (None: end)

    def __post_init__(self) -> None:
        object.__setattr__(self, "slos", tuple(self.slos))
        object.__setattr__(self, "alerts", tuple(self.alerts))
        object.__setattr__(self, "detection_events", frozenset(self.detection_events))
        if not self.slos:
            raise ConfigError("at least one SLO is needed to judge a run", field="slos",
                              value=[], allowed="e.g. [{name: availability, objective: 0.9999}]")
        names = [s.name for s in self.slos]
        if len(set(names)) != len(names):
            raise ConfigError("SLO names must be unique", field="slos", value=names)
        if not 0.5 <= self.confidence < 1.0:
            raise ConfigError("confidence must be in [0.5, 1)", field="confidence",
                              value=self.confidence, allowed="e.g. 0.95")
        if self.interval not in INTERVAL_METHODS:
            raise ConfigError("unknown interval method", field="interval", value=self.interval,
                              allowed=INTERVAL_METHODS)
        for name in ("impact_gap_s", "failover_hold_s", "max_lateness_p99_ms", "latency_bin_s",
                     "burn_bin_s"):
            _positive(name, getattr(self, name))
        for name in ("lead_s", "judged_recovery_s", "recovery_attribution_s"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v >= 0):
                raise ConfigError(f"{name} must be >= 0", field=name, value=v)
        if not (math.isfinite(self.impact_grace_s) and self.impact_grace_s >= 0):
            raise ConfigError("impact_grace_s must be >= 0", field="impact_grace_s",
                              value=self.impact_grace_s)

    @property
    def attribution_grace_s(self) -> float:
        """How long after a fault's confirmed revert its impact is still attributed to it."""
        return max(self.impact_grace_s, self.recovery_attribution_s or 0.0)

    @property
    def primary(self) -> SLOSpec:
        return self.slos[0]
