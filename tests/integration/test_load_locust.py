"""The Locust driver end to end: Locust in subprocesses against a loopback server, every request
merged into the timeline on the same clock. Short and bounded."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from harness.errors import ConfigError
from harness.load import LocustDriver, RequestMix
from harness.timeline import Outcome, Provider, Timeline
from tests.support.tinyserver import TinyServer

pytestmark = pytest.mark.integration

MIX = RequestMix(questions=tuple(f"question {i}" for i in range(30)), seed=2)


def test_paced_locust_run_records_every_request() -> None:
    tl = Timeline()
    with TinyServer(replica="app-az-a") as srv:
        srv.behaviour.provider = "fallback"
        t0 = time.monotonic_ns()
        driver = LocustDriver(url=srv.url, api_key="k", mix=MIX, seed=1, timeline=tl, users=4,
                              rate=40, arrivals="constant", timeout_s=5.0)
        report = driver.run(4.0)
        t1 = time.monotonic_ns()
        received = srv.received
    req = tl.requests
    assert len(req) == report.scheduled == report.sent
    # requests Locust cut off at its stop are not in the timeline (and mostly never sent)
    assert len(req) <= received <= len(req) + driver.cancelled_at_stop
    assert 40 <= len(req) <= 170  # 40/s for up to 4 s, minus Locust's start-up
    assert report.kind == "locust" and report.errors == report.timeouts == 0
    rec = req.record(0)
    assert rec.outcome is Outcome.OK and rec.status == 200 and rec.replica == "app-az-a"
    assert rec.provider is Provider.FALLBACK
    # same clock: every time lies inside this test's own monotonic window
    assert all(t0 <= req.intended_ns[i] <= req.start_ns[i] < req.end_ns[i] <= t1
               for i in range(len(req)))
    # paced: each user's requests are 100 ms apart (4 users x 10/s)
    assert report.lateness_p50_ms < 20
    assert report.achieved_rate == pytest.approx(40, rel=0.25)
    assert [e.kind for e in tl.events] == ["load.start", "load.stop"]
    assert tl.events_of("load.start")[0].get("generator") == "locust"


@pytest.mark.slow
def test_master_and_worker_closed_loop_and_start_stop() -> None:
    tl = Timeline()
    with TinyServer() as srv:
        srv.behaviour.status = 503
        with LocustDriver(url=srv.url, api_key="k", mix=MIX, seed=1, timeline=tl, users=2,
                          rate=None, workers=1, timeout_s=5.0) as driver:
            deadline = time.monotonic() + 30
            while driver.live().sent < 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            live = driver.live()
        report = driver.stop()
    req = tl.requests
    assert live.sent >= 200 and live.errors == live.sent == live.completed and live.ok == 0
    assert srv.received >= 200
    assert len(req) == report.scheduled >= live.sent
    assert report.arrivals == "closed-loop" and not report.fell_behind
    assert Counter(req.strings[e] for e in req.error) == {"HTTP503": len(req)}
    assert all(req.status[i] == 503 and req.outcome[i] == Outcome.ERROR for i in range(len(req)))


def test_bad_options_are_config_errors() -> None:
    tl = Timeline()
    for kw in ({"users": 0}, {"rate": 0.0}, {"arrivals": "burst"}, {"workers": -1}):
        with pytest.raises(ConfigError):
            LocustDriver(url="http://127.0.0.1:1", api_key="k", mix=MIX, seed=1, timeline=tl,
                         **kw)  # type: ignore[arg-type]


def test_locust_through_a_stall_records_late_requests_and_flags_it() -> None:
    """Closed-loop users cannot keep the schedule through a 1 s stall: the requests due during
    it are sent late but recorded with their intended time (latency includes the wait), none
    is missing, and the report says Locust fell behind."""
    tl = Timeline()
    with TinyServer() as srv:
        with LocustDriver(url=srv.url, api_key="k", mix=MIX, seed=1, timeline=tl, users=2,
                          rate=20, timeout_s=5.0) as driver:
            deadline = time.monotonic() + 30
            while driver.live().sent < 20 and time.monotonic() < deadline:
                time.sleep(0.1)
            stall_start = time.monotonic_ns()
            srv.stall(1.0)
            time.sleep(2.5)
        report = driver.stop()
    req = tl.requests
    assert report.fell_behind and report.max_lateness_ms > 500
    due = sorted(i for i in range(len(req))
                 if stall_start <= req.intended_ns[i] < stall_start + 1_000_000_000)
    assert len(due) == pytest.approx(20, abs=3)  # 20/s: every slot of the stalled second
    latency_ms = [(req.end_ns[i] - req.intended_ns[i]) / 1e6 for i in due]
    assert max(latency_ms) > 800  # the wait counts, from the intended time
    assert all(req.outcome[i] == Outcome.OK for i in due)


def test_locust_runs_the_generated_mix() -> None:
    """The generated mix crosses into the Locust processes (``mix.json`` -> ``from_json``)."""
    mix = RequestMix(questions=MIX.questions, repeat="generated", cache_hit_target=0.5,
                     nonce="loc1", seed=2)
    tl = Timeline()
    with TinyServer() as srv:
        driver = LocustDriver(url=srv.url, api_key="k", mix=mix, seed=1, timeline=tl, users=2,
                              rate=20, arrivals="constant", timeout_s=5.0)
        report = driver.run(5.0)
    # Locust's start-up on a loaded machine eats into the 5 s, so only a floor on the count. A
    # mix that did not cross over fails the locustfile's import (stop() raises: no request) or
    # every user at its first or second question (at most 2 x 2 requests)
    assert report.sent >= 5 and report.errors == report.timeouts == 0, report
