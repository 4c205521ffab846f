"""Snapshot a fault's exercise counters into the timeline (``exercise.sample`` events).

Called by the method loop right before a fault is injected (phase ``inject``: the traffic while
the injection is being verified counts too -- a breaker may open in that time) and right before
its revert (phase ``revert``); the analysis turns the two samples into deltas
(:mod:`harness.analysis.exercise`). A latency toxic's timed probe runs at the revert sample,
while the toxic is still on, after the counters were read (its own bytes never count). Reading counters never fails the run: a source that does
not answer is named in the event's ``errors``, and the analysis then reports the exercise as
not measured.
"""

from __future__ import annotations

from typing import Any

from harness.errors import HarnessError
from harness.faults.exercise import ExercisePlan
from harness.timeline import Timeline

__all__ = ["sample_exercise"]

SOURCE = "runner"


def _plan(handle: Any) -> ExercisePlan | None:
    scratch = handle.injection.scratch
    if "exercise_plan" not in scratch:
        try:
            scratch["exercise_plan"] = handle.fault.exercise_plan(handle.stack, handle.injection)
        except (HarnessError, OSError, KeyError, ValueError) as exc:
            scratch["exercise_plan"] = None
            scratch["exercise_error"] = f"{type(exc).__name__}: {exc}"
    plan: ExercisePlan | None = scratch["exercise_plan"]
    return plan


def sample_exercise(handle: Any, phase: str, timeline: Timeline) -> None:
    """Append one ``exercise.sample`` event for ``handle`` (phase 'inject' or 'revert').

    Never raises for a failed reading: a sample must not stop a fault from being injected or
    reverted; the failure is in the event and the analysis reports the exercise as unmeasured.
    """
    try:
        _sample(handle, phase, timeline)
    except Exception as exc:
        timeline.add_event("exercise.sample", SOURCE, fault_id=handle.fault_id, phase=phase,
                           counters={}, rule="gated",
                           errors={"sample": f"{type(exc).__name__}: {exc}"})


def _sample(handle: Any, phase: str, timeline: Timeline) -> None:
    from harness.probes.counters import probe_delay_ms, read_counters

    plan = _plan(handle)
    if plan is None:
        timeline.add_event("exercise.sample", SOURCE, fault_id=handle.fault_id, phase=phase,
                           counters={}, rule="gated", errors={
                               "plan": handle.injection.scratch.get("exercise_error", "")})
        return
    counters, errors = read_counters(handle.stack, plan.counters)
    probes: dict[str, float | None] = {}
    if phase == "revert":  # the toxic is still on; after the reading, so its bytes never count
        for proxy in plan.probe_proxies:
            ms, detail = probe_delay_ms(handle.stack, proxy)
            probes[proxy] = ms
            if ms is None:
                errors[f"probe.{proxy}"] = detail
    timeline.add_event("exercise.sample", SOURCE, fault_id=handle.fault_id, phase=phase,
                       counters=counters, rule=plan.rule, wanted=list(plan.counters),
                       errors=errors, probes=probes, note=plan.note)
