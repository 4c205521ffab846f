"""The open-loop generator against an in-process loopback server: schedule kept, every request
recorded, stalls show up as latency or failures, its own lateness measured."""

from __future__ import annotations

import gc
import socket
import time
from itertools import pairwise

import pytest

from harness.errors import ConfigError
from harness.load import GeneratorReport, OpenLoopGenerator, RequestMix, Schedule
from harness.load.report import fell_behind, percentile_ms
from harness.timeline import Outcome, Provider, Timeline
from tests.support.tinyserver import TinyServer

MIX = RequestMix(questions=tuple(f"question {i}" for i in range(20)), seed=1)


def _gen(url: str, tl: Timeline, **kw: object) -> OpenLoopGenerator:
    args: dict[str, object] = {"url": url, "api_key": "key", "rate": 200, "mix": MIX, "seed": 5,
                               "timeline": tl, "arrivals": "constant", "timeout_s": 5.0}
    args.update(kw)
    return OpenLoopGenerator(**args)  # type: ignore[arg-type]


def _t0(tl: Timeline) -> int:
    return tl.events_of("load.start")[0].t_ns


def test_records_every_request_on_schedule_with_headers() -> None:
    tl = Timeline()
    with TinyServer(replica="app-az-c") as srv:
        srv.behaviour.provider = "cache"
        gen = _gen(srv.url, tl, rate=100, arrivals="poisson", duration_s=1.5)
        gen.start()
        assert gen.wait(15)
        report = gen.stop()
        assert srv.received == report.sent
    req = tl.requests
    expected = Schedule(rate=100, arrivals="poisson", seed=5).within(1.5)
    assert len(req) == report.scheduled == report.sent == len(expected)
    assert [i - _t0(tl) for i in sorted(req.intended_ns)] == expected  # seeded: replayable
    rec = req.record(0)
    assert rec.outcome is Outcome.OK and rec.status == 200
    assert rec.replica == "app-az-c" and rec.provider is Provider.CACHE and not rec.degraded
    assert all(req.start_ns[i] >= req.intended_ns[i] for i in range(len(req)))
    assert all(req.end_ns[i] > req.start_ns[i] for i in range(len(req)))
    assert report.errors == report.timeouts == report.dropped == 0
    assert report.connections < report.sent / 3  # keep-alive: connections are reused
    assert not report.fell_behind, report.fell_behind_reason
    (stop,) = tl.events_of("load.stop")
    assert stop.get("sent") == report.sent and stop.get("fell_behind") is False
    (start,) = tl.events_of("load.start")
    assert start.get("rate") == 100 and start.get("arrivals") == "poisson"
    assert start.get("target") == srv.url


def test_a_stalled_server_does_not_slow_the_schedule() -> None:
    """The server stops answering for 1 s: sends continue on schedule; the stalled requests
    are recorded late (latency from the intended time), none is missing."""
    # Late in a whole-suite run the process holds the garbage of hundreds of tests, and one
    # full collection pauses every thread for a few hundred ms: collect it now, and keep what is
    # left out of later collections, so the lateness asserted below is the generator's own.
    gc.collect()
    gc.freeze()
    try:
        _stalled_server_run()
    finally:
        gc.unfreeze()


def _stalled_server_run() -> None:
    tl = Timeline()
    with TinyServer() as srv, _gen(srv.url, tl, rate=200) as gen:
        time.sleep(1.0)
        stall_start = time.monotonic_ns()
        srv.stall(1.0)
        time.sleep(2.0)
        live = gen.live()
        report = gen.stop()
    assert live.sent > 500 and live.errors == 0
    req = tl.requests
    assert len(req) == report.scheduled == report.sent
    # on schedule: constant arrivals at 200/s are exactly 5 ms apart for the whole run
    intended = sorted(req.intended_ns)
    assert all(b - a == pytest.approx(5_000_000, abs=1) for a, b in pairwise(intended))
    # kept sending during the stall: ~200 sends inside the stalled second, on time
    in_stall = [i for i in range(len(req))
                if stall_start <= req.intended_ns[i] < stall_start + 1_000_000_000]
    assert len(in_stall) == pytest.approx(200, abs=3)
    assert max(req.start_ns[i] - req.intended_ns[i] for i in in_stall) < 100_000_000
    # ... and they were answered only after the stall: latency from the intended time
    latency_ms = sorted((req.end_ns[i] - req.intended_ns[i]) / 1e6 for i in in_stall)
    assert latency_ms[-1] == pytest.approx(1000, abs=150)  # the first one waited ~1 s
    assert sum(1 for x in latency_ms if x > 500) == pytest.approx(100, abs=15)
    assert all(req.outcome[i] == Outcome.OK for i in in_stall)
    assert report.connections >= 150  # the pool grew to cover the stall
    assert not report.fell_behind, report.fell_behind_reason


def test_stalled_requests_time_out_and_a_cap_drops_rather_than_queues() -> None:
    tl = Timeline()
    with TinyServer() as srv:
        srv.stall(60.0)
        gen = _gen(srv.url, tl, rate=100, timeout_s=0.3, max_connections=10, duration_s=1.0)
        gen.start()
        assert gen.wait(15)
        report = gen.stop()
        srv.behaviour.stall_until_ns = 0
    req = tl.requests
    outcomes = [Outcome(o) for o in req.outcome]
    assert len(req) == report.scheduled == 100
    assert report.timeouts == outcomes.count(Outcome.TIMEOUT) > 0
    assert report.dropped == outcomes.count(Outcome.DROPPED) > 0
    assert report.timeouts + report.dropped == 100
    for i in range(len(req)):
        if req.outcome[i] == Outcome.TIMEOUT:
            # never early; late only by the event loop's own delay on a busy machine
            assert 295 <= (req.end_ns[i] - req.start_ns[i]) / 1e6 <= 450
            assert req.strings[req.error[i]] == "TimeoutError"
        else:
            assert req.strings[req.error[i]] == "ConnectionCapReached"
    # never more than the cap in flight: with 0.3 s timeouts at 100/s, ~30 would be needed
    assert report.connections <= 10 + report.timeouts


def test_refused_connections_are_errors_and_sending_goes_on() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tl = Timeline()
    gen = _gen(f"http://127.0.0.1:{port}", tl, rate=50, duration_s=1.0)
    with gen:
        assert gen.wait(10)
    report = gen.stop()
    req = tl.requests
    assert len(req) == report.scheduled == report.errors == 50
    assert {req.strings[e] for e in req.error} == {"ConnectionRefusedError"}


def test_http_errors_keep_status_and_class() -> None:
    tl = Timeline()
    with TinyServer() as srv:
        srv.behaviour.status = 503
        gen = _gen(srv.url, tl, rate=50, duration_s=0.5)
        gen.start()
        gen.wait(10)
        report = gen.stop()
    rec = tl.requests.record(0)
    assert rec.outcome is Outcome.ERROR and rec.status == 503 and rec.error == "HTTP503"
    assert report.completed == report.errors == len(tl)
    assert gen.live().ok == 0


class _BlockingGenerator(OpenLoopGenerator):
    """Blocks its own event loop for 600 ms once: a generator starved of CPU."""

    blocked = False

    async def _one(self, intended: int, body: bytes) -> None:
        if not self.blocked and self._counts["scheduled"] > 20:
            type(self).blocked = True
            time.sleep(0.6)
        await super()._one(intended, body)


def test_lateness_is_measured_and_a_late_generator_is_flagged() -> None:
    tl = Timeline()
    with TinyServer() as srv:
        gen = _BlockingGenerator(url=srv.url, api_key="k", rate=200, mix=MIX, seed=1,
                                 timeline=tl, arrivals="constant", duration_s=1.0)
        gen.start()
        assert gen.wait(15)
        report = gen.stop()
    req = tl.requests
    late_ms = sorted((req.start_ns[i] - req.intended_ns[i]) / 1e6 for i in range(len(req)))
    assert len(req) == 200  # late, not missing
    assert report.max_lateness_ms == pytest.approx(late_ms[-1], abs=0.01)
    assert report.max_lateness_ms >= 590
    assert report.lateness_p99_ms == pytest.approx(percentile_ms(
        sorted(req.start_ns[i] - req.intended_ns[i] for i in range(len(req))), 99))
    assert report.fell_behind and "max send lateness" in report.fell_behind_reason
    (stop,) = tl.events_of("load.stop")
    assert stop.get("fell_behind") is True


def test_report_helpers() -> None:
    assert percentile_ms([], 99) == 0.0
    data = [i * 1_000_000 for i in range(1, 101)]
    assert percentile_ms(data, 50) == 50.0 and percentile_ms(data, 99) == 99.0
    assert percentile_ms(data, 100) == 100.0
    assert fell_behind(5, 50) == ""
    assert "p99" in fell_behind(60, 50) and "max" in fell_behind(5, 600)
    assert fell_behind(25, 50, p99_bound_ms=20) != ""
    r = GeneratorReport(kind="open-loop", rate=1, arrivals="constant", duration_s=1,
                        scheduled=1, sent=1, completed=1, errors=0, timeouts=0, dropped=0,
                        fell_behind=False, fell_behind_reason="", lateness_p50_ms=0,
                        lateness_p99_ms=0, max_lateness_ms=0, achieved_rate=1, connections=1)
    assert r.to_json()["kind"] == "open-loop"


def test_bad_arguments_are_config_errors() -> None:
    tl = Timeline()
    with pytest.raises(ConfigError):
        _gen("http://127.0.0.1:1", tl, timeout_s=0)
    with pytest.raises(ConfigError):
        _gen("ftp://127.0.0.1:1", tl)
    with pytest.raises(ConfigError):
        _gen("http://127.0.0.1:1", tl, rate=0)
