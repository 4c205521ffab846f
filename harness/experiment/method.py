"""The method of one trial: faults on a seeded schedule, stop conditions, progress ticks.

Every fault is entered through ``Fault.applied`` into its own ``ExitStack``, all nested in one
outer ``ExitStack``: a fault is reverted at its scheduled end, and every fault still active is
reverted when anything goes wrong (an error, a stop condition, Ctrl-C) before the exception
leaves this module.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from harness.experiment.exercise import sample_exercise
from harness.experiment.model import Experiment, ScheduledFault, StopCondition
from harness.experiment.progress import Progress, ProgressFn
from harness.timeline import Timeline

__all__ = ["Clock", "StopConditionHit", "StopMonitor", "run_trial"]

SOURCE = "runner"
_TICK_S = 0.2


class StopConditionHit(Exception):
    """A stop condition fired: the method is aborted, faults reverted, the stack healed."""

    def __init__(self, condition: StopCondition, bad_fraction: float, window_s: float) -> None:
        self.condition = condition
        self.bad_fraction = bad_fraction
        self.window_s = window_s
        super().__init__(f"bad fraction {bad_fraction:.3f} over {window_s:.1f} s exceeded "
                         f"{condition.max_bad_fraction:g}")


@dataclass(slots=True)
class StopMonitor:
    """Sliding-window bad fraction from the generator's live counters.

    A request the generator dropped (it could not send it on time) was due and is bad: the
    fraction is (errors + dropped) / (sent + dropped) over the window.
    """

    conditions: Sequence[StopCondition]
    #: (time, sent, errors, dropped), cumulative counters
    samples: deque[tuple[float, int, int, int]] = field(
        default_factory=lambda: deque(maxlen=10_000))
    armed: bool = False

    def observe(self, now: float, sent: int, errors: int, dropped: int = 0) -> None:
        self.samples.append((now, sent, errors, dropped))
        if not self.armed:
            return
        for c in self.conditions:
            old = next((s for s in reversed(self.samples) if now - s[0] >= c.window), None)
            if old is None:
                continue
            d_dropped = dropped - old[3]
            d_due, d_bad = sent - old[1] + d_dropped, errors - old[2] + d_dropped
            if d_due >= 10 and d_bad / d_due > c.max_bad_fraction:
                raise StopConditionHit(c, d_bad / d_due, now - old[0])

    def rate(self, now: float, horizon: float = 3.0) -> float:
        """Requests sent per second over the last ``horizon`` seconds (dropped ones excluded)."""
        old = next((s for s in self.samples if now - s[0] <= horizon), None)
        last = self.samples[-1] if self.samples else None
        if old is None or last is None or last[0] <= old[0]:
            return 0.0
        return (last[1] - old[1]) / (last[0] - old[0])


@dataclass(slots=True, kw_only=True)
class Clock:
    """Waits in small steps; each step samples the load, reports progress, checks stops."""

    experiment: Experiment
    run_id: str
    trials: int
    started: float
    live: Callable[[], tuple[int, int, int]]  # (sent, errors, dropped) so far
    progress: ProgressFn | None
    monitor: StopMonitor
    phase: str = "starting"
    trial: int = 0
    active: tuple[str, ...] = ()
    note: str = ""

    def tick(self) -> None:
        now = time.monotonic()
        sent, errors, dropped = self.live()
        self.monitor.observe(now, sent, errors, dropped)
        if self.progress is not None:
            self.progress(Progress(
                experiment=self.experiment.name, run_id=self.run_id, phase=self.phase,
                trial=self.trial, trials=self.trials, elapsed_s=now - self.started,
                planned_s=self.experiment.planned_s, sent=sent, errors=errors,
                rate=self.monitor.rate(now), active_faults=self.active, note=self.note))

    def wait_until(self, deadline: float) -> None:
        while True:
            self.tick()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(_TICK_S, left))


def _inject(sf: ScheduledFault, fault: Any, stack: Any, timeline: Timeline, trial: int,
            outer: ExitStack) -> tuple[ExitStack, Any]:
    own = ExitStack()
    outer.callback(own.close)  # reverted on any way out, at most once
    handle = own.enter_context(fault.applied(
        stack, timeline, fault_id=f"t{trial}-{sf.fault_id}",
        before_inject=lambda h: sample_exercise(h, "inject", timeline)))
    own.callback(sample_exercise, handle, "revert", timeline)  # LIFO: before the revert
    return own, handle


def run_trial(*, trial: int, schedule: Sequence[ScheduledFault], faults: Sequence[Any],
              stack: Any, timeline: Timeline, clock: Clock, trial_s: float,
              recovery_s: float) -> list[Any]:
    """Run one trial's method and recovery wait; returns the fault handles."""
    start = time.monotonic()
    clock.phase, clock.trial = "method", trial
    timeline.add_event("phase", SOURCE, name="method", trial=trial)
    pending = sorted(schedule, key=lambda s: (s.start_s, s.index))
    active: dict[str, tuple[ExitStack, ScheduledFault]] = {}
    handles: list[Any] = []
    clock.monitor.armed = True
    with ExitStack() as outer:
        while pending or active:
            now = time.monotonic() - start
            for fid, (own, sf) in list(active.items()):
                if now >= sf.end_s:
                    own.close()
                    del active[fid]
            while pending and now >= pending[0].start_s:
                sf = pending.pop(0)
                own, handle = _inject(sf, faults[sf.index], stack, timeline, trial, outer)
                handles.append(handle)
                active[sf.fault_id] = (own, sf)
                now = time.monotonic() - start
            clock.active = tuple(f"{sf.step.fault}({sf.step.target or ''})"
                                 for _, sf in active.values())
            nxt = min([s.start_s for s in pending] + [sf.end_s for _, sf in active.values()],
                      default=now)
            clock.tick()
            time.sleep(max(0.0, min(_TICK_S, nxt - (time.monotonic() - start))))
    clock.active = ()
    clock.phase = "recovery"
    timeline.add_event("phase", SOURCE, name="recovery", trial=trial)
    # Slow verification can push the last revert past its plan: recovery is still waited in full.
    last_revert = time.monotonic() if schedule else start
    clock.wait_until(max(start + trial_s, last_revert + recovery_s))
    return handles
