"""The experiment model: what a YAML experiment file says, as frozen, validated values.

The same model is built from YAML (:func:`harness.experiment.loader.load_experiment`) or in
Python (``Experiment(name=..., hypothesis=..., method=[FaultStep(...)])``). Structure is checked
by pydantic; meaning (knob names and values, fault names, targets and parameters, the schedule)
by :meth:`Experiment.check`, which raises :class:`~harness.errors.ConfigError` with the field
path (``method[1].params.rate``), the bad value and what is allowed. Nothing here starts anything.

Durations are seconds: a number, or a string ``"500ms"``, ``"30s"``, ``"5m"``, ``"1h"``
(:data:`harness.durations.Duration`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)

from harness.durations import Duration, SLOWindow
from harness.experiment.checks import check_experiment

__all__ = [
    "SLO",
    "AnalysisSettings",
    "BudgetSettings",
    "Duration",
    "Experiment",
    "FaultStep",
    "LoadSpec",
    "MinExercise",
    "MixSpec",
    "ScheduledFault",
    "StackSpec",
    "SteadyState",
    "StopCondition",
    "WritesSpec",
]

_NAME = r"^[a-z0-9][a-z0-9._-]{0,79}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False,
                              validate_default=True, str_strip_whitespace=True)


class SLO(_Frozen):
    """One service-level objective the run is judged against."""

    name: str = Field(default="availability", pattern=_NAME)
    objective: float = Field(default=0.9999, gt=0, lt=1, allow_inf_nan=False,
                             description="fraction of good requests, e.g. 0.9999")
    latency_threshold_ms: float | None = Field(
        default=2000.0, gt=0, le=600_000, allow_inf_nan=False,
        description="a 2xx slower than this (from the intended send time) is bad; null = any")
    degraded_is_good: StrictBool = Field(
        default=True, description="whether an answer marked degraded counts as good")


class SteadyState(_Frozen):
    """Measured after warm-up and before the method; if any SLO FAILs here the run is
    INCONCLUSIVE and the method is skipped (the system was not healthy to begin with).
    Checked again over ``after`` seconds once the last trial's recovery wait is over: a stack
    that did not come back cannot PASS."""

    duration: Duration = 10.0
    after: Duration = Field(
        default=10.0, gt=0, description="length of the steady-state check after recovery "
                                        "(the stack must come back)")
    slos: tuple[SLO, ...] = Field(default=(SLO(),), min_length=1, max_length=8)


class MixSpec(_Frozen):
    """Which questions the load asks (``RequestMix.from_questions``).

    ``repeat: generated`` asks fresh questions generated from the file, except a
    ``cache_hit_target`` share that re-asks an earlier one (which the LLM cache answers): use it
    whenever a fault must be exercised by provider calls. ``zipf`` (the default) lets the cache
    answer ~99.7 % of the fixture corpus's questions.
    """

    questions: str | None = Field(
        default=None, description="path to a questions file; default: the fixture corpus")
    repeat: Literal["zipf", "uniform", "unique", "generated"] = "zipf"
    zipf_s: float = Field(default=1.1, gt=0, le=10, allow_inf_nan=False)
    cache_hit_target: float | None = Field(
        default=None, ge=0, le=0.99, allow_inf_nan=False,
        description="repeat: generated only: share of requests that re-ask an already-asked "
                    "question (default 0.5); the rest are fresh questions never asked before")
    nonce: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9]{1,16}$",
        description="repeat: generated only: goes into every fresh question; default: derived "
                    "from the run id, so no earlier run on a warm stack has asked them")


class WritesSpec(_Frozen):
    """A writer share beside the read load: document upserts and deletes through the front door
    (``POST /v1/documents``), open loop, each write's id and acknowledgement recorded; after the
    heal the harness reads every acknowledged write back (docs/writes.md)."""

    rate: float = Field(gt=0, le=2_000, allow_inf_nan=False,
                        description="writes per second (intended), Poisson arrivals")
    delete_share: float = Field(default=0.2, ge=0, le=0.9, allow_inf_nan=False,
                                description="fraction of writes that delete an earlier "
                                            "acknowledged upsert")
    timeout: Duration = Field(default=5.0, gt=0)
    require_no_loss: StrictBool = Field(
        default=False, description="lost == 0 per fault: a lost acknowledged write FAILs the "
                                   "run; a fault with no acknowledged write, or a store that "
                                   "could not be read back, makes it INCONCLUSIVE")


class LoadSpec(_Frozen):
    """Open-loop load through the front door for the whole run."""

    generator: Literal["openloop", "locust"] = "openloop"
    rate: float = Field(default=100.0, gt=0, le=20_000, allow_inf_nan=False,
                        description="requests per second (intended)")
    arrivals: Literal["poisson", "constant"] = "poisson"
    duration: Duration | None = Field(
        default=None, description="length of each trial's method phase; default: the end of "
                                  "the last fault plus the recovery wait")
    warmup: Duration = 5.0
    timeout: Duration = Field(default=10.0, gt=0)
    mix: MixSpec = MixSpec()
    writes: WritesSpec | None = Field(
        default=None, description="a writer share (document ingestion); null: reads only")
    remote_workers: StrictInt = Field(
        default=0, ge=0, le=1000,
        description="generator locust: Locust workers started on other machines with "
                    "'chaos-harness locust-worker --master HOST:PORT'; the run waits for them")
    master_bind: str = Field(default="127.0.0.1", pattern=r"^[A-Za-z0-9.:_-]{1,253}$",
                             description="with remote_workers: address the master listens on")
    master_port: StrictInt | None = Field(default=None, ge=1, le=65535,
                                          description="with remote_workers: the master's port "
                                                      "(default: a free one, printed)")

    @field_validator("remote_workers")
    @classmethod
    def _remote_needs_locust(cls, value: int, info: Any) -> int:
        if value and info.data.get("generator") != "locust":
            raise ValueError("remote_workers needs generator: locust")
        return value


class AnalysisSettings(_Frozen):
    """How the run is judged (docs/MEASUREMENT.md, "Which window a verdict judges")."""

    lead: Duration = Field(
        default=30.0, description="the judged window starts this long before each trial's "
                                  "first inject and ends `recovery` after its last revert")


class BudgetSettings(_Frozen):
    """The real error budget an incident is charged against (docs/MEASUREMENT.md)."""

    production_rate: float | None = Field(
        default=None, gt=0, le=10_000_000, allow_inf_nan=False,
        description="requests per second the service serves in production; null: the "
                    "experiment's load rate")
    window: SLOWindow = Field(default=30 * 86400.0, description="the SLO window (default 30d)")
    method: Literal["occurrences", "timeslices"] = Field(
        default="occurrences", description="OpenSLO budgetingMethod: count bad requests "
                                           "(occurrences) or bad time slices (timeslices)")
    timeslice: Duration = Field(default=60.0, gt=0, le=86400,
                                description="timeslices: the slice length (timeSliceWindow)")
    timeslice_target: float | None = Field(
        default=None, gt=0, lt=1, allow_inf_nan=False,
        description="timeslices: a slice is good when its good fraction is at least this "
                    "(timeSliceTarget); null: the first SLO's objective")


class StackSpec(_Frozen):
    """Substrate-independent stack settings."""

    knobs: dict[str, Any] = Field(
        default_factory=dict, description="knob overrides, e.g. {'haproxy.retries': 0}")
    ready_timeout: Duration = 90.0

    @field_validator("knobs", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        """``{haproxy: {retries: 0}}`` is the same as ``{haproxy.retries: 0}``."""
        if not isinstance(value, Mapping):
            return value
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(v, Mapping) and isinstance(k, str):
                out.update({f"{k}.{ik}": iv for ik, iv in cls._flatten(v).items()})
            else:
                out[k] = v
        return out


class MinExercise(_Frozen):
    """The traffic a fault must see while it is on to count as exercised (docs/MEASUREMENT.md,
    "Exercise"). Unset: the default rule (requests >= max(20, 5 % of rate x fault seconds);
    at least one upstream call / byte where the fault has such a counter); 0: not required."""

    requests: StrictInt | None = Field(
        default=None, ge=0, description="requests that went through the faulted part")
    upstream_calls: StrictInt | None = Field(
        default=None, ge=0, description="calls the faulted part received, counted outside the "
                                        "app (simulator requests, HAProxy sessions, cache calls)")
    bytes: StrictInt | None = Field(
        default=None, ge=0, description="bytes through the Toxiproxy proxies of a toxic")


class FaultStep(_Frozen):
    """One fault of the method, on the schedule relative to the start of the method phase."""

    fault: str = Field(description="a fault name from `chaos-harness fault list`")
    target: str | None = Field(default=None, description="selector: 'all', 'zone=az-b', "
                                                         "'service=app-az-a', 'role=redis-master'")
    params: dict[str, Any] = Field(default_factory=dict)
    start: Duration = 0.0
    start_jitter: Duration = Field(
        default=0.0, description="the start is drawn uniformly from [start, start+jitter] "
                                 "with the run's seed, so a seeded run replays it exactly")
    duration: Duration = Field(gt=0)
    min_exercise: MinExercise = Field(
        default=MinExercise(), description="below this the run is INCONCLUSIVE, never PASS")


class StopCondition(_Frozen):
    """Abort the method and heal when the bad fraction over a sliding window exceeds a limit."""

    max_bad_fraction: float = Field(gt=0, le=1, allow_inf_nan=False)
    window: Duration = Field(default=5.0, gt=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledFault:
    """A fault step with its start drawn for one trial (seconds from the method start)."""

    index: int
    step: FaultStep
    start_s: float
    end_s: float

    @property
    def fault_id(self) -> str:
        return f"f{self.index}-{self.step.fault}"


class Experiment(_Frozen):
    """A whole experiment. See docs/experiments.md for the format reference."""

    name: str = Field(pattern=_NAME)
    description: str = ""
    hypothesis: str = Field(min_length=1, description="what we expect, in words")
    tags: tuple[str, ...] = ()
    stack: StackSpec = StackSpec()
    load: LoadSpec = LoadSpec()
    steady_state: SteadyState = SteadyState()
    method: tuple[FaultStep, ...] = Field(default=(), max_length=32)
    stop_conditions: tuple[StopCondition, ...] = Field(default=(), max_length=8)
    trials: StrictInt = Field(default=1, ge=1, le=100)
    seed: StrictInt | None = Field(default=None, ge=0, lt=2**63,
                                   description="null: drawn at run time and recorded")
    confidence: float = Field(default=0.95, ge=0.5, le=0.9999, allow_inf_nan=False)
    recovery: Duration = Field(default=10.0, description="wait after the last fault is "
                                                        "reverted, inside each trial")
    analysis: AnalysisSettings = AnalysisSettings()
    budget: BudgetSettings = BudgetSettings()

    # -- derived ------------------------------------------------------------------------
    @property
    def method_end_s(self) -> float:
        """Latest possible end of any fault, relative to the method start."""
        return max((f.start + f.start_jitter + f.duration for f in self.method), default=0.0)

    @property
    def trial_s(self) -> float:
        """Length of one trial's method phase including the recovery wait."""
        if self.load.duration is not None:
            return self.load.duration
        return self.method_end_s + self.recovery

    @property
    def planned_s(self) -> float:
        """Planned wall time of the whole run, excluding stack start-up."""
        return (self.load.warmup + self.steady_state.duration + self.trials * self.trial_s
                + self.steady_state.after)

    @property
    def planned_requests(self) -> int:
        """Requests sent inside the analysed window (steady state excluded)."""
        return int(self.load.rate * self.trials * self.trial_s)

    @property
    def judged_s(self) -> float:
        """Planned length of one trial's judged window: ``analysis.lead`` before the first fault
        to ``recovery`` after the last one ends, inside the trial (the whole trial with no
        fault). Jitter can only move it."""
        if not self.method:
            return self.trial_s
        first = min(f.start for f in self.method)
        start = max(0.0, first - self.analysis.lead)
        return max(0.0, min(self.trial_s, self.method_end_s + self.recovery) - start)

    @property
    def planned_judged_requests(self) -> int:
        """Requests the SLO verdict will count: rate x trials x :attr:`judged_s`."""
        return int(self.load.rate * self.trials * self.judged_s)

    def schedule(self, seed: int, trial: int) -> tuple[ScheduledFault, ...]:
        """The fault schedule of one trial: the same (seed, trial) gives the same schedule."""
        rng = random.Random(f"{seed}:{trial}:{self.name}")
        out = []
        for i, step in enumerate(self.method):
            start = step.start + (rng.uniform(0, step.start_jitter) if step.start_jitter else 0)
            out.append(ScheduledFault(index=i, step=step, start_s=round(start, 6),
                                      end_s=round(start + step.duration, 6)))
        return tuple(sorted(out, key=lambda s: (s.start_s, s.index)))

    def with_overrides(self, *, knobs: Mapping[str, Any] | None = None, seed: int | None = None,
                       trials: int | None = None, rate: float | None = None,
                       duration_scale: float | None = None,
                       min_warmup: float | None = None) -> Experiment:
        """A copy with CLI/test overrides applied and re-checked."""
        data = self.model_dump()
        if knobs:
            data["stack"]["knobs"] = {**data["stack"]["knobs"], **dict(knobs)}
        if seed is not None:
            data["seed"] = seed
        if trials is not None:
            data["trials"] = trials
        if rate is not None:
            data["load"]["rate"] = rate
        if duration_scale is not None:
            _scale(data, duration_scale)
        if min_warmup is not None:  # a scaled run still needs a warm stack (cold first calls)
            data["load"]["warmup"] = max(data["load"]["warmup"], min_warmup)
        exp = Experiment.model_validate(data)
        exp.check()
        return exp

    def check(self, *, file: str | None = None) -> None:
        """Meaning checks beyond structure; ConfigError naming the field on the first problem."""
        check_experiment(self, file=file)


def _scale(data: dict[str, Any], k: float) -> None:
    """Shrink every time in the plan by ``k`` (the ``--quick`` mode)."""
    load = data["load"]
    load["warmup"] *= k
    if load["duration"] is not None:
        load["duration"] *= k
    data["steady_state"]["duration"] *= k
    data["steady_state"]["after"] *= k
    data["recovery"] *= k
    data["analysis"]["lead"] *= k
    for step in data["method"]:
        step["start"] *= k
        step["start_jitter"] *= k
        step["duration"] *= k
