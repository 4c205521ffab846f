"""The fault-anchored judged window, and the property that padding cannot move the verdict."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis import AnalysisSpec, SLOSpec, Verdict, analyse
from harness.analysis.judged import judged_window
from harness.experiment import Experiment, FaultStep, LoadSpec
from harness.experiment.assemble import analyse_run, analysis_spec
from harness.experiment.model import AnalysisSettings
from harness.timeline import Outcome, Timeline

S = 10**9
T0 = 7_000 * S
LEAD, FAULT, RECOVERY = 2.0, 3.0, 2.0


def exp(lead: float = LEAD) -> Experiment:
    return Experiment(name="padded", hypothesis="h", load=LoadSpec(rate=1000, warmup=1),
                      recovery=RECOVERY, analysis=AnalysisSettings(lead=lead),
                      method=(FaultStep(fault="kill", target="service=app-az-a", start=1,
                                        duration=FAULT),))


def padded(*, pre_s: float, post_s: float, bad: int, rate: int = 1000) -> Timeline:
    """One trial: ``pre_s`` of clean load, the lead, a fault of FAULT s with ``bad`` bad requests
    spread over it, the recovery wait, then ``post_s`` more clean load before the trial ends."""
    step = S // rate
    before = round((pre_s + LEAD) * rate)  # requests on a grid anchored at the inject
    inject = T0 + before * step
    revert = inject + round(FAULT * S)
    after = round((FAULT + RECOVERY + post_s) * rate)
    end = inject + after * step
    tl = Timeline()
    ev = tl.add_event
    ev("run.start", "runner", t_ns=T0 - S, experiment="padded", seed=1, trial=0)
    ev("phase", "runner", t_ns=T0, name="method", trial=1)
    ev("fault.inject", "fault", t_ns=inject, fault_id="t1-f0-kill", name="kill",
       family="process", target="service=app-az-a", params={}, services=["app-az-a"])
    ev("fault.verified", "fault", t_ns=inject + 1, fault_id="t1-f0-kill", ok=True, detail="")
    ev("fault.revert", "fault", t_ns=revert, fault_id="t1-f0-kill")
    ev("fault.reverted", "fault", t_ns=revert + 1, fault_id="t1-f0-kill", ok=True, detail="")
    ev("phase", "runner", t_ns=revert, name="recovery", trial=1)
    ev("phase", "runner", t_ns=end, name="done", trial=0)
    ev("load.stop", "load", t_ns=end, sent=0, dropped=0, fell_behind=False)
    ev("run.end", "runner", t_ns=end + 1, reason="completed")
    intended = inject + np.arange(-before, after, dtype=np.int64) * step
    outcome = np.zeros(intended.shape[0], np.uint8)
    during = np.flatnonzero((intended >= inject) & (intended < revert))
    outcome[during[np.linspace(0, during.shape[0] - 1, bad).astype(int)] if bad else []] = \
        int(Outcome.ERROR)
    status = np.where(outcome == 0, 200, 503).astype(np.uint16)
    tl.add_request_columns(intended_ns=intended, start_ns=intended, end_ns=intended + 10**6,
                           outcome=outcome, status=status)
    return tl


def judged_slo(tl: Timeline, lead: float = LEAD) -> tuple[int, int, Verdict]:
    overall, per = analyse_run(tl, analysis_spec(exp(lead)))
    (_, trial), = per
    assert trial.slos[0].total == overall.slos[0].total
    s = overall.slos[0]
    return s.bad, s.total, s.verdict


# -- the window itself ---------------------------------------------------------------------------
def test_window_runs_from_lead_before_inject_to_recovery_after_revert() -> None:
    tl = padded(pre_s=10, post_s=20, bad=0)
    w = judged_window(tl.events, trial=1, start_ns=T0, end_ns=T0 + 100 * S, lead_s=LEAD,
                      recovery_s=RECOVERY)
    assert w.anchored and (w.start_ns - T0, w.end_ns - T0) == (10 * S, 17 * S)
    bad, total, _ = judged_slo(tl)
    assert (bad, total) == (0, 7_000)  # 7 s at 1,000 req/s, whatever the padding


def test_window_is_clipped_to_the_trial_and_open_ended_without_revert() -> None:
    tl = padded(pre_s=0, post_s=0, bad=0)
    w = judged_window(tl.events, trial=1, start_ns=T0 + S, end_ns=T0 + 6 * S, lead_s=30.0,
                      recovery_s=RECOVERY)
    assert (w.start_ns - T0, w.end_ns - T0) == (S, 6 * S)
    bare = Timeline()
    bare.add_event("fault.inject", "fault", t_ns=T0 + 5 * S, fault_id="a", name="kill",
                   family="process")
    w = judged_window(bare.events, trial=1, start_ns=T0, end_ns=T0 + 50 * S, lead_s=1.0,
                      recovery_s=RECOVERY)
    assert (w.start_ns - T0, w.end_ns - T0, w.last_revert_ns) == (4 * S, 50 * S, None)


def test_trial_without_faults_is_judged_whole() -> None:
    tl = Timeline()
    w = judged_window(tl.events, trial=3, start_ns=T0, end_ns=T0 + 9 * S, lead_s=LEAD,
                      recovery_s=RECOVERY)
    assert not w.anchored and (w.start_ns, w.end_ns) == (T0, T0 + 9 * S)
    with pytest.raises(ValueError, match="lead_s"):
        judged_window(tl.events, trial=1, start_ns=0, end_ns=1, lead_s=-1, recovery_s=None)


def test_an_unanchored_run_would_let_padding_turn_fail_into_pass() -> None:
    """Why the window exists: over the whole trial, enough clean padding hides 20 errors."""
    short, long = padded(pre_s=0, post_s=0, bad=20), padded(pre_s=0, post_s=600, bad=20)
    spec = AnalysisSpec(slos=[SLOSpec(name="availability", objective=0.9999)])
    whole = [analyse(tl, spec, window=(T0, T0 + 10**15)).slos[0].verdict for tl in (short, long)]
    assert whole == [Verdict.FAIL, Verdict.PASS]
    assert judged_slo(short)[2] is judged_slo(long)[2] is Verdict.FAIL


# -- the property -------------------------------------------------------------------------------
@given(pre=st.floats(0, 60), post=st.floats(0, 600), bad=st.integers(0, 40))
@settings(max_examples=30, deadline=None)
def test_clean_padding_before_or_after_never_changes_the_judged_verdict(
        pre: float, post: float, bad: int) -> None:
    base = judged_slo(padded(pre_s=0, post_s=0, bad=bad))
    bad_n, total, verdict = judged_slo(padded(pre_s=pre, post_s=post, bad=bad))
    assert (bad_n, total, verdict) == base  # the same requests, so the same verdict
    if base[2] is Verdict.FAIL:
        assert verdict is not Verdict.PASS


def test_report_states_the_judged_window() -> None:
    from datetime import UTC, datetime

    from harness.experiment.assemble import RunFacts, build_report
    from harness.report import validate_report

    tl = padded(pre_s=5, post_s=5, bad=3)
    e = exp()
    overall, per = analyse_run(tl, analysis_spec(e))
    rep = build_report(RunFacts(run_id="r", experiment=e, file=None, seed=1, substrate="local",
                                vector_mode="embedded", started_at=datetime(2026, 12, 1, tzinfo=UTC),
                                duration_s=20.0, knobs={}, end_reason="completed"),
                       overall, per)
    validate_report(rep)
    jw = rep["judged_window"]
    assert (jw["lead_s"], jw["recovery_s"], jw["requests"]) == (LEAD, RECOVERY, 7_000)
    (t,) = jw["trials"]
    assert (t["start_s"], t["end_s"], t["anchored"]) == (pytest.approx(6.0), pytest.approx(13.0),
                                                          True)
    assert rep["slos"][0]["total"] == 7_000


def test_quick_mode_scales_the_lead_with_every_other_time() -> None:
    assert exp(lead=30.0).with_overrides(duration_scale=0.25).analysis.lead == 7.5


def test_planned_judged_requests_for_sizing() -> None:
    e = exp()  # fault at 1 s for 3 s, lead 2 s (clipped at the trial start), recovery 2 s
    assert (e.trial_s, e.judged_s) == (6.0, 6.0)
    long = e.with_overrides(duration_scale=None).model_copy(
        update={"load": LoadSpec(rate=1000, warmup=1, duration=600)})
    assert long.judged_s == 6.0 and long.planned_judged_requests == 6_000  # padding not counted
    assert long.planned_requests == 600_000
