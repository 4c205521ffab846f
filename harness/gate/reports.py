"""Load report.json v1 files (validated against ``harness/report/schema.json``) and pull metrics.

That schema is generated from :class:`harness.report.model.Report` (``python -m harness.schemas``).

The metric helpers are shared by the gate rules, the regression check and the history trends,
so the same number is meant everywhere: a fault metric of a run is a statistic (max / p95 /
median) over the matching faults of all its trials; a report metric is one number.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.gate.validation import load_schema, validate

__all__ = [
    "FAULT_METRICS",
    "REPORT_METRICS",
    "LoadedReport",
    "fault_values",
    "load_report",
    "metric_value",
    "report_from_mapping",
    "statistic",
]

FAULT_METRICS = ("detect_s", "failover_s", "recover_s", "bad_requests", "error_seconds")
REPORT_METRICS = ("budget_consumed", "bad_fraction", "latency_p99_ms", "latency_p50_ms")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedReport:
    path: Path | None
    data: Mapping[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.data["run_id"])

    @property
    def experiment(self) -> str:
        return str(self.data["experiment"]["name"])

    @property
    def verdict(self) -> str:
        return str(self.data["verdict"])

    @property
    def skipped_reason(self) -> str | None:
        s = self.data.get("skipped")
        return str(s.get("reason")) if isinstance(s, Mapping) else None

    @property
    def faults(self) -> list[Mapping[str, Any]]:
        """Every fault of every trial (the top-level list, else the trials' lists)."""
        top = list(self.data.get("faults") or [])
        if top:
            return top
        return [f for t in self.data.get("trials") or [] for f in t.get("faults") or []]


def load_report(path: str | Path) -> LoadedReport:
    """Read and validate one report.json (ConfigError naming the file and field otherwise)."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("report not found", file=str(p),
                          allowed="a report.json written by `chaos-harness run`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"not a readable JSON report: {exc}", file=str(p)) from None
    return report_from_mapping(data, path=p)


def report_from_mapping(data: Any, *, path: Path | None = None) -> LoadedReport:
    validate(data, load_schema("harness.report", "schema.json"),
             file=str(path) if path else "report.json")
    return LoadedReport(path=path, data=data)


def statistic(values: Sequence[float], which: str) -> float | None:
    """max, p95 (nearest rank) or median of the values; None for no values."""
    vals = sorted(v for v in values if v is not None and not math.isnan(v))
    if not vals:
        return None
    if which == "max":
        return vals[-1]
    if which == "p95":
        return vals[max(0, math.ceil(0.95 * len(vals)) - 1)]
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def fault_values(report: LoadedReport, metric: str, *, family: str | None = None,
                 name: str | None = None) -> tuple[list[float], int]:
    """(measured values, number of matching faults) for a per-fault metric."""
    matching = [f for f in report.faults
                if (family is None or f.get("family") == family)
                and (name is None or f.get("name") == name)]
    values = [float(f[metric]) for f in matching if f.get(metric) is not None]
    return values, len(matching)


def metric_value(report: LoadedReport, metric: str, *, family: str | None = None,
                 name: str | None = None, stat: str = "median") -> float | None:
    """One number for a metric of a run (None when the run did not measure it)."""
    if metric in FAULT_METRICS:
        return statistic(fault_values(report, metric, family=family, name=name)[0], stat)
    d = report.data
    if metric == "budget_consumed":
        v = (d.get("error_budget") or {}).get("consumed")
    elif metric == "bad_fraction":
        slos = d.get("slos") or []
        bad = sum(int(s.get("bad") or 0) for s in slos[:1])
        total = sum(int(s.get("total") or 0) for s in slos[:1])
        v = bad / total if total else None
    elif metric in ("latency_p99_ms", "latency_p50_ms"):
        v = (d.get("latency_ms") or {}).get(metric.split("_")[1])
    else:
        raise ConfigError("unknown metric", field="metric", value=metric,
                          allowed=FAULT_METRICS + REPORT_METRICS)
    return None if v is None else float(v)
