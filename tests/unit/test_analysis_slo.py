"""Good/bad classification, bad-at times, error budget and latency percentiles."""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis import AnalysisSpec, SLOSpec, analyse
from harness.analysis.arrays import RequestArrays
from harness.analysis.latency import latency_summary, latency_windows, nearest_rank
from harness.analysis.slo import bad_at, classify
from harness.errors import ConfigError
from harness.timeline import Outcome, RequestRecord, Timeline

MS = 1_000_000
T0 = 5_000 * 1_000_000_000


def req(i: int, latency_ms: float, *, outcome: Outcome = Outcome.OK, status: int = 200,
        degraded: bool = False, late_ms: float = 0.0) -> RequestRecord:
    t = T0 + i * 10 * MS
    return RequestRecord(intended_ns=t, start_ns=t + round(late_ms * MS),
                         end_ns=t + round(latency_ms * MS), outcome=outcome, status=status,
                         degraded=degraded)


def arrays(*records: RequestRecord) -> RequestArrays:
    tl = Timeline()
    tl.add_requests(records)
    return RequestArrays.from_timeline(tl)


def slo(thr: float | None = 500.0, degraded_is_good: bool = False) -> SLOSpec:
    return SLOSpec(name="s", objective=0.999, latency_threshold_ms=thr,
                   degraded_is_good=degraded_is_good)


def test_good_needs_2xx_within_threshold_from_intended_time() -> None:
    r = arrays(
        req(0, 100),  # good
        req(1, 500),  # exactly at the threshold: good
        req(2, 500.000001),  # 1 ns over: bad
        req(3, 100, status=204),  # any 2xx is good
        req(4, 100, status=302),  # 3xx is bad
        req(5, 100, outcome=Outcome.ERROR, status=500),
        req(6, 10_000, outcome=Outcome.TIMEOUT, status=0),
        req(7, 0, outcome=Outcome.DROPPED, status=0),
        req(8, 100, status=299),
        req(9, 100, status=200, outcome=Outcome.ERROR),  # a response judged an error
    )
    assert classify(r, slo()).tolist() == [True, True, False, True, False, False, False, False,
                                           True, False]


def test_latency_is_measured_from_intended_not_actual_send_time() -> None:
    # sent 450 ms late, answered 100 ms after sending: 550 ms from intended -> bad
    r = arrays(req(0, 550, late_ms=450))
    assert classify(r, slo(500)).tolist() == [False]
    assert classify(r, slo(None)).tolist() == [True]  # no latency condition


def test_degraded_counts_only_when_the_slo_says_so() -> None:
    r = arrays(req(0, 100, degraded=True), req(1, 100))
    assert classify(r, slo(degraded_is_good=False)).tolist() == [False, True]
    assert classify(r, slo(degraded_is_good=True)).tolist() == [True, True]


def test_bad_at_is_end_but_never_after_the_deadline() -> None:
    r = arrays(req(0, 2_000), req(1, 30, outcome=Outcome.ERROR, status=0),
               req(2, 0, outcome=Outcome.DROPPED), req(3, 10_000, outcome=Outcome.TIMEOUT))
    got = (bad_at(r, slo(500)) - r.intended).tolist()
    assert got == [500 * MS, 30 * MS, 0, 500 * MS]
    got = (bad_at(r, slo(None)) - r.intended).tolist()
    assert got == [2_000 * MS, 30 * MS, 0, 10_000 * MS]


def test_error_budget_and_slo_numbers_in_a_run() -> None:
    tl = Timeline()
    tl.add_requests([req(i, 50) for i in range(9_990)])
    tl.add_requests([req(10_000 + i, 50, outcome=Outcome.ERROR, status=503) for i in range(10)])
    a = analyse(tl, AnalysisSpec(slos=[SLOSpec(name="avail", objective=0.999),
                                       SLOSpec(name="fast", objective=0.99,
                                               latency_threshold_ms=20)]))
    s = a.slos[0]
    assert (s.total, s.good, s.bad, s.bad_fraction) == (10_000, 9_990, 10, 0.001)
    assert a.error_budget.allowed_bad == pytest.approx(10.0)
    assert a.error_budget.consumed == pytest.approx(1.0)
    assert a.slos[1].good == 0  # every request took 50 ms > 20 ms
    j = a.to_json()
    assert j["error_budget"] == {"slo": "avail", "objective": 0.999, "allowed_bad": 10.0,
                                 "bad": 10, "consumed": 1.0}


def test_slo_spec_validation() -> None:
    with pytest.raises(ConfigError, match="objective"):
        SLOSpec(name="x", objective=1.0)
    with pytest.raises(ConfigError, match="latency threshold"):
        SLOSpec(name="x", objective=0.99, latency_threshold_ms=0)
    with pytest.raises(ConfigError, match="at least one SLO"):
        AnalysisSpec(slos=[])
    with pytest.raises(ConfigError, match="unique"):
        AnalysisSpec(slos=[slo(), slo()])
    with pytest.raises(ConfigError, match="interval"):
        AnalysisSpec(slos=[slo()], interval="bayes")  # type: ignore[arg-type]
    assert SLOSpec(name="x", objective=0.9999).allowed_bad_fraction == 0.0001


# -- latency ----------------------------------------------------------------------------------
def test_nearest_rank_percentiles() -> None:
    v = np.arange(1, 101, dtype=np.int64)  # 1..100
    assert nearest_rank(v, 50) == 50
    assert nearest_rank(v, 99) == 99
    assert nearest_rank(v, 99.9) == 100
    assert nearest_rank(v, 0.5) == 1
    assert nearest_rank(np.array([7]), 99.9) == 7
    assert nearest_rank(np.array([], dtype=np.int64), 50) is None


def test_latency_summary_includes_errors_and_timeouts_but_not_dropped() -> None:
    recs = [req(i, i + 1) for i in range(1000)]  # 1..1000 ms
    recs.append(req(2000, 0, outcome=Outcome.DROPPED))
    recs.append(req(2001, 5_000, outcome=Outcome.TIMEOUT, status=0))
    s = latency_summary(arrays(*recs))
    assert s.count == 1001
    assert s.values_ms == {"p50": 501.0, "p90": 901.0, "p99": 991.0, "p999": 1000.0,
                           "max": 5000.0}
    empty = latency_summary(arrays())
    assert empty.count == 0 and set(empty.values_ms.values()) == {None}


def test_latency_windows_are_per_bin_of_intended_time() -> None:
    recs = [req(i, 10) for i in range(100)]  # 0..990 ms: bin 0
    recs += [req(100 + i, 200 + i) for i in range(100)]  # 1.0..1.99 s: bin 1
    w = latency_windows(arrays(*recs), origin_ns=T0, bin_s=1.0)
    assert [(x.start_s, x.count, x.p50_ms, x.p99_ms, x.max_ms) for x in w] == [
        (0.0, 100, 10.0, 10.0, 10.0), (1.0, 100, 249.0, 298.0, 299.0)]
