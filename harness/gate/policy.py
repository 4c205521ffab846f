"""The gate policy: a small YAML file of rules applied to report.json files.

Structure is defined by the pydantic model :class:`~harness.gate.policy_model.PolicyFile`, from
which the published ``policy.schema.json`` is generated (see docs/gate-policy.md); this module
loads a file, validates it with that model (a bad file is a ConfigError naming the file, the
field, the value and what is allowed) and builds frozen values the evaluator reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.errors import ConfigError
from harness.gate.openslo import OpenSLOObjective, load_openslo
from harness.gate.policy_model import PolicyFile, RegressionSpec
from harness.gate.reports import FAULT_METRICS, REPORT_METRICS
from harness.gate.validation import read_yaml_mapping, validate_model

__all__ = [
    "BudgetRule",
    "FaultLimit",
    "HistoryWindow",
    "MilestoneLimit",
    "Policy",
    "RegressionLimit",
    "RegressionRules",
    "SLORule",
    "load_policy",
    "policy_from_mapping",
    "policy_schema",
]

Inconclusive = Literal["fail", "warn", "pass"]
Statistic = Literal["max", "p95", "median"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SLORule:
    slo: str  # report SLO name or "*"
    min_objective: float | None = None
    min_availability: float | None = None
    verdict: str | None = None  # "PASS" | "INCONCLUSIVE"
    required: bool = True  # a report without a matching SLO fails the rule


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetRule:
    max_consumed: float | None = None  # of the experiment's own error budget
    max_incident_share: float | None = None  # of the SLO window's real budget, per incident
    method: Literal["occurrences", "timeslices"] | None = None  # None: OpenSLO's, else report's


@dataclass(frozen=True, slots=True, kw_only=True)
class MilestoneLimit:
    """``decided <= 5 s`` for the matching faults, optionally only when ``signal`` set it."""

    milestone: Literal["detected", "decided", "served", "redundant"]
    max_s: float
    family: str | None = None
    name: str | None = None
    signal: str | None = None  # substring of the milestone's signal, e.g. "+switch-master"
    statistic: Statistic = "max"

    @property
    def selector(self) -> str:
        parts = [f"family={self.family}" if self.family else "",
                 f"name={self.name}" if self.name else ""]
        return ",".join(p for p in parts if p) or "all faults"


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultLimit:
    family: str | None = None
    name: str | None = None
    max_detect_s: float | None = None
    max_failover_s: float | None = None
    max_recover_s: float | None = None
    max_bad_requests: int | None = None
    statistic: Statistic = "max"

    @property
    def selector(self) -> str:
        parts = [f"family={self.family}" if self.family else "", f"name={self.name}" if self.name else ""]
        return ",".join(p for p in parts if p) or "all faults"

    def matches(self, fault: Mapping[str, Any]) -> bool:
        return ((self.family is None or fault.get("family") == self.family)
                and (self.name is None or fault.get("name") == self.name))

    def limits(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for metric in ("detect_s", "failover_s", "recover_s", "bad_requests"):
            v = getattr(self, f"max_{metric}")
            if v is not None:
                out.append((metric, float(v)))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RegressionLimit:
    metric: str
    family: str | None = None
    name: str | None = None
    max_increase_pct: float | None = None
    max_increase_abs: float | None = None
    statistic: Statistic = "median"

    @property
    def per_fault(self) -> bool:
        return self.metric in FAULT_METRICS

    def allowed(self, reference: float) -> float:
        """The largest value that is not a regression: the looser of the two tolerances."""
        bounds = []
        if self.max_increase_pct is not None:
            bounds.append(reference * (1 + self.max_increase_pct / 100) if reference >= 0
                          else reference)
        if self.max_increase_abs is not None:
            bounds.append(reference + self.max_increase_abs)
        return max(bounds)


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryWindow:
    last: int
    min_runs: int = 1
    verdicts: tuple[str, ...] = ("PASS", "FAIL", "INCONCLUSIVE")


@dataclass(frozen=True, slots=True, kw_only=True)
class RegressionRules:
    limits: tuple[RegressionLimit, ...]
    baseline: Path | None = None
    history: HistoryWindow | None = None
    missing: Literal["skip", "inconclusive", "fail"] = "skip"


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    name: str
    file: str | None = None
    description: str = ""
    inconclusive: Inconclusive = "fail"
    min_verdict: str = "PASS"
    require_landed: bool = True
    min_confidence: float | None = None
    slos: tuple[SLORule, ...] = ()
    budget: BudgetRule | None = None
    faults: tuple[FaultLimit, ...] = ()
    milestones: tuple[MilestoneLimit, ...] = ()
    regression: RegressionRules | None = None
    objectives: tuple[OpenSLOObjective, ...] = field(default=())


def policy_schema() -> Mapping[str, Any]:
    """The published JSON Schema of a policy file (generated from :class:`PolicyFile`)."""
    from harness.schemas import document_schema

    return document_schema("gate-policy")


def load_policy(path: str | Path) -> Policy:
    """Read, validate and build a policy file (ConfigError on any problem)."""
    p = Path(path)
    return policy_from_mapping(read_yaml_mapping(p), file=str(p), base_dir=p.parent)


def policy_from_mapping(data: Mapping[str, Any], *, file: str | None = None,
                        base_dir: Path | None = None) -> Policy:
    doc = validate_model(PolicyFile, data, file=file)
    base = base_dir or Path.cwd()
    regression = _regression(doc.regression, base, file)
    objectives: list[OpenSLOObjective] = []
    if doc.openslo is not None:
        mapping = dict(doc.openslo.map)
        for i, rel in enumerate(doc.openslo.files):
            objectives.extend(load_openslo(_resolve(rel, base, file, f"openslo.files[{i}]"),
                                           name_map=mapping))
    return Policy(
        name=doc.name or (Path(file).stem if file else "policy"),
        file=file,
        description=doc.description,
        inconclusive=doc.inconclusive,
        min_verdict=doc.verdict.minimum,
        require_landed=doc.require_landed,
        min_confidence=doc.confidence.minimum if doc.confidence is not None else None,
        slos=tuple(SLORule(**r.model_dump()) for r in doc.slos),
        budget=BudgetRule(**doc.budget.model_dump()) if doc.budget is not None else None,
        faults=tuple(FaultLimit(**r.model_dump()) for r in doc.faults),
        milestones=tuple(MilestoneLimit(**r.model_dump()) for r in doc.milestones),
        regression=regression,
        objectives=tuple(objectives),
    )


def _resolve(rel: str, base: Path, file: str | None, field_name: str) -> Path:
    p = Path(rel)
    p = p if p.is_absolute() else base / p
    if not p.is_file():
        raise ConfigError("file not found (paths are relative to the policy file)", file=file,
                          field=field_name, value=rel, allowed=f"an existing file, e.g. {p}")
    return p


def _regression(spec: RegressionSpec | None, base: Path,
                file: str | None) -> RegressionRules | None:
    if spec is None:
        return None
    limits = []
    for i, lim in enumerate(spec.limits):
        if lim.metric in REPORT_METRICS and (lim.family is not None or lim.name is not None):
            raise ConfigError("family/name select faults, but this metric is per report",
                              file=file, field=f"regression.limits[{i}].metric",
                              value=lim.metric, allowed=FAULT_METRICS)
        limits.append(RegressionLimit(**lim.model_dump()))
    window = None
    if spec.history is not None:
        hist = spec.history
        window = HistoryWindow(last=hist.last, min_runs=hist.min_runs,
                               verdicts=tuple(hist.verdicts))
        if window.min_runs > window.last:
            raise ConfigError("min_runs cannot exceed last", file=file,
                              field="regression.history.min_runs", value=window.min_runs,
                              allowed=f"an integer in [1, {window.last}]")
    baseline = (_resolve(spec.baseline, base, file, "regression.baseline")
                if spec.baseline is not None else None)
    return RegressionRules(limits=tuple(limits), baseline=baseline, history=window,
                           missing=spec.missing)
