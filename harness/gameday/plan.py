"""Game-day plans: which experiments, in which order, against one shared stack, within a budget.

A plan is YAML (format in docs/gameday.md; structure: the model
:class:`~harness.gameday.plan_model.PlanFile`, published as the generated ``plan.schema.json``).
Loading checks the
plan *and every experiment it names* (with the experiment loader), so a typo in the fifth
experiment is reported before the stack is brought up, not 10 minutes into the game day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.errors import ConfigError
from harness.experiment import Experiment, load_experiment
from harness.gameday.plan_model import PlanExperimentSpec, PlanFile
from harness.gate.validation import read_yaml_mapping, validate_model
from harness.knobs import resolve_knobs

__all__ = ["Plan", "PlanEntry", "load_plan", "plan_from_mapping", "plan_schema"]

#: stack start-up and between-experiment healing, per experiment, for the budget estimate
OVERHEAD_S = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanEntry:
    index: int
    file: Path
    experiment: Experiment  # with the plan's overrides applied
    #: knobs of a stack of its own when the experiment's knobs differ from the shared stack's
    dedicated_knobs: Mapping[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.experiment.name

    @property
    def planned_s(self) -> float:
        return self.experiment.planned_s

    @property
    def planned_requests(self) -> int:
        return self.experiment.planned_requests


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    name: str
    file: str | None
    entries: tuple[PlanEntry, ...]
    description: str = ""
    substrate: str = "local"
    knobs: Mapping[str, Any] = field(default_factory=dict)  # overrides of the shared stack
    budget_s: float | None = None
    on_failure: Literal["continue", "stop"] = "continue"
    ready_timeout_s: float = 90.0
    frequencies: Mapping[str, float] | None = None

    @property
    def planned_s(self) -> float:
        return sum(e.planned_s + OVERHEAD_S for e in self.entries)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "description": self.description,
                "substrate": self.substrate, "knobs": dict(self.knobs), "budget_s": self.budget_s,
                "on_failure": self.on_failure, "planned_s": self.planned_s,
                "experiments": [{"name": e.name, "file": str(e.file),
                                 "trials": e.experiment.trials, "rate": e.experiment.load.rate,
                                 "planned_s": e.planned_s,
                                 "planned_requests": e.planned_requests} for e in self.entries]}


def plan_schema() -> Mapping[str, Any]:
    """The published JSON Schema of a plan file (generated from :class:`PlanFile`)."""
    from harness.schemas import document_schema

    return document_schema("gameday-plan")


def load_plan(path: str | Path) -> Plan:
    p = Path(path)
    return plan_from_mapping(read_yaml_mapping(p), file=str(p), base_dir=p.parent)


def plan_from_mapping(data: Mapping[str, Any], *, file: str | None = None,
                      base_dir: Path | None = None) -> Plan:
    doc = validate_model(PlanFile, data, file=file)
    knobs = dict(doc.knobs)
    resolve_knobs(knobs, file=file, field_prefix="knobs")  # validate names and values
    base = base_dir or Path.cwd()
    entries = []
    for i, item in enumerate(doc.experiments):
        entries.append(_entry(i, item, base, file, knobs))
    names = [e.name for e in entries]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ConfigError("an experiment appears twice; list it once with more trials",
                              file=file, field=f"experiments[{i}].file", value=n)
    return Plan(
        name=doc.name, file=file, entries=tuple(entries), description=doc.description,
        substrate=doc.substrate, knobs=knobs, budget_s=doc.budget, on_failure=doc.on_failure,
        ready_timeout_s=doc.ready_timeout,
        frequencies=dict(doc.frequencies) if doc.frequencies is not None else None)


def _entry(i: int, item: PlanExperimentSpec, base: Path, file: str | None,
           shared_knobs: dict[str, Any]) -> PlanEntry:
    rel = Path(item.file)
    path = rel if rel.is_absolute() else base / rel
    if not path.is_file():
        raise ConfigError("experiment file not found (paths are relative to the plan file)",
                          file=file, field=f"experiments[{i}].file", value=item.file,
                          allowed=f"an existing experiment YAML, e.g. {path}")
    exp = load_experiment(path)
    effective_knobs = {**shared_knobs, **exp.stack.knobs}
    try:
        exp = exp.with_overrides(trials=item.trials, rate=item.rate, seed=item.seed,
                                 knobs=effective_knobs or None,
                                 duration_scale=item.duration_scale)
        if item.warmup is not None:
            data = exp.model_dump()
            data["load"]["warmup"] = item.warmup
            exp = Experiment.model_validate(data)
            exp.check()
    except ConfigError as exc:
        raise ConfigError(f"override rejected: {exc.message}", file=file,
                          field=f"experiments[{i}]", value=exc.value, allowed=exc.allowed) from None
    shared = resolve_knobs(shared_knobs)
    effective = resolve_knobs(effective_knobs)
    return PlanEntry(index=i, file=path, experiment=exp,
                     dedicated_knobs=None if effective == shared else effective_knobs)
