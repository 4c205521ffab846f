"""Meaning checks of an experiment: knobs, faults and the schedule (no side effects).

Knob overrides go through :func:`harness.knobs.resolve_knobs`; each fault step through
:func:`harness.faults.build_fault` (name, target and parameters). Anything a lower layer raises
that is not a :class:`ConfigError` is turned into one naming the field, so a bad file never
ends in a traceback.

The checks read an experiment through :class:`Checkable` (the fields they look at), so this
module does not import the model that calls it (:meth:`Experiment.check`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from harness.errors import ConfigError, HarnessError
from harness.knobs import resolve_knobs

__all__ = ["Checkable", "build_faults", "check_experiment"]


class _Stack(Protocol):
    @property
    def knobs(self) -> Mapping[str, Any]: ...


class _Mix(Protocol):
    @property
    def repeat(self) -> str: ...
    @property
    def cache_hit_target(self) -> float | None: ...
    @property
    def nonce(self) -> str | None: ...


class _Load(Protocol):
    @property
    def duration(self) -> float | None: ...
    @property
    def mix(self) -> _Mix: ...


class _SLO(Protocol):
    @property
    def name(self) -> str: ...


class _SteadyState(Protocol):
    @property
    def slos(self) -> Sequence[_SLO]: ...


class _Step(Protocol):
    @property
    def fault(self) -> str: ...
    @property
    def target(self) -> str | None: ...
    @property
    def params(self) -> Mapping[str, Any]: ...


class Checkable(Protocol):
    """What the meaning checks read from an experiment (an :class:`Experiment` is one)."""

    @property
    def stack(self) -> _Stack: ...
    @property
    def load(self) -> _Load: ...
    @property
    def steady_state(self) -> _SteadyState: ...
    @property
    def method(self) -> Sequence[_Step]: ...
    @property
    def method_end_s(self) -> float: ...
    @property
    def trial_s(self) -> float: ...


def check_experiment(exp: Checkable, *, file: str | None = None) -> None:
    resolve_knobs(exp.stack.knobs, file=file, field_prefix="stack.knobs")
    build_faults(exp, file=file)
    if exp.load.duration is not None and exp.load.duration < exp.method_end_s:
        raise ConfigError(
            "load.duration is shorter than the method: the last fault would still be active "
            "when the trial ends", file=file, field="load.duration", value=exp.load.duration,
            allowed=f"at least {exp.method_end_s:g} s (the latest fault end), or leave it out")
    if exp.trial_s <= 0:
        raise ConfigError("the trial has no length: give load.duration, a method or a recovery "
                          "wait", file=file, field="load.duration", value=exp.load.duration,
                          allowed="a positive duration")
    mix = exp.load.mix
    for name, value in (("cache_hit_target", mix.cache_hit_target), ("nonce", mix.nonce)):
        if value is not None and mix.repeat != "generated":
            raise ConfigError(f"load.mix.{name} needs generated questions (the {mix.repeat} "
                              "mix cannot control the cache-hit share)", file=file,
                              field=f"load.mix.{name}", value=value,
                              allowed="leave it out, or set load.mix.repeat: generated")
    names = [s.name for s in exp.steady_state.slos]
    if len(set(names)) != len(names):
        raise ConfigError("SLO names must be unique", file=file, field="steady_state.slos",
                          value=names, allowed="distinct names")


def build_faults(exp: Checkable, *, file: str | None = None) -> list[Any]:
    """One :class:`harness.faults.Fault` per method step, validated (no stack needed)."""
    from harness.faults import build_fault

    faults = []
    for i, step in enumerate(exp.method):
        field = f"method[{i}]"
        try:
            faults.append(build_fault(step.fault, target=step.target, params=dict(step.params),
                                      file=file, field=field))
        except ConfigError as exc:
            if file and not exc.file:
                raise ConfigError(exc.message, file=file, field=exc.field, value=exc.value,
                                  allowed=exc.allowed) from None
            raise
        except HarnessError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            # A lower layer let an unexpected value through: still a user-facing config error.
            raise ConfigError(f"invalid fault step: {exc}", file=file, field=f"{field}.params",
                              value=dict(step.params)) from None
    return faults
