"""Hypothesis strategies over fault schedules drawn from the fault catalog.

A schedule is a short list of :class:`Draw` (fault, target, params, start offset, duration)
inside a time window. Every choice is ordered simplest-first, and offsets/durations are whole
half-seconds, so Hypothesis' shrinker moves towards fewer faults, earlier/shorter faults, the
first target and the mildest parameters: the minimal failing schedule reads like a hand-written
experiment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from harness.errors import ConfigError, UnsupportedFault
from harness.faults import build_fault
from harness.stack.base import Stack

__all__ = ["CATALOG", "Draw", "FaultTemplate", "schedules", "supported_templates"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Draw:
    fault: str
    target: str | None
    params: Mapping[str, Any]
    start_s: float
    duration_s: float

    def to_step(self) -> dict[str, Any]:
        """The experiment ``method`` step (YAML-ready)."""
        step: dict[str, Any] = {"fault": self.fault}
        if self.target is not None:
            step["target"] = self.target
        if self.params:
            step["params"] = dict(self.params)
        step["start"] = self.start_s
        step["duration"] = self.duration_s
        return step

    def key(self) -> tuple[Any, ...]:
        return (self.fault, self.target, tuple(sorted(self.params.items())), self.start_s,
                self.duration_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultTemplate:
    """The choices a randomised game day may draw for one fault (simplest first)."""

    fault: str
    targets: tuple[str | None, ...] = (None,)
    params: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def strategy(self) -> st.SearchStrategy[tuple[str, str | None, dict[str, Any]]]:
        param_st = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in self.params.items()})
        return st.tuples(st.just(self.fault), st.sampled_from(self.targets), param_st)

    def example_fault(self) -> Any:
        return build_fault(self.fault, target=self.targets[0],
                           params={k: v[0] for k, v in self.params.items()})


APPS = ("service=app-az-a", "service=app-az-b", "service=app-az-c")
#: Ordered simplest / most common first: provider trouble, then process, then datastore, zones.
CATALOG: tuple[FaultTemplate, ...] = (
    FaultTemplate(fault="provider-outage", params={"mode": ("503", "reset")}),
    FaultTemplate(fault="provider-5xx", params={"status": (500, 502, 503), "rate": (1.0, 0.5)}),
    FaultTemplate(fault="provider-latency", params={"ms": (500.0, 1500.0, 3000.0)}),
    FaultTemplate(fault="provider-hang"),
    FaultTemplate(fault="provider-429", params={"rate": (1.0, 0.5)}),
    FaultTemplate(fault="provider-disconnect"),
    FaultTemplate(fault="kill", targets=APPS, params={"restart_after": (2.0, 5.0)}),
    FaultTemplate(fault="pause", targets=APPS),
    FaultTemplate(fault="redis-master-loss"),
    FaultTemplate(fault="kill", targets=("role=redis-replica", "kind=sentinel")),
    FaultTemplate(fault="latency", targets=("service=provider-primary",),
                  params={"latency_ms": (300.0, 1000.0, 3000.0)}),
    FaultTemplate(fault="proxy-down", targets=("service=provider-primary",)),
    FaultTemplate(fault="zone-isolate", targets=("zone=az-a", "zone=az-b", "zone=az-c")),
    FaultTemplate(fault="zone-power", targets=("zone=az-a", "zone=az-b", "zone=az-c")),
)


def supported_templates(stack: Stack, *, only: Sequence[str] | None = None,
                        catalog: Sequence[FaultTemplate] = CATALOG
                        ) -> tuple[list[FaultTemplate], dict[str, str]]:
    """(templates this stack supports, fault -> why skipped)."""
    ok, skipped = [], {}
    for t in catalog:
        if only and t.fault not in only:
            continue
        try:
            t.example_fault().check_supported(stack)
        except UnsupportedFault as exc:
            skipped[t.fault] = str(exc)
            continue
        except ConfigError as exc:  # a catalog entry the fault library no longer accepts
            skipped[t.fault] = f"invalid template: {exc}"
            continue
        ok.append(t)
    if only:
        unknown = sorted(set(only) - {t.fault for t in catalog})
        if unknown:
            raise ConfigError("not in the randomised catalog", field="--faults", value=unknown,
                              allowed=sorted({t.fault for t in catalog}))
    return ok, skipped


def schedules(templates: Sequence[FaultTemplate], *, window_s: float, max_faults: int = 3,
              min_duration_s: float = 1.0, max_duration_s: float = 8.0
              ) -> st.SearchStrategy[tuple[Draw, ...]]:
    """Lists of 1..max_faults draws, each inside ``[0, window_s]`` (half-second grid)."""
    if not templates:
        raise ConfigError("no fault of the randomised catalog is supported on this stack",
                          field="--faults", allowed=[t.fault for t in CATALOG])
    half = int(window_s * 2)
    lo, hi = max(1, int(min_duration_s * 2)), max(1, int(max_duration_s * 2))
    if half <= lo:
        raise ConfigError("the window is shorter than the shortest fault", field="--window",
                          value=window_s, allowed=f"> {min_duration_s} s")

    @st.composite
    def draw(draw_fn: Any) -> Draw:
        name, target, params = draw_fn(st.sampled_from(list(templates)).flatmap(
            lambda t: t.strategy()))
        start = draw_fn(st.integers(0, half - lo))
        length = min(draw_fn(st.integers(lo, hi)), half - start)
        return Draw(fault=name, target=target, params=params, start_s=start / 2,
                    duration_s=length / 2)

    return st.lists(draw(), min_size=1, max_size=max_faults).map(tuple)
