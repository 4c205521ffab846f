"""report.json v1 as pydantic models: the single source of its published JSON Schema.

``harness/report/schema.json`` is generated from :class:`Report` (``python -m harness.schemas``;
a unit test fails when the committed file is stale). The models describe what the hand-written
schema they replaced did, object by object: the same required fields, types, nullability,
enums and bounds, and, like it, no object forbids fields it does not name (consumers must
ignore unknown fields, so the harness may add some without a new version).

A report is checked against the generated schema (``harness.report.writer.validate_report``
before it is written, ``harness.gate.reports`` when the gate or the history reads one); these
models are not a second validator. Field kinds map to JSON Schema as: ``str`` -> string,
``int`` -> integer, ``float`` -> number, ``X | None`` -> X or null; a field with a default may
be left out, and :func:`_absent` marks one that may be left out but not set to null.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SLO",
    "Alert",
    "Budget",
    "Burn",
    "CacheHitRatio",
    "ErrorBudget",
    "Exercise",
    "ExerciseMinimum",
    "ExperimentInfo",
    "Fault",
    "Files",
    "Generator",
    "Incident",
    "JudgedTrial",
    "JudgedWindow",
    "LatencyMs",
    "Milestone",
    "Report",
    "Skipped",
    "SteadyState",
    "SteadyStateAfter",
    "StopCondition",
    "Summary",
    "Trial",
    "WriteCheck",
    "Writes",
]

DESCRIPTION = (
    "One experiment run: verdict, SLO figures with confidence bounds, error budget, burn, "
    "latency, generator health, per-fault impact, trials and their distributions. Times are "
    "seconds relative to the run start unless named *_at (ISO-8601 UTC). Consumers must ignore "
    "fields they do not know; a breaking change bumps 'version'.")

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
#: A number, or null when it was not measured.
OptNum = float | None
NonNegInt = Annotated[int, Field(ge=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
OpenFraction = Annotated[float, Field(gt=0, lt=1)]
#: The writer keeps the string it builds (``2026-11-22T00:30:00Z``); the schema names its format.
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _absent(**kwargs: Any) -> Any:
    """A field that may be left out but not set to null (no default in the schema)."""
    return Field(default=None, json_schema_extra=_no_default, **kwargs)


class _Open(BaseModel):
    """A report object: unknown fields are allowed (``additionalProperties: true``)."""

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)


class ExperimentInfo(_Open):
    name: str = Field(min_length=1)
    description: str
    hypothesis: str
    file: str | None
    tags: list[str] = _absent()


class CacheHitRatio(_Open):
    measured: Fraction | None
    target: Fraction | None
    requests: NonNegInt
    providers: dict[str, NonNegInt] = _absent(
        description="answered requests by X-Provider (cache, primary, fallback, none)")


class StopCondition(_Open):
    at_s: float = _absent()
    bad_fraction: float = _absent()
    window_s: float = _absent()
    condition: str = _absent()


class SteadyStateAfter(_Open):
    ok: bool
    detail: str
    window_s: NonNegFloat
    total: int = _absent()
    bad: int = _absent()


class SteadyState(_Open):
    ok: bool = _absent()
    total: int = _absent()
    bad: int = _absent()
    detail: str = _absent()


class SLO(_Open):
    name: str
    objective: OpenFraction
    latency_threshold_ms: OptNum
    degraded_is_good: bool
    good: NonNegInt
    total: NonNegInt
    bad: NonNegInt
    bad_fraction: OptNum
    lower: OptNum
    upper: OptNum
    confidence: OpenFraction
    verdict: Verdict
    needed_requests: NonNegInt | None


class ErrorBudget(_Open):
    objective: float | None
    allowed_bad: float | None
    bad: int | None
    consumed: float | None = Field(description="bad / allowed_bad; may exceed 1.0")


class Alert(_Open):
    name: str
    threshold: float
    fired: bool


class Burn(_Open):
    windows: list[Any]
    alerts: list[Alert]


class LatencyMs(_Open):
    p50: OptNum
    p90: OptNum
    p99: OptNum
    p999: OptNum
    max: OptNum


class Generator(_Open):
    kind: Literal["openloop", "locust", "none"]
    rate: NonNegFloat
    sent: NonNegInt
    dropped: NonNegInt
    fell_behind: bool
    lateness_p99_ms: OptNum
    max_lateness_ms: OptNum
    achieved_rate: OptNum = None


class Milestone(_Open):
    name: Literal["detected", "decided", "served", "redundant"]
    at_s: OptNum
    signal: str


class ExerciseMinimum(_Open):
    requests: NonNegInt | None = None
    upstream_calls: NonNegInt | None = None
    bytes: NonNegInt | None = None


class Exercise(_Open):
    """traffic through the faulted part while the fault was on (docs/MEASUREMENT.md, Exercise)"""

    requests: NonNegInt
    upstream_calls: NonNegInt | None
    bytes: NonNegInt | None
    counters: dict[str, float]
    minimum: ExerciseMinimum
    ok: bool
    detail: str
    advice: str = _absent()
    rule: Literal["llm", "gated"] = _absent()
    window_s: NonNegFloat = _absent()
    probes_ms: dict[str, OptNum] = _absent()
    replicas: dict[str, int] = _absent()


class WriteCheck(_Open):
    """Acknowledged-write check of one store (docs/writes.md)."""

    acknowledged: NonNegInt
    readable_after_heal: NonNegInt
    lost: NonNegInt
    duplicates: NonNegInt
    store: Literal["redis", "qdrant"]
    checked: bool = _absent()
    detail: str = _absent()


class Fault(_Open):
    id: str
    name: str
    family: str
    target: str | None
    params: dict[str, Any]
    services: list[str]
    trial: int = _absent()
    injected_at_s: OptNum
    reverted_at_s: OptNum
    landed: bool
    verification: str
    detect_s: OptNum
    failover_s: OptNum
    recover_s: OptNum
    bad_requests: NonNegInt | None
    error_seconds: OptNum
    milestones: list[Milestone] = _absent(
        description="failover milestones from the stack's own signals; at_s is seconds since "
                    "the injection, null when not reached while observed "
                    "(docs/MEASUREMENT.md)")
    exercise: Exercise | None = None
    writes: WriteCheck | None = None


class Writes(_Open):
    sent: NonNegInt
    require_no_loss: bool
    stores: dict[str, WriteCheck]
    reasons: list[str]


class Trial(_Open):
    trial: int = Field(ge=1)
    started_at_s: float = _absent()
    ended_at_s: float = _absent()
    verdict: Verdict
    verdict_reasons: list[str] = _absent()
    slos: list[SLO] = _absent()
    faults: list[Fault]


class Summary(_Open):
    """One metric of one fault over the trials."""

    n: int = _absent()
    min: OptNum
    median: OptNum
    p95: OptNum
    max: OptNum


class JudgedTrial(_Open):
    trial: int
    start_s: float
    end_s: float
    anchored: bool = _absent()
    requests: NonNegInt


class JudgedWindow(_Open):
    lead_s: NonNegFloat
    recovery_s: OptNum
    requests: NonNegInt
    trials: list[JudgedTrial]


class Incident(_Open):
    name: str
    family: str
    share: OptNum
    share_requests: OptNum = None
    share_time: OptNum = None
    share_timeslices: OptNum = None


class Budget(_Open):
    objective: OpenFraction
    production_rate: float = Field(gt=0)
    window_s: float = Field(gt=0)
    method: Literal["occurrences", "timeslices"]
    worst_share: OptNum = None
    incidents: list[Incident]
    episodes: dict[str, Any] = _absent()


class Skipped(_Open):
    reason: str
    capability: str | None = None


class Files(_Open):
    timeline: str | None
    markdown: str
    html: str
    junit: str


class Report(_Open):
    """The ``report.json`` of one run (docs/report-schema.md)."""

    model_config = ConfigDict(title="chaos-harness report.json, version 1",
                              json_schema_extra={"description": DESCRIPTION})

    schema_: Literal["chaos-harness/report"] = Field(alias="schema")
    version: Literal[1]
    harness_version: str = _absent()
    run_id: str = Field(min_length=1)
    experiment: ExperimentInfo
    seed: int
    substrate: str
    vector_mode: str
    started_at: DateTime
    duration_s: NonNegFloat
    knobs: dict[str, Any]
    knob_overrides: dict[str, Any] = _absent()
    verdict: Verdict
    verdict_reasons: list[str]
    end_reason: Literal["completed", "stop-condition", "interrupted", "error", "skipped",
                        "steady-state-failed"] = _absent()
    cache_hit_ratio: CacheHitRatio | None = Field(
        default=None,
        description="The LLM cache's share of the answered (2xx) requests in the analysed "
                    "window, from each request's X-Provider header. target: what the load mix "
                    "was built for (load.mix.cache_hit_target of a generated mix, 0 for unique, "
                    "null when the mix does not control it). measured is null only when no "
                    "request was answered.")
    stop_condition: StopCondition | None = None
    steady_state_after: SteadyStateAfter | None = Field(
        default=None, description="the SLOs checked again over a window after the recovery phase")
    steady_state: SteadyState | None = None
    slos: list[SLO]
    error_budget: ErrorBudget
    burn: Burn
    latency_ms: LatencyMs
    generator: Generator
    faults: list[Fault]
    writes: Writes | None = Field(
        default=None, description="Acknowledged-write checks of the writer share (null: no writes).")
    trials: list[Trial]
    distributions: dict[str, dict[str, Summary]] = Field(
        description="fault name -> metric (detect_s, failover_s, recover_s, bad_requests, "
                    "error_seconds) -> summary over trials")
    projection: dict[str, Any] | None
    judged_window: JudgedWindow | None = Field(
        default=None, description="the fault-anchored span of each trial the SLO verdict counts "
                                  "(docs/MEASUREMENT.md)")
    budget: Budget | None = Field(
        default=None, description="each incident's cost as a share of the real SLO window's "
                                  "budget at the production rate")
    skipped: Skipped | None
    files: Files
