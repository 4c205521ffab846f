"""Safety for runs against a real deployment: what will be touched, and the rules a run must
meet before anything is injected.

* :func:`touch_plan` says, line by line, what a run will do to the deployment: the load (rate,
  front door), and for every fault of the method what it touches (a toxic on which proxy, which
  HAProxy server drained, a Sentinel failover of which master, which command runs).
* :func:`admit` refuses (``ConfigError``) a run that was not confirmed (``--yes-touch-external``
  on the CLI, ``confirmed=True`` in Python), whose load rate is above the file's
  ``limits.max_rate``, that has no stop condition, or that sets knobs (they configure the
  reference stack, not someone else's deployment).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.errors import ConfigError

__all__ = ["CONFIRM_FLAG", "admit", "touch_plan"]

CONFIRM_FLAG = "--yes-touch-external"


def _fault_line(stack: Any, fault: Any) -> str:
    params = {k: v for k, v in fault.params.items() if v not in (None, "", ())}
    target = f" target {fault.target}" if fault.target is not None else ""
    what = getattr(fault, "touches", None)
    detail = what(stack) if callable(what) else ""
    text = f"fault {fault.name}{target} {params}" + (f": {detail}" if detail else "")
    redact = getattr(stack, "redact", None)
    return redact(text) if callable(redact) else text


def touch_plan(stack: Any, experiment: Any, faults: Sequence[Any]) -> list[str]:
    """What a run of ``experiment`` will touch on the deployment, one line each."""
    lines = [f"deployment {stack.spec.name!r} ({stack.file or 'topology file'})",
             f"load: {experiment.load.rate:g} req/s ({experiment.load.generator}) to "
             f"{stack.topology.front_door.url}/v1/answer, limit {stack.max_rate:g} req/s",
             "stop conditions: " + ("; ".join(
                 f"bad fraction > {c.max_bad_fraction:g} over {c.window:g}s"
                 for c in experiment.stop_conditions) or "NONE (refused)")]
    lines += [_fault_line(stack, f) for f in faults]
    if not faults:
        lines.append("no faults: load only")
    return lines


def admit(stack: Any, experiment: Any, faults: Sequence[Any]) -> None:
    """Raise ConfigError unless the run may touch the deployment (see the module docstring)."""
    file = getattr(stack, "file", None)
    if experiment.load.rate > stack.max_rate:
        raise ConfigError("the load rate is above the topology file's limit",
                          file=file, field="limits.max_rate", value=experiment.load.rate,
                          allowed=f"at most {stack.max_rate:g} req/s (lower load.rate or "
                                  "raise limits.max_rate in the topology file)")
    if experiment.stack.knobs:
        raise ConfigError("knobs configure the reference stack; an external deployment is "
                          "configured by its owners, so this experiment's hypothesis would not "
                          "hold there", field="stack.knobs", value=dict(experiment.stack.knobs),
                          allowed="an experiment without stack.knobs")
    if not experiment.stop_conditions:
        raise ConfigError("a run against an external deployment needs a stop condition",
                          field="stop_conditions", allowed="e.g. stop_conditions: "
                          "[{max_bad_fraction: 0.5, window: 10s}]")
    if not stack.confirmed:
        plan = "\n  ".join(touch_plan(stack, experiment, faults))
        raise ConfigError(f"this run would touch a deployment the harness did not start:\n  "
                          f"{plan}\nconfirm with {CONFIRM_FLAG}", field=CONFIRM_FLAG)
