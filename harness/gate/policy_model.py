"""The gate policy file as a pydantic model: the single source of its structure.

``harness/gate/policy.schema.json`` is generated from :class:`PolicyFile`
(``python -m harness.schemas``); :func:`harness.gate.policy.policy_from_mapping` validates a file
with it and builds the frozen values the evaluator reads. The model accepts exactly what the
hand-written schema it replaced accepted: JSON numbers (never booleans or numeric strings),
no unknown fields, optional fields that may be left out but not set to null.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    model_validator,
)

from harness.gate.validation import Integer, Version1

__all__ = [
    "BudgetSpec",
    "ConfidenceSpec",
    "FaultLimitSpec",
    "HistorySpec",
    "MilestoneSpec",
    "OpenSLOSpec",
    "PolicyFile",
    "RegressionLimitSpec",
    "RegressionSpec",
    "SLORuleSpec",
    "VerdictSpec",
]

Family = Literal["zone", "process", "network", "provider", "datastore"]
Statistic = Literal["max", "p95", "median"]
Metric = Literal["detect_s", "failover_s", "recover_s", "bad_requests", "error_seconds",
                 "budget_consumed", "bad_fraction", "latency_p99_ms", "latency_p50_ms"]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _absent(**kwargs: Any) -> Any:
    """An optional field that may be left out but not set to null (no default in the schema)."""
    return Field(default=None, json_schema_extra=_no_default, **kwargs)


def _any_of_required(*names: str) -> dict[str, Any]:
    return {"anyOf": [{"required": [n]} for n in names]}


def _require_one(model: BaseModel, *names: str) -> None:
    if all(getattr(model, n) is None for n in names):
        raise ValueError(f"give at least one of {', '.join(names)}")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", regex_engine="python-re")


class VerdictSpec(_Strict):
    minimum: Literal["PASS", "INCONCLUSIVE"] = "PASS"


class ConfidenceSpec(_Strict):
    minimum: StrictFloat = Field(gt=0, lt=1)


class SLORuleSpec(_Strict):
    slo: StrictStr = Field(min_length=1, description="report SLO name, or * for every SLO")
    min_objective: StrictFloat = _absent(gt=0, lt=1)
    min_availability: StrictFloat = _absent(gt=0, lt=1)
    verdict: Literal["PASS", "INCONCLUSIVE"] = _absent()
    required: StrictBool = True


class BudgetSpec(_Strict):
    model_config = ConfigDict(
        json_schema_extra=_any_of_required("max_consumed", "max_incident_share"))

    max_consumed: StrictFloat = _absent(
        ge=0, description="of the experiment's own error budget (bad / allowed bad)")
    max_incident_share: StrictFloat = _absent(
        gt=0, description="per incident, share of the SLO window's real budget at the "
                          "production rate (report.json budget), e.g. 0.05")
    method: Literal["occurrences", "timeslices"] = _absent(
        description="how the budget is charged; default: the OpenSLO budgetingMethod, else "
                    "the report's")

    @model_validator(mode="after")
    def _a_limit(self) -> BudgetSpec:
        _require_one(self, "max_consumed", "max_incident_share")
        return self


class MilestoneSpec(_Strict):
    milestone: Literal["detected", "decided", "served", "redundant"]
    max_s: StrictFloat = Field(ge=0, description="seconds since the injection")
    family: Family = _absent()
    name: StrictStr = _absent(min_length=1)
    signal: StrictStr = _absent(
        min_length=1, description="only a milestone set by this signal counts (substring, e.g. "
                                  "'+switch-master', 'haproxy DOWN')")
    statistic: Statistic = "max"


_FAULT_LIMITS = ("max_detect_s", "max_failover_s", "max_recover_s", "max_bad_requests")


class FaultLimitSpec(_Strict):
    model_config = ConfigDict(json_schema_extra=_any_of_required(*_FAULT_LIMITS))

    family: Family = _absent()
    name: StrictStr = _absent(min_length=1)
    max_detect_s: StrictFloat = _absent(ge=0)
    max_failover_s: StrictFloat = _absent(ge=0)
    max_recover_s: StrictFloat = _absent(ge=0)
    max_bad_requests: Integer = _absent(ge=0)
    statistic: Statistic = "max"

    @model_validator(mode="after")
    def _a_limit(self) -> FaultLimitSpec:
        _require_one(self, *_FAULT_LIMITS)
        return self


class HistorySpec(_Strict):
    last: Integer = Field(ge=1, le=1000)
    min_runs: Integer = Field(default=1, ge=1)
    verdicts: list[Literal["PASS", "FAIL", "INCONCLUSIVE"]] = Field(
        default=["PASS", "FAIL", "INCONCLUSIVE"], min_length=1)


class RegressionLimitSpec(_Strict):
    model_config = ConfigDict(
        json_schema_extra=_any_of_required("max_increase_pct", "max_increase_abs"))

    metric: Metric
    family: Family = _absent()
    name: StrictStr = _absent(min_length=1)
    max_increase_pct: StrictFloat = _absent(ge=0)
    max_increase_abs: StrictFloat = _absent(ge=0)
    statistic: Statistic = "median"

    @model_validator(mode="after")
    def _a_tolerance(self) -> RegressionLimitSpec:
        _require_one(self, "max_increase_pct", "max_increase_abs")
        return self


class RegressionSpec(_Strict):
    model_config = ConfigDict(json_schema_extra=_any_of_required("baseline", "history"))

    baseline: StrictStr = _absent(
        min_length=1, description="a baseline report.json, relative to the policy file")
    history: HistorySpec = _absent()
    missing: Literal["skip", "inconclusive", "fail"] = "skip"
    limits: list[RegressionLimitSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _a_reference(self) -> RegressionSpec:
        _require_one(self, "baseline", "history")
        return self


class OpenSLOSpec(_Strict):
    files: list[Annotated[StrictStr, Field(min_length=1)]] = Field(min_length=1)
    map: dict[Any, StrictStr] = Field(
        default_factory=dict, description="OpenSLO SLO metadata.name -> report SLO name")


class PolicyFile(_Strict):
    """Rules a CI gate applies to report.json files (see docs/gate-policy.md)."""

    model_config = ConfigDict(title="chaos-harness gate policy, version 1")

    schema_: Literal["chaos-harness/gate-policy"] = Field(alias="schema")
    version: Version1
    name: StrictStr = _absent(min_length=1)
    description: StrictStr = ""
    inconclusive: Literal["fail", "warn", "pass"] = Field(
        default="fail", description="how an INCONCLUSIVE rule counts: fail (exit 1), "
                                    "warn (exit 2), pass (exit 0)")
    verdict: VerdictSpec = VerdictSpec()
    require_landed: StrictBool = True
    confidence: ConfidenceSpec = _absent()
    slos: list[SLORuleSpec] = Field(default_factory=list)
    budget: BudgetSpec = _absent()
    milestones: list[MilestoneSpec] = Field(default_factory=list)
    faults: list[FaultLimitSpec] = Field(default_factory=list)
    regression: RegressionSpec = _absent()
    openslo: OpenSLOSpec = _absent()
