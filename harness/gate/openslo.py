"""Read OpenSLO ``SLO`` documents so teams gate on the objectives they already publish.

Supported: ``apiVersion: openslo/v1`` and ``openslo/v1alpha``, ``kind: SLO`` (other kinds in
the same multi-document file -- Service, SLI, AlertPolicy -- are ignored). From each objective
we take ``target`` (a fraction, e.g. 0.9999) or ``targetPercent`` (e.g. 99.99), and for
threshold objectives ``op``/``value`` (a latency bound, read as milliseconds unless the SLO
is annotated ``chaos-harness/threshold-unit: s``). Ratio indicators (``ratioMetric`` in v1,
``ratioMetrics`` in v1alpha) count good/total requests, which is what a report SLO measures.

An OpenSLO SLO is matched to a report SLO by (first that applies): the policy's ``openslo.map``,
the annotation ``chaos-harness/slo``, else its ``metadata.name``.

For the cost of an incident against the real budget we also read ``budgetingMethod``
(``Occurrences``, ``Timeslices``, ``RatioTimeslices``), ``timeSliceTarget`` and
``timeSliceWindow`` (e.g. ``1m``), the window (``timeWindow[0].duration`` such as ``28d``, or
v1alpha ``{count, unit}``) in seconds, and the production request rate from the annotation
``chaos-harness/production-rate`` (requests per second; OpenSLO has no field for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.durations import openslo_duration_seconds
from harness.errors import ConfigError
from harness.gate.validation import read_yaml_documents

__all__ = ["API_VERSIONS", "BUDGETING_METHODS", "OpenSLOObjective", "load_openslo",
           "parse_openslo"]

API_VERSIONS = ("openslo/v1", "openslo/v1alpha")
THRESHOLD_OPS = ("lt", "lte", "gt", "gte")
BUDGETING_METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
#: v1alpha's "{count} {unit}" windows (the "28d" shorthand: harness.durations)
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0,
          "second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0}


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenSLOObjective:
    slo: str  # OpenSLO metadata.name
    report_slo: str  # the report SLO it is checked against
    objective: str  # displayName or "objectives[i]"
    target: float  # fraction of good events, e.g. 0.9999
    indicator: str  # "ratio" | "threshold" | "unknown"
    op: str | None = None  # threshold objectives: lt | lte | gt | gte
    threshold_ms: float | None = None
    time_window: str | None = None
    file: str | None = None
    api_version: str = "openslo/v1"
    budgeting_method: str | None = None  # Occurrences | Timeslices | RatioTimeslices
    time_window_s: float | None = None
    timeslice_target: float | None = None
    timeslice_s: float | None = None
    production_rate: float | None = None  # annotation chaos-harness/production-rate

    @property
    def charges(self) -> str:
        """How the budget is charged: "timeslices" for (Ratio)Timeslices, else "occurrences"."""
        return "timeslices" if self.budgeting_method in ("Timeslices", "RatioTimeslices") \
            else "occurrences"


def load_openslo(path: str | Path, *, name_map: Mapping[str, str] | None = None
                 ) -> list[OpenSLOObjective]:
    """Every objective of every ``SLO`` document in a YAML file."""
    return parse_openslo(read_yaml_documents(path), file=str(path), name_map=name_map)


def parse_openslo(documents: list[Any], *, file: str | None = None,
                  name_map: Mapping[str, str] | None = None) -> list[OpenSLOObjective]:
    out: list[OpenSLOObjective] = []
    for d, doc in enumerate(documents):
        where = f"documents[{d}]"
        if not isinstance(doc, Mapping) or doc.get("kind") != "SLO":
            continue
        version = doc.get("apiVersion")
        if version not in API_VERSIONS:
            raise ConfigError("unsupported OpenSLO apiVersion", file=file,
                              field=f"{where}.apiVersion", value=version, allowed=API_VERSIONS)
        out.extend(_slo(doc, str(version), where, file, name_map or {}))
    if not out:
        raise ConfigError("no OpenSLO document of kind SLO with objectives in this file",
                          file=file, allowed="apiVersion openslo/v1 or openslo/v1alpha, kind SLO")
    return out


def _slo(doc: Mapping[str, Any], version: str, where: str, file: str | None,
         name_map: Mapping[str, str]) -> list[OpenSLOObjective]:
    meta = doc.get("metadata")
    spec = doc.get("spec")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        raise ConfigError("an SLO needs metadata.name", file=file, field=f"{where}.metadata.name",
                          value=None, allowed="a string")
    if not isinstance(spec, Mapping):
        raise ConfigError("an SLO needs a spec mapping", file=file, field=f"{where}.spec")
    name = meta["name"]
    annotations = meta.get("annotations") or {}
    report_slo = name_map.get(name) or annotations.get("chaos-harness/slo") or name
    unit = annotations.get("chaos-harness/threshold-unit", "ms")
    if unit not in ("ms", "s"):
        raise ConfigError("unknown threshold unit", file=file,
                          field=f"{where}.metadata.annotations.chaos-harness/threshold-unit",
                          value=unit, allowed=("ms", "s"))
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise ConfigError("an SLO needs a non-empty objectives list", file=file,
                          field=f"{where}.spec.objectives", value=None, allowed="a list")
    window = _window(spec)
    budgeting = _budgeting(spec, annotations, where, file)
    slo_indicator = _indicator_kind(spec.get("indicator"))
    out = []
    for i, obj in enumerate(objectives):
        f = f"{where}.spec.objectives[{i}]"
        if not isinstance(obj, Mapping):
            raise ConfigError("an objective must be a mapping", file=file, field=f)
        target = _target(obj, f, file)
        op, threshold = _threshold(obj, f, file, unit)
        indicator = "ratio" if "ratioMetrics" in obj else slo_indicator
        if op is not None and indicator == "unknown":
            indicator = "threshold"
        out.append(OpenSLOObjective(
            slo=name, report_slo=str(report_slo),
            objective=str(obj.get("displayName") or f"objectives[{i}]"), target=target,
            indicator=indicator, op=op, threshold_ms=threshold, time_window=window, file=file,
            api_version=version, time_window_s=_window_seconds(window),
            timeslice_target=_fraction(obj.get("timeSliceTarget"), f"{f}.timeSliceTarget",
                                       file),
            timeslice_s=openslo_duration_seconds(obj.get("timeSliceWindow")), **budgeting))
    return out


def _fraction(value: object, field: str, file: str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError("a slice target is a fraction", file=file, field=field, value=value,
                          allowed="a number in (0, 1), e.g. 0.95")
    return float(value)


def _budgeting(spec: Mapping[str, Any], annotations: Mapping[str, Any], where: str,
               file: str | None) -> dict[str, Any]:
    method = spec.get("budgetingMethod")
    if method is not None and method not in BUDGETING_METHODS:
        raise ConfigError("unknown budgetingMethod", file=file,
                          field=f"{where}.spec.budgetingMethod", value=method,
                          allowed=BUDGETING_METHODS)
    rate: Any = annotations.get("chaos-harness/production-rate")
    if rate is not None:
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            rate = -1.0
        if not rate > 0:
            raise ConfigError("the production rate is requests per second", file=file,
                              field=f"{where}.metadata.annotations.chaos-harness/production-rate",
                              value=annotations.get("chaos-harness/production-rate"),
                              allowed="a number > 0, e.g. '300'")
    return {"budgeting_method": method, "production_rate": rate}


def _window_seconds(window: str | None) -> float | None:
    if window is None:
        return None
    if " " in window:  # v1alpha "{count} {unit}"
        count, unit = window.split(" ", 1)
        factor = _UNITS.get(unit.lower().rstrip("s"))
        try:
            return float(count) * factor if factor else None
        except ValueError:
            return None
    return openslo_duration_seconds(window)


def _target(obj: Mapping[str, Any], f: str, file: str | None) -> float:
    has_t, has_p = "target" in obj, "targetPercent" in obj
    if has_t == has_p:
        raise ConfigError("an objective needs exactly one of target or targetPercent", file=file,
                          field=f, value=None,
                          allowed="target: 0.9999 (fraction) or targetPercent: 99.99")
    raw = obj["target"] if has_t else obj["targetPercent"]
    scale = 1.0 if has_t else 100.0
    key = "target" if has_t else "targetPercent"
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw / scale < 1:
        raise ConfigError("objective target out of range", file=file, field=f"{f}.{key}",
                          value=raw, allowed="a number in (0, 1)" if has_t else
                          "a number in (0, 100)")
    return float(raw) / scale


def _threshold(obj: Mapping[str, Any], f: str, file: str | None,
               unit: str) -> tuple[str | None, float | None]:
    if "op" not in obj and "value" not in obj:
        return None, None
    op, value = obj.get("op"), obj.get("value")
    if op not in THRESHOLD_OPS:
        raise ConfigError("threshold objective needs a comparison op", file=file,
                          field=f"{f}.op", value=op, allowed=THRESHOLD_OPS)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError("threshold objective needs a non-negative value", file=file,
                          field=f"{f}.value", value=value, allowed="a number >= 0")
    return str(op), float(value) * (1000.0 if unit == "s" else 1.0)


def _indicator_kind(indicator: object) -> str:
    if not isinstance(indicator, Mapping):
        return "unknown"  # indicatorRef: the SLI lives elsewhere; its kind does not change the check
    spec = indicator.get("spec", indicator)
    if isinstance(spec, Mapping):
        if "ratioMetric" in spec or "ratioMetrics" in spec:
            return "ratio"
        if "thresholdMetric" in spec:
            return "threshold"
    return "unknown"


def _window(spec: Mapping[str, Any]) -> str | None:
    windows = spec.get("timeWindow") or spec.get("timeWindows")
    if isinstance(windows, list) and windows and isinstance(windows[0], Mapping):
        w = windows[0]
        if w.get("duration"):
            return str(w["duration"])
        if w.get("count") and w.get("unit"):  # v1alpha: {count: 28, unit: Day}
            return f"{w['count']} {w['unit']}"
    return None
