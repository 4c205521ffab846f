"""Invariants of analyse() over random synthetic runs (Hypothesis)."""

from __future__ import annotations

import json
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis import AnalysisSpec, SLOSpec, Verdict, analyse
from tests.support.synthetic import Outage, SyntheticFault, synthetic_timeline

outages = st.builds(
    Outage, start_s=st.floats(0, 25), end_s=st.floats(0, 30),
    mode=st.sampled_from(["stall", "error", "http500", "degraded", "slow"]),
    fraction=st.floats(0.05, 1.0), extra_ms=st.floats(0, 3000))
faults = st.tuples(st.floats(0, 25), st.floats(0, 10), st.sampled_from([True, False, None]))


@given(outs=st.lists(outages, max_size=3), fs=st.lists(faults, max_size=3),
       thr=st.sampled_from([None, 200.0, 1000.0]), degraded_ok=st.booleans(),
       poisson=st.booleans(), seed=st.integers(0, 10))
@settings(max_examples=40, deadline=None)
def test_invariants(outs: list[Outage], fs: list[tuple], thr: float | None, degraded_ok: bool,
                    poisson: bool, seed: int) -> None:
    fl = [SyntheticFault(fault_id=f"f{i}", name=f"fault-{i}", inject_s=t, revert_s=t + d,
                         landed=landed) for i, (t, d, landed) in enumerate(fs)]
    tl = synthetic_timeline(duration_s=30, rate=100, poisson=poisson, seed=seed, outages=outs,
                            faults=fl)
    spec = AnalysisSpec(slos=[SLOSpec(name="a", objective=0.999, latency_threshold_ms=thr,
                                      degraded_is_good=degraded_ok)])
    a = analyse(tl, spec)
    s = a.slos[0]
    # every bad request is attributed to exactly one fault or to the background
    assert sum(f.bad_requests for f in a.faults) + a.unattributed_bad == s.bad
    assert s.bad_fraction is not None and s.lower <= s.bad_fraction <= s.upper
    # impact windows are disjoint, separated by more than the gap tolerance (1 s)
    spans = sorted((w[0], w[1]) for f in a.faults for w in f.windows_s)
    assert all(b0 - a1 > 1.0 - 1e-9 for (_, a1), (b0, _) in pairwise(spans))
    for f in a.faults:
        assert f.failover_s >= 0.0 and (f.failback_s or 0.0) >= 0.0
        assert f.impact_s >= 0.0 and (f.error_seconds or 0.0) >= 0.0
    if any(landed is not True for _, _, landed in fs):
        assert a.verdict is not Verdict.PASS
    assert sum(w.bad for w in a.burn.windows) == s.bad
    json.dumps(a.to_json(), allow_nan=False)
