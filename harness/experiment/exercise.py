"""Snapshot a fault's exercise counters into the timeline (``exercise.sample`` events).

Called by the method loop right after a fault's injection was verified (phase ``inject``) and
right before its revert (phase ``revert``); the analysis turns the two samples into deltas
(:mod:`harness.analysis.exercise`). Reading counters never fails the run: a source that does
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
    """Append one ``exercise.sample`` event for ``handle`` (phase 'inject' or 'revert')."""
    from harness.probes.counters import probe_delay_ms, read_counters

    plan = _plan(handle)
    if plan is None:
        timeline.add_event("exercise.sample", SOURCE, fault_id=handle.fault_id, phase=phase,
                           counters={}, rule="gated", errors={
                               "plan": handle.injection.scratch.get("exercise_error", "")})
        return
    # The probe's own bytes must not count as exercise: it runs (and closes) before the
    # inject reading, and after the revert reading.
    probes: dict[str, float | None] = {}
    probe_errors: dict[str, str] = {}

    def probe() -> None:
        for proxy in plan.probe_proxies:
            ms, detail = probe_delay_ms(handle.stack, proxy)
            probes[proxy] = ms
            if ms is None:
                probe_errors[f"probe.{proxy}"] = detail

    if phase == "inject":
        probe()
    counters, errors = read_counters(handle.stack, plan.counters)
    if phase != "inject":
        probe()
    errors.update(probe_errors)
    timeline.add_event("exercise.sample", SOURCE, fault_id=handle.fault_id, phase=phase,
                       counters=counters, rule=plan.rule, wanted=list(plan.counters),
                       errors=errors, probes=probes, note=plan.note)
