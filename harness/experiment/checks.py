"""Meaning checks of an experiment: knobs, faults and the schedule (no side effects).

Knob overrides go through :func:`harness.knobs.resolve_knobs`; each fault step through
:func:`harness.faults.build_fault` (name, target and parameters). Anything a lower layer raises
that is not a :class:`ConfigError` is turned into one naming the field, so a bad file never
ends in a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, HarnessError
from harness.knobs import resolve_knobs

if TYPE_CHECKING:
    from harness.experiment.model import Experiment

__all__ = ["build_faults", "check_experiment"]


def check_experiment(exp: Experiment, *, file: str | None = None) -> None:
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


def build_faults(exp: Experiment, *, file: str | None = None) -> list[Any]:
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
