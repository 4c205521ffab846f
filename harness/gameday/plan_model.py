"""The game-day plan file as a pydantic model: the single source of its structure.

``harness/gameday/plan.schema.json`` is generated from :class:`PlanFile`
(``python -m harness.schemas``); :func:`harness.gameday.plan.plan_from_mapping` validates a plan
with it, then checks every experiment it names. Durations are the experiment model's
:data:`~harness.experiment.model.Duration` (seconds, or ``"90s"``, ``"14m"``, ``"1h"``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from harness.durations import Duration
from harness.gate.validation import NotBool, Version1

__all__ = ["PlanExperimentSpec", "PlanFile"]

#: the experiment model's duration, without reading true/false as 1 s / 0 s
PlanDuration = Annotated[Duration, NotBool]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _absent(**kwargs: Any) -> Any:
    """An optional field that may be left out but not set to null (no default in the schema)."""
    return Field(default=None, json_schema_extra=_no_default, **kwargs)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", regex_engine="python-re")


class PlanExperimentSpec(_Strict):
    """One experiment of the plan, with the plan's overrides."""

    file: StrictStr = Field(min_length=1, description="relative to the plan file")
    trials: StrictInt = _absent(ge=1, le=100)
    rate: StrictFloat = _absent(gt=0, le=20000)
    seed: StrictInt = _absent(ge=0)
    warmup: PlanDuration = _absent(
        description="override the experiment's load warm-up (after scaling); give the first "
                    "experiment on a fresh stack a longer one")
    duration_scale: StrictFloat = _absent(
        gt=0, le=10, description="multiply every time of the experiment (warm-up, steady "
                                 "state, fault schedule, recovery, load duration)")


class PlanFile(_Strict):
    """An ordered list of experiments run against one shared stack (see docs/gameday.md)."""

    model_config = ConfigDict(title="chaos-harness game-day plan, version 1")

    schema_: Literal["chaos-harness/gameday-plan"] = Field(alias="schema")
    version: Version1
    name: StrictStr = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")
    description: StrictStr = ""
    substrate: Literal["local", "docker", "external"] = "local"
    knobs: dict[Any, Any] = Field(default_factory=dict,
                                  description="knob overrides of the shared stack")
    budget: PlanDuration = _absent(description="time budget for the whole game day")
    on_failure: Literal["continue", "stop"] = "continue"
    ready_timeout: PlanDuration = 90.0
    frequencies: dict[Any, Annotated[StrictFloat, Field(ge=0)]] = _absent(
        description="incidents per year by fault name or family, for the projection")
    experiments: list[PlanExperimentSpec] = Field(min_length=1, max_length=100)
