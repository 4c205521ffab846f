"""The method of one trial: faults on a seeded schedule, stop conditions, progress ticks.

The method loop runs in the calling (main) thread and never blocks on a fault: each fault's
transition -- inject + verify through ``Fault.applied``, and later revert + verify -- runs in a
worker thread started at its scheduled time, so overlapping faults stay on time while another
fault's verification takes its (up to 90 s) course, and the loop keeps ticking: it checks the
stop conditions, reports progress and collects finished transitions. A fault's revert waits for
its own inject; a transition that starts late is recorded (a runner ``note`` with ``late_s``).

Every fault still active is reverted when anything goes wrong (an error in a transition, a stop
condition, Ctrl-C) before the exception leaves this module: transitions in flight finish first
(an inject must be over before it can be reverted), then the faults still on are reverted,
newest first, in one worker while the loop waits (a second Ctrl-C cannot cut a revert short).
An error raised in a worker is re-raised here, in the caller's thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from harness.experiment.exercise import sample_exercise
from harness.experiment.model import Experiment, ScheduledFault, StopCondition
from harness.experiment.progress import Progress, ProgressFn
from harness.timeline import Timeline

__all__ = ["Clock", "StopConditionHit", "StopMonitor", "run_trial"]

SOURCE = "runner"
_TICK_S = 0.2
#: a transition that starts this much after its schedule is recorded as late (a ``note``)
_LATE_S = 0.25


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


class _Worker:
    """One transition in a daemon thread; its result or exception is kept for the loop.

    Done-ness is the worker's own event, not ``Thread.is_alive``: a ``join`` interrupted by
    Ctrl-C can leave the thread marked as stopped while it still runs.
    """

    def __init__(self, name: str, fn: Callable[[], Any], wake: threading.Event) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.raised = False  # the error was re-raised in the loop's thread
        self._fn, self._wake = fn, wake
        self._finished = threading.Event()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as exc:
            self.error = exc
        finally:
            self._finished.set()
            self._wake.set()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def wait_through_interrupts(self) -> KeyboardInterrupt | None:
        """Wait until done; a Ctrl-C meanwhile is returned, not raised (cleanup must finish)."""
        interrupted = None
        while not self.done:
            try:
                self._finished.wait(_TICK_S)
            except KeyboardInterrupt as exc:
                interrupted = interrupted or exc
        return interrupted


@dataclass(slots=True, eq=False)
class _Slot:
    """One scheduled fault: pending -> injecting -> on -> reverting -> off."""

    sf: ScheduledFault
    fault: Any
    fault_id: str
    injecting: _Worker | None = None
    reverting: _Worker | None = None
    own: ExitStack | None = None  # set once the inject finished: closing it reverts
    handle: Any = None
    inject_done_s: float | None = None  # when the loop saw the inject finish

    @property
    def state(self) -> str:
        if self.injecting is None:
            return "pending"
        if self.reverting is not None:
            return "reverting" if not self.reverting.done else "off"
        if self.own is not None:
            return "on"
        # a finished inject counts as injecting until the loop collected it; then off = failed
        return "injecting" if self.inject_done_s is None else "off"

    @property
    def label(self) -> str:
        return f"{self.sf.step.fault}({self.sf.step.target or ''})"


def _apply(slot: _Slot, stack: Any, timeline: Timeline) -> tuple[ExitStack, Any]:
    """Inject + verify (in a worker); the returned stack reverts the fault when closed."""
    own = ExitStack()
    handle = own.enter_context(slot.fault.applied(
        stack, timeline, fault_id=slot.fault_id,
        before_inject=lambda h: sample_exercise(h, "inject", timeline)))
    own.callback(sample_exercise, handle, "revert", timeline)  # LIFO: before the revert
    return own, handle


def _revert_all(owns: Sequence[ExitStack]) -> None:
    """Close each (the last one first); every one is closed even if another fails."""
    with ExitStack() as es:
        for own in owns:
            es.callback(own.close)


class _Method:
    """The schedule of one trial, driven by :meth:`run` from the caller's thread."""

    def __init__(self, *, trial: int, schedule: Sequence[ScheduledFault],
                 faults: Sequence[Any], stack: Any, timeline: Timeline, start: float) -> None:
        self.stack, self.timeline, self.start = stack, timeline, start
        self.slots = [_Slot(sf, faults[sf.index], f"t{trial}-{sf.fault_id}")
                      for sf in sorted(schedule, key=lambda s: (s.start_s, s.index))]
        self.on_order: list[_Slot] = []  # in the order their injects finished
        self.wake = threading.Event()

    def now(self) -> float:
        return time.monotonic() - self.start

    def run(self, clock: Clock) -> None:
        try:
            while any(s.state != "off" for s in self.slots):
                self.wake.clear()
                self.step()
                clock.active = tuple(s.label for s in self.slots
                                     if s.state in ("injecting", "on", "reverting"))
                clock.tick()
                self.wake.wait(self.pause())
        finally:
            self.wind_down()

    def step(self) -> None:
        """Collect finished transitions (re-raising a worker's error), start the due ones."""
        for slot in self.slots:
            self._collect(slot, raise_error=True)
        for slot in self.slots:
            now = self.now()
            if slot.state == "pending" and now >= slot.sf.start_s:
                self._late(slot, "inject", slot.sf.start_s, now, "the method loop was late")
                slot.injecting = _Worker(f"inject-{slot.fault_id}",
                                         partial(_apply, slot, self.stack, self.timeline),
                                         self.wake)
            elif slot.state == "on" and now >= slot.sf.end_s:
                inject_late = (slot.inject_done_s or 0.0) > slot.sf.end_s
                self._late(slot, "revert", slot.sf.end_s, now,
                           "its inject and verification were still running" if inject_late
                           else "the method loop was late")
                assert slot.own is not None
                slot.reverting = _Worker(f"revert-{slot.fault_id}", slot.own.close, self.wake)

    def _collect(self, slot: _Slot, *, raise_error: bool) -> None:
        w = slot.injecting
        if w is not None and w.done and slot.own is None and slot.inject_done_s is None:
            slot.inject_done_s = self.now()
            if w.error is None:
                slot.own, slot.handle = w.result
                self.on_order.append(slot)
        for w in (slot.injecting, slot.reverting):
            if raise_error and w is not None and w.done and w.error is not None and not w.raised:
                w.raised = True
                raise w.error

    def _late(self, slot: _Slot, transition: str, planned_s: float, now: float,
              reason: str) -> None:
        late = now - planned_s
        if late >= _LATE_S:
            self.timeline.add_event(
                "note", SOURCE, text=f"{slot.fault_id} {transition} started {late:.2f} s late "
                                     f"({reason})",
                fault_id=slot.fault_id, transition=transition, planned_s=round(planned_s, 3),
                late_s=round(late, 3), reason=reason)

    def pause(self) -> float:
        """Seconds until the next due transition, at most one tick."""
        due = [s.sf.start_s for s in self.slots if s.state == "pending"]
        due += [s.sf.end_s for s in self.slots if s.state == "on"]
        return max(0.0, min([_TICK_S, *(d - self.now() for d in due)]))

    def wind_down(self) -> None:
        """Finish the transitions in flight, then revert every fault still on."""
        interrupted: KeyboardInterrupt | None = None
        for slot in self.slots:
            for w in (slot.injecting, slot.reverting):
                if w is not None:
                    interrupted = w.wait_through_interrupts() or interrupted
        errors: list[BaseException] = []
        for slot in self.slots:
            self._collect(slot, raise_error=False)
            errors += [w.error for w in (slot.injecting, slot.reverting)
                       if w is not None and w.error is not None and not w.raised]
        left = [s.own for s in self.on_order if s.state == "on" and s.own is not None]
        if left:
            w = _Worker("revert-all", partial(_revert_all, left), threading.Event())
            interrupted = w.wait_through_interrupts() or interrupted
            if w.error is not None:
                errors.append(w.error)
        if interrupted is not None:
            raise interrupted
        if errors:
            for other in errors[1:]:
                errors[0].add_note(f"also: {type(other).__name__}: {other}")
            raise errors[0]


def run_trial(*, trial: int, schedule: Sequence[ScheduledFault], faults: Sequence[Any],
              stack: Any, timeline: Timeline, clock: Clock, trial_s: float,
              recovery_s: float) -> list[Any]:
    """Run one trial's method and recovery wait; returns the handles of the injected faults."""
    start = time.monotonic()
    clock.phase, clock.trial = "method", trial
    timeline.add_event("phase", SOURCE, name="method", trial=trial)
    method = _Method(trial=trial, schedule=schedule, faults=faults, stack=stack,
                     timeline=timeline, start=start)
    clock.monitor.armed = True
    method.run(clock)
    clock.active = ()
    clock.phase = "recovery"
    timeline.add_event("phase", SOURCE, name="recovery", trial=trial)
    # Slow verification can push the last revert past its plan: recovery is still waited in full.
    last_revert = time.monotonic() if schedule else start
    clock.wait_until(max(start + trial_s, last_revert + recovery_s))
    return [s.handle for s in method.slots if s.handle is not None]
