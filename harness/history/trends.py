"""Trends per experiment from the history: failover/recover/detect times, budget, verdicts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.gate.reports import statistic
from harness.history.chart import TrendPoint
from harness.history.store import HistoryStore, RunRow

__all__ = ["TREND_METRICS", "ExperimentTrend", "trend_points", "trends"]

#: metric -> (RunRow attribute, unit, label)
TREND_METRICS = {
    "failover_s": ("failover_s", "s", "failover time (median per run)"),
    "recover_s": ("recover_s", "s", "recovery time (median per run)"),
    "detect_s": ("detect_s", "s", "time to detect (median per run)"),
    "budget_consumed": ("budget_consumed", "", "error budget consumed (fraction)"),
    "latency_p99_ms": ("latency_p99_ms", "ms", "latency p99"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentTrend:
    experiment: str
    runs: tuple[RunRow, ...]  # oldest first

    @property
    def verdicts(self) -> dict[str, int]:
        return dict(Counter(r.verdict for r in self.runs))

    @property
    def latest(self) -> RunRow | None:
        return self.runs[-1] if self.runs else None

    def series(self, metric: str) -> list[float | None]:
        attr = TREND_METRICS[metric][0]
        return [getattr(r, attr) for r in self.runs]

    def change(self, metric: str) -> float | None:
        """Latest value minus the median of the earlier runs (None without both)."""
        s = self.series(metric)
        if len(s) < 2 or s[-1] is None:
            return None
        ref = statistic([v for v in s[:-1] if v is not None], "median")
        return None if ref is None else float(s[-1]) - ref

    def to_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment, "runs": len(self.runs), "verdicts": self.verdicts,
            "latest": self.latest.to_json() if self.latest else None,
            "series": {m: self.series(m) for m in TREND_METRICS},
            "change_vs_median": {m: self.change(m) for m in TREND_METRICS},
            "run_ids": [r.run_id for r in self.runs],
        }


def trends(store: HistoryStore, *, experiments: Sequence[str] | None = None,
           last: int = 20) -> list[ExperimentTrend]:
    names = list(experiments) if experiments else store.experiments()
    return [ExperimentTrend(experiment=n, runs=tuple(store.runs(experiment=n, last=last)))
            for n in names]


def trend_points(trend: ExperimentTrend, metric: str) -> list[TrendPoint]:
    attr = TREND_METRICS[metric][0]
    return [TrendPoint(label=r.started_at[:16].replace("T", " "), value=getattr(r, attr),
                       verdict=r.verdict, run_id=r.run_id) for r in trend.runs]
