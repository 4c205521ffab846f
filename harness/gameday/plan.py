"""Game-day plans: which experiments, in which order, against one shared stack, within a budget.

A plan is YAML (format in docs/gameday.md, structure in ``plan.schema.json``). Loading checks the
plan *and every experiment it names* (with the experiment loader), so a typo in the fifth
experiment is reported before the stack is brought up, not 10 minutes into the game day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.durations import duration_seconds
from harness.errors import ConfigError
from harness.experiment import Experiment, load_experiment
from harness.gate.validation import load_schema, read_yaml_mapping, validate
from harness.knobs import resolve_knobs

__all__ = ["Plan", "PlanEntry", "load_plan", "plan_from_mapping", "plan_schema"]

#: stack start-up and between-experiment healing, per experiment, for the budget estimate
OVERHEAD_S = 10.0


def seconds(value: float | int | str) -> float:
    if isinstance(value, str):
        s = duration_seconds(value)
        assert s is not None  # the schema checked the pattern
        return s
    return float(value)


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
    return load_schema("harness.gameday", "plan.schema.json")


def load_plan(path: str | Path) -> Plan:
    p = Path(path)
    return plan_from_mapping(read_yaml_mapping(p), file=str(p), base_dir=p.parent)


def plan_from_mapping(data: Mapping[str, Any], *, file: str | None = None,
                      base_dir: Path | None = None) -> Plan:
    validate(data, plan_schema(), file=file)
    knobs = dict(data.get("knobs") or {})
    resolve_knobs(knobs, file=file, field_prefix="knobs")  # validate names and values
    base = base_dir or Path.cwd()
    entries = []
    for i, item in enumerate(data["experiments"]):
        entries.append(_entry(i, item, base, file, knobs))
    names = [e.name for e in entries]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ConfigError("an experiment appears twice; list it once with more trials",
                              file=file, field=f"experiments[{i}].file", value=n)
    return Plan(
        name=data["name"], file=file, entries=tuple(entries),
        description=str(data.get("description", "")), substrate=data.get("substrate", "local"),
        knobs=knobs, budget_s=seconds(data["budget"]) if "budget" in data else None,
        on_failure=data.get("on_failure", "continue"),
        ready_timeout_s=seconds(data.get("ready_timeout", 90)),
        frequencies=dict(data["frequencies"]) if "frequencies" in data else None)


def _entry(i: int, item: Mapping[str, Any], base: Path, file: str | None,
           shared_knobs: dict[str, Any]) -> PlanEntry:
    rel = Path(item["file"])
    path = rel if rel.is_absolute() else base / rel
    if not path.is_file():
        raise ConfigError("experiment file not found (paths are relative to the plan file)",
                          file=file, field=f"experiments[{i}].file", value=item["file"],
                          allowed=f"an existing experiment YAML, e.g. {path}")
    exp = load_experiment(path)
    effective_knobs = {**shared_knobs, **exp.stack.knobs}
    try:
        exp = exp.with_overrides(trials=item.get("trials"), rate=item.get("rate"),
                                 seed=item.get("seed"), knobs=effective_knobs or None,
                                 duration_scale=item.get("duration_scale"))
        if "warmup" in item:
            data = exp.model_dump()
            data["load"]["warmup"] = seconds(item["warmup"])
            exp = Experiment.model_validate(data)
            exp.check()
    except ConfigError as exc:
        raise ConfigError(f"override rejected: {exc.message}", file=file,
                          field=f"experiments[{i}]", value=exc.value, allowed=exc.allowed) from None
    shared = resolve_knobs(shared_knobs)
    effective = resolve_knobs(effective_knobs)
    return PlanEntry(index=i, file=path, experiment=exp,
                     dedicated_knobs=None if effective == shared else effective_knobs)
