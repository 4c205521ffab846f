"""Observers against the real local stack: HAProxy marks a killed replica DOWN, Sentinel fails
the master over, and the observers see both on the run's clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from harness.probes import Observers
from harness.timeline import Timeline

pytestmark = pytest.mark.integration


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def _states(tl: Timeline, subject: str) -> list[tuple[int, str, bool]]:
    return [(e.t_ns, e.get("state"), e.get("healthy")) for e in tl.events_of("obs.state")
            if e.get("subject") == subject]


@pytest.mark.slow
def test_observers_see_haproxy_mark_a_killed_replica_down_and_up_again(
        healed_stack: Any) -> None:
    stack = healed_stack
    tl = Timeline()
    threads_before = threading.active_count()
    with Observers(stack, tl, interval_s=0.1) as obs:
        _wait(lambda: obs.subjects().get("haproxy/app/app-az-b") == ("UP", True), 10,
              "app-az-b UP in HAProxy")
        killed = time.monotonic_ns()
        stack.kill("app-az-b")
        _wait(lambda: obs.subjects().get("haproxy/app/app-az-b", ("", True))[1] is False, 10,
              "HAProxy to mark app-az-b DOWN")
        stack.start("app-az-b")
        _wait(lambda: obs.subjects().get("haproxy/app/app-az-b") == ("UP", True), 90,
              "app-az-b back UP")
    assert threading.active_count() <= threads_before  # every observer thread stopped
    hap = _states(tl, "haproxy/app/app-az-b")
    down = [(t, s) for t, s, h in hap if not h]
    assert down and down[0][1].startswith("DOWN")
    detect_s = (down[0][0] - killed) / 1e9
    assert 0 < detect_s < 5.0  # inter 500 ms, fall 2 (or passive checks): ~1 s here
    assert hap[-1][1:] == ("UP", True)
    app = _states(tl, "app/app-az-b")
    assert any(s == "unreachable" and t > killed for t, s, _ in app)
    assert app[-1][1:] == ("ready", True)
    # the other replicas stayed UP throughout
    assert all(h for _, _, h in _states(tl, "haproxy/app/app-az-a"))


@pytest.mark.slow
def test_observers_see_sentinel_fail_the_master_over(healed_stack: Any) -> None:
    stack = healed_stack
    tl = Timeline()
    (old,) = stack.roles("redis-master")
    with Observers(stack, tl, interval_s=0.1) as obs:
        _wait(lambda: obs.subjects().get("redis/master") == (old, True), 10,
              "the observers to see the current master")
        _wait(lambda: obs.subjects().get("redis/replication", ("", False))[1], 10,
              "replication healthy")
        killed = time.monotonic_ns()
        stack.kill(old)
        _wait(lambda: any(e.get("event") == "+switch-master"
                          for e in tl.events_of("obs.event")), 20, "+switch-master")
        _wait(lambda: obs.subjects().get("redis/master", (old, True))[0] != old, 10,
              "the observers to see the new master")
    events = [e for e in tl.events_of("obs.event") if e.t_ns > killed]
    names = [e.get("event") for e in events]
    assert "+sdown" in names and "+odown" in names and "+switch-master" in names
    assert names.index("+sdown") < names.index("+switch-master")
    switch = next(e for e in events if e.get("event") == "+switch-master")
    (new,) = stack.roles("redis-master")
    assert new != old
    assert switch.get("subject") == f"sentinel/mymaster/{new}"
    failover_s = (switch.t_ns - killed) / 1e9
    assert 0.5 < failover_s < 10.0  # down-after 1000 ms: ~2 s here
    sdown = next(e for e in events if e.get("event") == "+sdown")
    assert sdown.get("subject") == f"sentinel/mymaster/{old}"
    # states: the old master unhealthy in Sentinel's view, replication degraded (one replica
    # short while the old master is dead), the new master named
    assert any(not h for _, _, h in _states(tl, f"sentinel/mymaster/{old}"))
    assert any(not h for _, _, h in _states(tl, "redis/replication"))
    assert _states(tl, "redis/master")[-1][1:] == (new, True)
