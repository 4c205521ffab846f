"""``analyse``: one timeline in, one :class:`RunAnalysis` out (pure: no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis.arrays import RequestArrays, run_origin_ns
from harness.analysis.burn import BurnReport, burn_report
from harness.analysis.cache import CacheHitRatio, cache_hit_ratio
from harness.analysis.exercise import fault_exercises
from harness.analysis.failover import FaultImpact, fault_impacts
from harness.analysis.health import GeneratorHealth, fault_checks, generator_health, run_checks
from harness.analysis.impact import attribute_windows, impact_windows, parse_faults
from harness.analysis.latency import (
    LatencySummary,
    LatencyWindow,
    latency_summary,
    latency_windows,
)
from harness.analysis.slo import (
    ErrorBudget,
    SLOResult,
    bad_at,
    classify,
    error_budget,
    evaluate_slo,
)
from harness.analysis.spec import AnalysisSpec
from harness.analysis.verdict import Verdict, VerdictCheck, combine_checks
from harness.timeline import Event, Timeline

__all__ = ["RunAnalysis", "analyse"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunAnalysis:
    spec: AnalysisSpec
    origin_ns: int
    duration_s: float
    requests: int
    slos: tuple[SLOResult, ...]
    error_budget: ErrorBudget
    burn: BurnReport
    latency: LatencySummary
    latency_windows: tuple[LatencyWindow, ...]
    generator: GeneratorHealth
    faults: tuple[FaultImpact, ...]
    unattributed_bad: int
    verdict: Verdict
    reasons: tuple[str, ...]
    judged: tuple[tuple[int, int], ...] | None = None  # the SLO's fault-anchored spans
    cache: CacheHitRatio | None = None  # cache share of the answers (X-Provider)

    def to_json(self) -> dict[str, Any]:
        """The analysis fields of report.json v1 (plus documented extras)."""
        s = self.spec
        return {
            "verdict": self.verdict.value,
            "verdict_reasons": list(self.reasons),
            "slos": [r.to_json() for r in self.slos],
            "error_budget": self.error_budget.to_json(),
            "burn": self.burn.to_json(),
            "latency_ms": self.latency.to_json(),
            "latency_windows": [w.to_json() for w in self.latency_windows],
            "generator": self.generator.to_json(),
            "faults": [f.to_json() for f in self.faults],
            "requests": self.requests,
            "unattributed_bad_requests": self.unattributed_bad,
            "cache_hit_ratio": self.cache.to_json() if self.cache is not None else None,
            "analysed_duration_s": self.duration_s,
            "analysis": {"confidence": s.confidence, "interval": s.interval,
                         "impact_gap_s": s.impact_gap_s, "impact_grace_s": s.impact_grace_s,
                         "attribution_grace_s": s.attribution_grace_s,
                         "failover_hold_s": s.failover_hold_s,
                         "max_lateness_p99_ms": s.max_lateness_p99_ms,
                         "latency_bin_s": s.latency_bin_s, "burn_bin_s": s.burn_bin_s,
                         "primary_slo": s.primary.name},
        }


def _slo_check(r: SLOResult) -> VerdictCheck:
    s = r.slo
    head = (f"SLO {s.name!r} ({s.objective * 100:g} %): {r.bad} bad of {r.total} requests; "
            f"{r.confidence * 100:g} % bounds on the bad fraction [{r.lower:.3g}, {r.upper:.3g}] "
            f"vs allowed {s.allowed_bad_fraction:.3g}")
    if r.verdict is Verdict.PASS:
        return VerdictCheck(verdict=r.verdict, reason=f"{head}: PASS")
    if r.verdict is Verdict.FAIL:
        return VerdictCheck(verdict=r.verdict, reason=f"{head}: FAIL (lower bound above allowed)")
    more = ("the observed bad fraction is too high to ever pass" if r.needed_requests is None
            else f"about {r.needed_requests} more requests at this bad fraction would settle it")
    return VerdictCheck(verdict=r.verdict, reason=f"{head}: INCONCLUSIVE ({more})")


def _in_window(events: Sequence[Event], window: tuple[int, int] | None) -> tuple[Event, ...]:
    if window is None:
        return tuple(events)
    return tuple(e for e in events if window[0] <= e.t_ns < window[1])


def _end_ns(events: Sequence[Event], req: RequestArrays, origin_ns: int) -> int:
    ends = [origin_ns] + [e.t_ns for e in events[-1:]]
    if len(req):
        ends.append(int(req.end[req.sent].max()) if req.sent.any() else int(req.intended.max()))
    return max(ends)


def _judged_mask(req: RequestArrays, judged: Sequence[tuple[int, int]] | None) -> np.ndarray:
    if judged is None:
        return np.ones(len(req), dtype=bool)
    mask = np.zeros(len(req), dtype=bool)
    for lo, hi in judged:
        mask |= (req.intended >= lo) & (req.intended < hi)
    return mask


def analyse(timeline: Timeline, spec: AnalysisSpec, *,
            window: tuple[int, int] | None = None,
            judged: Sequence[tuple[int, int]] | None = None) -> RunAnalysis:
    """Judge ``timeline`` against ``spec``.

    With ``window = (start_ns, end_ns)`` only the requests whose intended time and the faults
    whose inject time are in ``[start_ns, end_ns)`` are judged; run-level events (generator
    reports, harness errors, steady-state checks, observers) are read from the whole timeline.
    With ``judged`` (fault-anchored spans, :mod:`harness.analysis.judged`) the SLO verdicts count
    only the requests due inside those spans; impact, burn and latency still use the window.
    """
    all_events = timeline.events
    events = _in_window(all_events, window)
    req = RequestArrays.from_timeline(timeline, window)
    origin = run_origin_ns(all_events, req, window)
    end = _end_ns(events, req, origin)
    primary = spec.primary
    masks = [classify(req, s) for s in spec.slos]
    in_judged = _judged_mask(req, judged)
    slos = tuple(evaluate_slo(m[in_judged], s, confidence=spec.confidence, method=spec.interval)
                 for m, s in zip(masks, spec.slos, strict=True))
    bad = ~masks[0]
    bad_times = bad_at(req, primary)
    rate = req.offered_rate()
    gap_ns = round(spec.impact_gap_s * 1e9)
    windows = impact_windows(req.intended[bad], bad_times[bad], gap_ns=gap_ns)
    faults = parse_faults(all_events, window)
    owner = attribute_windows(windows, faults, gap_ns=gap_ns,
                              grace_ns=round(spec.attribution_grace_s * 1e9), timeline_end_ns=end)
    impacts = fault_impacts(faults, all_events, windows, owner, spec=spec, origin_ns=origin,
                            end_ns=end, rate=rate)
    impacts, exercise_checks = fault_exercises(
        impacts, timeline, all_events, minimums=spec.min_exercise, rate=rate, end_ns=end)
    # run-level facts (generator report, harness errors, steady state) taint every window
    generator = generator_health(req, all_events, bound_ms=spec.max_lateness_p99_ms)
    checks = [*run_checks(all_events, len(req)), *fault_checks(faults), *exercise_checks,
              generator.check(),
              *(_slo_check(r) for r in slos)]
    verdict, reasons = combine_checks(checks)
    return RunAnalysis(
        spec=spec, origin_ns=origin, duration_s=(end - origin) / 1e9, requests=len(req),
        slos=slos, error_budget=error_budget(slos[0]),
        burn=burn_report(intended_ns=req.intended, bad_mask=bad, bad_at_ns=bad_times, rate=rate,
                         origin_ns=origin, bin_s=spec.burn_bin_s,
                         allowed=primary.allowed_bad_fraction, alerts=spec.alerts),
        latency=latency_summary(req),
        latency_windows=latency_windows(req, origin_ns=origin, bin_s=spec.latency_bin_s),
        generator=generator, faults=impacts,
        unattributed_bad=int(windows.count[owner < 0].sum()), verdict=verdict, reasons=reasons,
        judged=None if judged is None else tuple((int(a), int(b)) for a, b in judged),
        cache=cache_hit_ratio(timeline, window),
    )
