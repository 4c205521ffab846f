"""The method scheduler with fake faults whose inject/revert sleep: overlapping faults on time,
stop conditions checked while a transition runs, DROPPED requests counted, and every fault
reverted on an error, a stop condition or Ctrl-C. Small real sleeps; no stack, no servers."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

import harness.probes.counters  # noqa: F401  (imported once here, not inside a timed inject)
from harness.errors import FaultError
from harness.experiment.method import Clock, StopConditionHit, StopMonitor, run_trial
from harness.experiment.model import Experiment, FaultStep, ScheduledFault, StopCondition
from harness.experiment.progress import Progress
from harness.faults import Check, Fault, Injection, active_handles
from harness.timeline import Event, Timeline

ON_TIME_S = 0.15


@dataclass(frozen=True, slots=True, kw_only=True)
class Sleepy(Fault):
    """A fault whose inject and revert take a while (like a verification that polls)."""

    NAME: ClassVar[str] = "sleepy"
    FAMILY: ClassVar[str] = "process"
    inject_s: float = 0.0
    revert_s: float = 0.0
    fail_inject: bool = False

    def inject(self, stack: Any, injection: Injection) -> None:
        time.sleep(self.inject_s)
        if self.fail_inject:
            raise FaultError("the fake fault could not be injected")

    def verify(self, stack: Any, injection: Injection) -> Check:
        return Check(True, "on")

    def revert(self, stack: Any, injection: Injection) -> None:
        time.sleep(self.revert_s)

    def verify_reverted(self, stack: Any, injection: Injection) -> Check:
        return Check(True, "back")


class FakeLoad:
    """Live counters at 200 req/s; from ``drop_from`` seconds on every request is DROPPED."""

    def __init__(self, drop_from: float | None = None) -> None:
        self.t0 = time.monotonic()
        self.drop_from = drop_from
        self.looks: list[float] = []  # when the clock read the counters (since t0)

    def live(self) -> tuple[int, int, int]:
        t = time.monotonic() - self.t0
        self.looks.append(t)
        good_until = t if self.drop_from is None else min(t, self.drop_from)
        return int(200 * good_until), 0, int(200 * (t - good_until))


@pytest.fixture(autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    yield
    assert active_handles() == ()


def _step(start: float, duration: float) -> FaultStep:
    return FaultStep(fault="sleepy", start=start, duration=duration)


def _schedule(*steps: tuple[float, float]) -> list[ScheduledFault]:
    return [ScheduledFault(index=i, step=_step(s, d), start_s=s, end_s=s + d)
            for i, (s, d) in enumerate(steps)]


def _run(tl: Timeline, faults: list[Sleepy], schedule: list[ScheduledFault], *,
         load: FakeLoad | None = None, stop: StopCondition | None = None,
         progress: Callable[[Progress], None] | None = None) -> list[Any]:
    """Run one trial with no recovery wait; the handles of the injected faults."""
    load = load or FakeLoad()
    clock = Clock(experiment=Experiment(name="t", hypothesis="h"), run_id="r", trials=1,
                  started=time.monotonic(), live=load.live, progress=progress,
                  monitor=StopMonitor([stop] if stop else []))
    return run_trial(trial=1, schedule=schedule, faults=faults,
                     stack=SimpleNamespace(topology=None), timeline=tl, clock=clock,
                     trial_s=0.0, recovery_s=0.0)


def _method_start(tl: Timeline) -> float:
    return next(e.t_ns for e in tl.events if e.kind == "phase" and e.get("name") == "method") / 1e9


def _at(tl: Timeline, kind: str, index: int) -> float:
    """Seconds from the method start to fault ``index``'s event of ``kind``."""
    ev = _one(tl, kind, index)
    return ev.t_ns / 1e9 - _method_start(tl)


def _one(tl: Timeline, kind: str, index: int) -> Event:
    evs = [e for e in tl.events if e.kind == kind and e.get("fault_id") == f"t1-f{index}-sleepy"]
    assert len(evs) == 1, (kind, index, evs)
    return evs[0]


def _reverted_all(tl: Timeline, n: int) -> None:
    for i in range(n):
        assert _one(tl, "fault.reverted", i).get("ok") is True
        assert _at(tl, "fault.revert", i) >= _at(tl, "fault.verified", i)  # after its inject


def _late_notes(tl: Timeline) -> list[Event]:
    return [e for e in tl.events if e.kind == "note" and "late_s" in e.attrs]


def test_overlapping_faults_start_on_time_while_another_inject_is_slow() -> None:
    # f0's inject takes 0.5 s and outlasts its own 0.1 s duration; f1 starts at 0.2 s anyway,
    # and f0's revert follows right after its inject, recorded as late.
    faults = [Sleepy(inject_s=0.5), Sleepy(inject_s=0.3, revert_s=0.3)]
    tl = Timeline()
    _run(tl, faults, _schedule((0.0, 0.1), (0.2, 0.4)))
    assert _at(tl, "fault.inject", 0) == pytest.approx(0.0, abs=ON_TIME_S)
    assert _at(tl, "fault.inject", 1) == pytest.approx(0.2, abs=ON_TIME_S)
    assert _at(tl, "fault.revert", 1) == pytest.approx(0.6, abs=ON_TIME_S)
    assert _at(tl, "fault.revert", 0) == pytest.approx(0.5, abs=ON_TIME_S)
    _reverted_all(tl, 2)
    [late] = _late_notes(tl)
    assert late.get("fault_id") == "t1-f0-sleepy" and late.get("transition") == "revert"
    assert late.get("late_s") == pytest.approx(0.4, abs=ON_TIME_S)
    assert "still running" in late.get("reason")


def test_the_handles_of_the_injected_faults_are_returned() -> None:
    tl = Timeline()
    handles = _run(tl, [Sleepy(), Sleepy()], _schedule((0.0, 0.1), (0.0, 0.1)))
    assert [h.fault_id for h in handles] == ["t1-f0-sleepy", "t1-f1-sleepy"]
    assert all(h.landed and h.recovered for h in handles)
    assert not _late_notes(tl)


@pytest.mark.parametrize("slow", ["inject", "revert"])
def test_dropped_requests_fire_a_stop_condition_during_a_slow_transition(slow: str) -> None:
    # f0 stays on; f1's inject (or revert) takes 0.6 s; from 0.3 s every request is dropped
    # (no errors at all): the stop fires while f1's transition runs, and both are reverted.
    f1 = Sleepy(inject_s=0.6) if slow == "inject" else Sleepy(revert_s=0.6)
    schedule = _schedule((0.0, 5.0), (0.1, 5.0) if slow == "inject" else (0.1, 0.1))
    load = FakeLoad(drop_from=0.3)
    tl = Timeline()
    with pytest.raises(StopConditionHit) as hit:
        _run(tl, [Sleepy(), f1], schedule, load=load,
             stop=StopCondition(max_bad_fraction=0.5, window=0.2))
    assert hit.value.bad_fraction > 0.5
    start = _method_start(tl) - load.t0
    busy = (_at(tl, "fault.inject", 1), _at(tl, "fault.verified", 1)) if slow == "inject" else (
        _at(tl, "fault.revert", 1), _at(tl, "fault.reverted", 1))
    assert busy[1] - busy[0] >= 0.5
    looks = [t - start for t in load.looks if busy[0] < t - start < busy[1]]
    assert len(looks) >= 2  # the counters were watched while the slow transition ran
    _reverted_all(tl, 2)
    assert _at(tl, "fault.revert", 0) < 1.5  # f0 did not wait for its scheduled end (5 s)


def test_an_error_in_one_transition_reverts_the_others_and_propagates() -> None:
    faults = [Sleepy(), Sleepy(inject_s=0.2, fail_inject=True), Sleepy(inject_s=0.5)]
    tl = Timeline()
    with pytest.raises(FaultError, match="could not be injected"):
        _run(tl, faults, _schedule((0.0, 5.0), (0.1, 5.0), (0.2, 5.0)))
    assert _one(tl, "fault.verified", 1).get("ok") is False
    _reverted_all(tl, 3)  # f2's inject was in flight: it finished, then was reverted
    assert max(_at(tl, "fault.reverted", i) for i in range(3)) < 1.5


def test_ctrl_c_in_the_method_loop_reverts_the_active_faults() -> None:
    seen: list[float] = []

    def progress(p: Progress) -> None:
        seen.append(p.elapsed_s)
        if p.active_faults and len(seen) > 2:
            raise KeyboardInterrupt

    faults = [Sleepy(), Sleepy(inject_s=0.6)]
    tl = Timeline()
    with pytest.raises(KeyboardInterrupt):
        _run(tl, faults, _schedule((0.0, 5.0), (0.1, 5.0)), progress=progress)
    _reverted_all(tl, 2)
    assert max(_at(tl, "fault.reverted", i) for i in range(2)) < 1.5


def test_a_ctrl_c_during_the_wind_down_does_not_cut_it_short() -> None:
    # a stop condition, then SIGINT while the loop waits for a slow inject: it keeps waiting,
    # reverts, and raises the interrupt afterwards
    assert threading.current_thread() is threading.main_thread()

    def progress(p: Progress) -> None:
        if p.active_faults:
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
            raise StopConditionHit(StopCondition(max_bad_fraction=0.1), 1.0, 1.0)

    tl = Timeline()
    with pytest.raises(KeyboardInterrupt) as interrupted:
        _run(tl, [Sleepy(inject_s=0.6)], _schedule((0.0, 5.0)), progress=progress)
    assert isinstance(interrupted.value.__context__, StopConditionHit)
    assert _at(tl, "fault.verified", 0) > 0.5
    _reverted_all(tl, 1)
