"""What a game day found: one outcome per planned experiment, the combined verdict, and the
annual availability projection over every report (pure: no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from harness.analysis.projection import (
    FaultFrequencies,
    KindSamples,
    Projection,
    project_samples,
)
from harness.analysis.verdict import combine
from harness.gameday.failover import episode_summary, milestone_medians
from harness.gate.reports import LoadedReport, metric_value


def failover_json(reports: Sequence[LoadedReport]) -> dict[str, Any]:
    """``milestones`` (medians per fault family) and ``episodes`` (over the whole game day)."""
    return {"milestones": milestone_medians(reports), "episodes": episode_summary(reports)}

__all__ = ["ExperimentOutcome", "GamedayResult", "project_reports", "truncated_runs"]

Status = Literal["ran", "skipped", "error"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentOutcome:
    index: int
    name: str
    file: str
    status: Status
    verdict: str  # PASS | FAIL | INCONCLUSIVE (skipped and errors are INCONCLUSIVE)
    reason: str = ""  # why skipped / the error
    report: LoadedReport | None = None
    report_dir: Path | None = None
    wall_s: float = 0.0
    planned_s: float = 0.0
    dedicated_stack: bool = False

    @property
    def html(self) -> Path | None:
        if self.report is None or self.report_dir is None:
            return None
        return self.report_dir / str(self.report.data["files"]["html"])

    def to_json(self) -> dict[str, Any]:
        r = self.report
        slo = (r.data.get("slos") or [None])[0] if r else None
        return {
            "index": self.index, "name": self.name, "file": self.file, "status": self.status,
            "verdict": self.verdict, "reason": self.reason, "wall_s": self.wall_s,
            "planned_s": self.planned_s, "dedicated_stack": self.dedicated_stack,
            "run_id": r.run_id if r else None,
            "report_dir": str(self.report_dir) if self.report_dir else None,
            "html": str(self.html) if self.html else None,
            "slo": slo,
            "budget_consumed": metric_value(r, "budget_consumed") if r else None,
            "failover_s": metric_value(r, "failover_s") if r else None,
            "recover_s": metric_value(r, "recover_s") if r else None,
            "cache_hit_ratio": r.data.get("cache_hit_ratio") if r else None,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class GamedayResult:
    gameday_id: str
    plan: Mapping[str, Any]
    started_at: str  # ISO-8601 UTC
    duration_s: float
    outcomes: tuple[ExperimentOutcome, ...]
    projection: Projection | None = None
    notes: tuple[str, ...] = field(default=())
    stopped_early: str | None = None  # why the rest was not run (on_failure: stop)

    @property
    def verdict(self) -> str:
        """``harness.analysis.verdict.combine`` over the outcomes (skipped and errored ones
        are INCONCLUSIVE already); a game day that ran nothing is INCONCLUSIVE."""
        return str(combine(o.verdict for o in self.outcomes))

    def counts(self) -> dict[str, int]:
        out = {"PASS": 0, "FAIL": 0, "INCONCLUSIVE": 0, "skipped": 0, "error": 0}
        for o in self.outcomes:
            if o.status == "ran":
                out[o.verdict] += 1
            else:
                out[o.status] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"schema": "chaos-harness/gameday", "version": 1, "gameday_id": self.gameday_id,
                "plan": dict(self.plan), "started_at": self.started_at,
                "duration_s": self.duration_s, "verdict": self.verdict, "counts": self.counts(),
                "stopped_early": self.stopped_early, "notes": list(self.notes),
                "experiments": [o.to_json() for o in self.outcomes],
                "projection": self.projection.to_json() if self.projection else None,
                **failover_json([o.report for o in self.outcomes if o.report is not None])}


def truncated_runs(reports: Sequence[LoadedReport]) -> list[str]:
    """Runs that ended early (stop condition, interruption, harness error): their faults'
    measured impact is cut off, so it is only a lower bound of what the incident costs."""
    return [f"{r.experiment} ({r.data.get('end_reason')})" for r in reports
            if not r.skipped_reason and r.data.get("end_reason") not in (None, "completed")
            and r.faults]


def project_reports(reports: Sequence[LoadedReport], *,
                    frequencies: Mapping[str, float] | None = None,
                    objective: float | None = None) -> Projection | None:
    """The annual projection over a whole game day: every landed fault of every report is one
    sample of its kind's cost (error-seconds); requests no fault explains are the background.
    When a run ended early its impact is a lower bound, so "yes" becomes "uncertain"."""
    samples: dict[str, tuple[str, list[float]]] = {}
    bad = total = 0
    for r in reports:
        if r.skipped_reason:
            continue
        attributed = 0
        for f in r.faults:
            if f.get("landed") and f.get("error_seconds") is not None:
                samples.setdefault(str(f["name"]), (str(f.get("family", "")), []))[1].append(
                    float(f["error_seconds"]))
            attributed += int(f.get("bad_requests") or 0)
        slos = r.data.get("slos") or []
        if slos:
            total += int(slos[0].get("total") or 0)
            bad += max(0, int(slos[0].get("bad") or 0) - attributed)
            if objective is None:
                objective = float(slos[0]["objective"])
    if objective is None or (not samples and not total):
        return None
    kinds = {n: KindSamples(name=n, family=fam, error_seconds=tuple(v))
             for n, (fam, v) in samples.items()}
    freqs = FaultFrequencies.from_mapping(frequencies) if frequencies else FaultFrequencies()
    projection = project_samples(kinds, objective=objective, frequencies=freqs,
                                 background_bad=bad, background_total=total)
    if projection.meets == "yes" and truncated_runs(reports):
        projection = replace(projection, meets="uncertain")  # truncated impact: a lower bound
    return projection
