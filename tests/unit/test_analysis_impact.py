"""Impact windows, fault attribution, detect / fail-over / recover times, and run health."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis import AnalysisSpec, SLOSpec, Verdict, analyse
from harness.timeline import Timeline
from tests.support.synthetic import Observation, Outage, SyntheticFault, synthetic_timeline

S = 1_000_000_000


def spec(thr: float | None = 500.0, objective: float = 0.9999, **kw: object) -> AnalysisSpec:
    return AnalysisSpec(slos=[SLOSpec(name="availability", objective=objective,
                                      latency_threshold_ms=thr)], **kw)  # type: ignore[arg-type]


def pause(start: float, end: float, **kw: object) -> SyntheticFault:
    return SyntheticFault(fault_id=kw.pop("fault_id", "f1"), name=kw.pop("name", "pause-all"),  # type: ignore[arg-type]
                          inject_s=start, revert_s=end, **kw)  # type: ignore[arg-type]


# -- ground truth: a 2.0 s outage must measure 2.0 s --------------------------------------------
@pytest.mark.parametrize("poisson", [False, True])
@pytest.mark.parametrize("thr", [250.0, 500.0, 1000.0])
def test_calibration_pause_of_two_seconds_measures_two_seconds(poisson: bool, thr: float) -> None:
    tl = synthetic_timeline(duration_s=30, rate=200, poisson=poisson, seed=7,
                            outages=[Outage(start_s=10.0, end_s=12.0)],
                            faults=[pause(10.0, 12.0)])
    a = analyse(tl, spec(thr))
    (f,) = a.faults
    assert len(f.windows_s) == 1
    start, end, bad = f.windows_s[0]
    assert abs((end - start) - 2.0) < 0.1
    assert abs(f.impact_s - 2.0) < 0.1
    assert abs(f.failover_s - 2.0) < 0.1
    assert f.failback_s == 0.0
    assert bad == f.bad_requests == a.slos[0].bad  # every bad request is the fault's
    assert a.unattributed_bad == 0
    # the requests due in the last `thr` of the pause were answered within the threshold
    assert f.error_seconds == pytest.approx(2.0 - thr / 1000, abs=0.1)


def test_calibration_refused_connections_for_two_seconds() -> None:
    tl = synthetic_timeline(duration_s=20, rate=100, outages=[Outage(start_s=5, end_s=7,
                                                                     mode="error")],
                            faults=[pause(5.0, 7.0, name="kill-all")])
    (f,) = analyse(tl, spec(None)).faults
    assert abs(f.impact_s - 2.0) < 0.1 and f.bad_requests == 200
    assert f.error_seconds == pytest.approx(2.0, abs=0.02)


@given(duration=st.floats(0.5, 5.0), rate=st.sampled_from([50, 100, 200, 400]),
       thr=st.sampled_from([100.0, 250.0, 400.0]))
@settings(max_examples=25, deadline=None)
def test_impact_window_matches_any_stall(duration: float, rate: int, thr: float) -> None:
    if thr / 1000 >= duration:
        return  # a stall shorter than the threshold harms nobody
    tl = synthetic_timeline(duration_s=duration + 10, rate=rate, service_ms=5,
                            outages=[Outage(start_s=3, end_s=3 + duration)],
                            faults=[pause(3.0, 3.0 + duration)])
    (f,) = analyse(tl, spec(thr)).faults
    assert abs(f.impact_s - duration) <= 0.005 + 2 / rate + 1e-9


# -- faults without impact, overlapping faults ---------------------------------------------------
def test_fault_without_impact() -> None:
    tl = synthetic_timeline(duration_s=40, rate=1_000, faults=[pause(10, 20)])
    a = analyse(tl, spec())
    (f,) = a.faults
    assert (f.bad_requests, f.failover_s, f.failback_s, f.impact_s, f.error_seconds) == (
        0, 0.0, 0.0, 0.0, 0.0)
    assert f.detect_s is None and f.recover_s == 0.0  # nothing observed, nothing unhealthy
    assert a.verdict is Verdict.PASS  # 40,000 clean requests > 29,956


def test_overlapping_faults_attribute_each_window_once() -> None:
    faults = [pause(10, 40, fault_id="a", name="zone-loss"),
              pause(20, 45, fault_id="b", name="provider-500")]
    outages = [Outage(start_s=10, end_s=12, mode="error"),  # a's fail-over
               Outage(start_s=20, end_s=21, mode="error"),  # b's
               Outage(start_s=40, end_s=40.5, mode="error")]  # a's fail-back (b still active)
    tl = synthetic_timeline(duration_s=60, rate=100, outages=outages, faults=faults)
    a, b = analyse(tl, spec()).faults
    assert [w[:2] for w in a.windows_s] == [pytest.approx((10.0, 11.991), abs=0.01),
                                            pytest.approx((40.0, 40.491), abs=0.01)]
    assert a.failover_s == pytest.approx(2.0, abs=0.02)
    assert a.failback_s == pytest.approx(0.5, abs=0.02)
    assert b.failover_s == pytest.approx(1.0, abs=0.02) and b.failback_s == 0.0
    assert (a.bad_requests, b.bad_requests) == (250, 100)
    assert a.overlaps == ("b",) and b.overlaps == ("a",)


def test_a_stray_error_long_after_failover_does_not_stretch_it() -> None:
    outages = [Outage(start_s=10, end_s=12, mode="error"),
               Outage(start_s=20, end_s=20.5, mode="error"),  # 8 s of clean traffic before
               Outage(start_s=23, end_s=23.5, mode="error")]  # 2.5 s after the previous one
    tl = synthetic_timeline(duration_s=60, rate=100, outages=outages, faults=[pause(10, 40)])
    (f,) = analyse(tl, spec(failover_hold_s=5.0)).faults
    assert f.failover_s == pytest.approx(2.0, abs=0.02)
    assert f.bad_requests == 300 and len(f.windows_s) == 3  # the relapse still counts
    (f,) = analyse(tl, spec(failover_hold_s=10.0)).faults
    assert f.failover_s == pytest.approx(13.5, abs=0.02)  # all one episode


def test_bad_requests_outside_any_fault_are_unattributed() -> None:
    tl = synthetic_timeline(duration_s=60, rate=100, faults=[pause(10, 12)],
                            outages=[Outage(start_s=40, end_s=41, mode="error")])
    a = analyse(tl, spec(impact_grace_s=5.0))
    assert a.faults[0].bad_requests == 0 and a.unattributed_bad == 100


def test_impact_just_inside_the_grace_after_revert_belongs_to_the_fault() -> None:
    tl = synthetic_timeline(duration_s=60, rate=100, faults=[pause(10, 12)],
                            outages=[Outage(start_s=16.5, end_s=17, mode="error")])
    assert analyse(tl, spec(impact_grace_s=5.0)).faults[0].failback_s == pytest.approx(
        5.0, abs=0.02)
    assert analyse(tl, spec(impact_grace_s=4.0)).unattributed_bad == 50


def test_impact_while_a_slow_revert_settles_belongs_to_the_fault() -> None:
    # a killed replica reverted at 12 s answers again only at 21 s (its restart); what goes
    # wrong 7-11 s after the revert is the fault's cost, not background
    tl = synthetic_timeline(duration_s=60, rate=100, faults=[pause(10, 12, settle_s=9.0)],
                            outages=[Outage(start_s=19, end_s=23, mode="error")])
    a = analyse(tl, spec(impact_grace_s=5.0))
    assert a.faults[0].bad_requests == 400 and a.unattributed_bad == 0
    quick = synthetic_timeline(duration_s=60, rate=100, faults=[pause(10, 12)],
                               outages=[Outage(start_s=19, end_s=23, mode="error")])
    assert analyse(quick, spec(impact_grace_s=5.0)).unattributed_bad == 400


def test_impact_during_the_recovery_wait_belongs_to_the_fault() -> None:
    # a herd of cache misses overloads the stack 10-14 s after the revert: with the experiment's
    # 40 s recovery wait that is the fault's cost; with the bare 5 s grace it is background
    tl = synthetic_timeline(duration_s=80, rate=100, faults=[pause(10, 20)],
                            outages=[Outage(start_s=30, end_s=34, mode="error")])
    a = analyse(tl, spec(impact_grace_s=5.0, recovery_attribution_s=40.0))
    assert a.faults[0].bad_requests == 400 and a.unattributed_bad == 0
    assert analyse(tl, spec(impact_grace_s=5.0)).unattributed_bad == 400
    # bad requests before the injection stay background
    early = synthetic_timeline(duration_s=80, rate=100, faults=[pause(10, 20)],
                               outages=[Outage(start_s=2, end_s=3, mode="error")])
    assert analyse(early, spec(recovery_attribution_s=40.0)).unattributed_bad == 100


# -- detection and recovery ------------------------------------------------------------------
def test_detect_and_recover_from_observer_states() -> None:
    obs = [Observation(t_s=11.0, subject="haproxy/app/app-az-a", healthy=False),
           Observation(t_s=11.5, subject="redis/replication", healthy=False),
           Observation(t_s=13.0, subject="haproxy/app/app-az-a", healthy=True),
           Observation(t_s=14.5, subject="redis/replication", healthy=True)]
    tl = synthetic_timeline(duration_s=30, rate=50, faults=[pause(10, 12)], observations=obs)
    (f,) = analyse(tl, spec()).faults
    assert f.detect_s == pytest.approx(1.0) and f.detected_by == "haproxy/app/app-az-a"
    assert f.recover_s == pytest.approx(2.5)


def test_late_detection_after_revert_still_delays_recovery() -> None:
    obs = [Observation(t_s=12.5, subject="haproxy/app/app-az-a", healthy=False),
           Observation(t_s=16.0, subject="haproxy/app/app-az-a", healthy=True)]
    tl = synthetic_timeline(duration_s=30, rate=50, faults=[pause(10, 12)], observations=obs)
    (f,) = analyse(tl, spec()).faults
    assert f.detect_s == pytest.approx(2.5) and f.recover_s == pytest.approx(4.0)


def test_never_recovered_and_point_event_detection() -> None:
    tl = synthetic_timeline(duration_s=30, rate=50, faults=[pause(10, 12)], observations=[
        Observation(t_s=13.0, subject="sentinel/mymaster/redis-az-a", healthy=False)])
    tl.add_event("obs.event", "observer", t_ns=1_000 * S + int(10.7 * S),
                 subject="sentinel/mymaster", event="+switch-master", detail="")
    (f,) = analyse(tl, spec()).faults
    assert f.detect_s == pytest.approx(0.7) and "+switch-master" in (f.detected_by or "")
    assert f.recover_s is None


# -- verdicts: what makes a run inconclusive --------------------------------------------------
CLEAN = {"duration_s": 40, "rate": 1_000}


def reasons(a: object) -> str:
    return " | ".join(a.reasons)  # type: ignore[attr-defined]


def test_clean_run_passes() -> None:
    a = analyse(synthetic_timeline(**CLEAN, faults=[pause(10, 12)]), spec())  # type: ignore[arg-type]
    assert a.verdict is Verdict.PASS, reasons(a)


@pytest.mark.parametrize(("fault", "needle"), [
    (pause(10, 12, landed=False), "never took effect"),
    (pause(10, 12, landed=None), "never verified"),
    (pause(10, 12, reverted_ok=False), "revert was not verified"),
    (pause(10, None), "never reverted"),  # type: ignore[arg-type]
])
def test_fault_problems_make_the_run_inconclusive(fault: SyntheticFault, needle: str) -> None:
    a = analyse(synthetic_timeline(**CLEAN, faults=[fault]), spec())  # type: ignore[arg-type]
    assert a.verdict is Verdict.INCONCLUSIVE and needle in reasons(a)


def test_generator_that_fell_behind_is_inconclusive() -> None:
    a = analyse(synthetic_timeline(**CLEAN, fell_behind=True), spec())  # type: ignore[arg-type]
    assert a.verdict is Verdict.INCONCLUSIVE and "fell_behind=true" in reasons(a)
    a = analyse(synthetic_timeline(**CLEAN, lateness_ms=150), spec())  # type: ignore[arg-type]
    assert a.verdict is Verdict.INCONCLUSIVE and "exceeds the bound" in reasons(a)
    assert a.generator.lateness_p99_ms == pytest.approx(150.0)
    a = analyse(synthetic_timeline(**CLEAN, lateness_ms=50), spec())  # type: ignore[arg-type]
    assert a.verdict is Verdict.PASS and not a.generator.fell_behind


@pytest.mark.parametrize(("kind", "attrs", "verdict", "needle"), [
    ("harness.error", {"error": "Boom", "detail": "x"}, Verdict.INCONCLUSIVE, "harness error"),
    ("stop_condition", {"condition": "bad_fraction", "bad_fraction": 0.5, "window_s": 10},
     Verdict.INCONCLUSIVE, "stop condition"),
    ("run.end", {"reason": "interrupted"}, Verdict.INCONCLUSIVE, "ended early"),
    ("steady_state", {"phase": "before", "ok": False, "detail": "replica down"},
     Verdict.INCONCLUSIVE, "before the method"),
    ("steady_state", {"phase": "after", "ok": False, "detail": "replica down"},
     Verdict.INCONCLUSIVE, "not restored"),
    ("steady_state", {"phase": "before", "ok": True}, Verdict.PASS, "SLO"),
])
def test_run_events_decide_the_verdict(kind: str, attrs: dict, verdict: Verdict,
                                       needle: str) -> None:
    tl = synthetic_timeline(**CLEAN)  # type: ignore[arg-type]
    tl.add_event(kind, "runner", t_ns=1_000 * S + 20 * S, **attrs)
    a = analyse(tl, spec())
    assert a.verdict is verdict and needle in reasons(a)


def test_fail_beats_inconclusive() -> None:
    tl = synthetic_timeline(**CLEAN, faults=[pause(10, 12, landed=False)],  # type: ignore[arg-type]
                            outages=[Outage(start_s=10, end_s=12, mode="error")])
    a = analyse(tl, spec())
    assert a.verdict is Verdict.FAIL
    assert "never took effect" in reasons(a) and "FAIL" in a.reasons[0]


def test_too_few_requests_is_inconclusive_with_a_plan() -> None:
    a = analyse(synthetic_timeline(duration_s=10, rate=100), spec())
    assert a.verdict is Verdict.INCONCLUSIVE
    assert a.slos[0].needed_requests == 29_956 - 1_000
    assert "29956" not in reasons(a) and "28956 more requests" in reasons(a)


def test_no_requests_at_all() -> None:
    tl = Timeline()
    tl.add_event("run.start", "runner", t_ns=5 * S)
    tl.add_event("fault.inject", "fault", t_ns=6 * S, fault_id="f", name="x", target=None,
                 params={}, services=[])
    tl.add_event("fault.verified", "fault", t_ns=6 * S, fault_id="f", ok=True, detail="")
    tl.add_event("fault.revert", "fault", t_ns=7 * S, fault_id="f")
    tl.add_event("fault.reverted", "fault", t_ns=7 * S, fault_id="f", ok=True, detail="")
    a = analyse(tl, spec())
    assert a.verdict is Verdict.INCONCLUSIVE and "no requests" in reasons(a)
    assert a.slos[0].total == 0 and a.error_budget.consumed is None
    (f,) = a.faults
    assert f.bad_requests == 0 and f.error_seconds is None and f.injected_at_s == 1.0
    json.dumps(a.to_json(), allow_nan=False)
    empty = analyse(Timeline(), spec())
    assert empty.verdict is Verdict.INCONCLUSIVE and empty.duration_s == 0.0
    json.dumps(empty.to_json(), allow_nan=False)


# -- windows (per-trial analysis) --------------------------------------------------------------
def test_window_selects_requests_and_faults_but_keeps_the_run_clock() -> None:
    tl = synthetic_timeline(duration_s=60, rate=100,
                            faults=[pause(10, 12, fault_id="t1"), pause(40, 42, fault_id="t2")],
                            outages=[Outage(start_s=10, end_s=12, mode="error"),
                                     Outage(start_s=40, end_s=42, mode="error")])
    a = analyse(tl, spec(), window=(1_000 * S + 30 * S, 1_000 * S + 60 * S))
    assert a.requests == 3_000
    (f,) = a.faults
    assert f.fault.fault_id == "t2" and f.injected_at_s == 40.0 and f.bad_requests == 200
    assert a.origin_ns == 1_000 * S


def test_run_level_events_outside_the_window_still_count() -> None:
    tl = synthetic_timeline(duration_s=60, rate=1_000, fell_behind=True)  # load.stop at 60 s
    tl.add_event("steady_state", "runner", t_ns=1_000 * S + 1 * S, phase="before", ok=True)
    a = analyse(tl, spec(), window=(1_000 * S + 10 * S, 1_000 * S + 50 * S))
    assert a.requests == 40_000
    assert a.generator.kind == "open-loop" and a.generator.rate == 1_000
    assert a.verdict is Verdict.INCONCLUSIVE and "fell_behind=true" in reasons(a)


def test_detection_uses_stack_signals_and_ignores_observer_health() -> None:
    tl = synthetic_timeline(duration_s=30, rate=50, faults=[pause(10, 12)])
    t = 1_000 * S
    tl.add_event("obs.state", "observer", t_ns=t + int(10.1 * S), subject="app/app-az-a",
                 state="unreachable", healthy=False, signal="probe")
    tl.add_event("obs.state", "observer", t_ns=t + int(10.2 * S), subject="observer/haproxy",
                 state="error", healthy=False, signal="probe")
    tl.add_event("obs.state", "observer", t_ns=t + int(11.0 * S), subject="haproxy/app/app-az-a",
                 state="DOWN", healthy=False, signal="stack")
    tl.add_event("obs.state", "observer", t_ns=t + int(12.5 * S), subject="haproxy/app/app-az-a",
                 state="UP", healthy=True, signal="stack")
    tl.add_event("obs.state", "observer", t_ns=t + int(13.0 * S), subject="app/app-az-a",
                 state="ok", healthy=True, signal="probe")
    (f,) = analyse(tl, spec()).faults
    assert f.detect_s == pytest.approx(1.0) and f.detected_by == "haproxy/app/app-az-a"
    assert f.recover_s == pytest.approx(1.0)  # the probe's subject counts; observer/ does not
