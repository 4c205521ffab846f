"""From a hand-built timeline to report.json: trials, distributions, verdict rules (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from harness.experiment import Experiment, FaultStep, LoadSpec, SteadyState
from harness.experiment.assemble import (
    RunFacts,
    analyse_run,
    analysis_spec,
    build_report,
    skipped_report,
    trial_windows,
)
from harness.report import validate_report
from harness.timeline import Outcome, RequestRecord, Timeline

S = 10**9
T0 = 5_000 * S

EXP = Experiment(name="kill-twice", hypothesis="h", load=LoadSpec(rate=100, warmup=2),
                 steady_state=SteadyState(duration=3), trials=2, recovery=5,
                 method=(FaultStep(fault="kill", target="service=app-az-a", start=2,
                                   duration=4),))


def timeline(*, bad_in_trial: dict[int, int], steady_ok: bool = True) -> Timeline:
    tl = Timeline()
    ev = tl.add_event
    ev("run.start", "runner", t_ns=T0, experiment="kill-twice", seed=1, trial=0)
    ev("load.start", "load", t_ns=T0, generator="open-loop", rate=100.0)
    ev("phase", "runner", t_ns=T0, name="warmup", trial=0)
    ev("phase", "runner", t_ns=T0 + 2 * S, name="steady", trial=0)
    ev("steady_state", "runner", t_ns=T0 + 5 * S, phase="before", ok=steady_ok, detail="x")
    end = 5
    if steady_ok:
        for trial, start in ((1, 5), (2, 16)):
            ev("phase", "runner", t_ns=T0 + start * S, name="method", trial=trial)
            fid = f"t{trial}-f0-kill"
            ev("fault.inject", "fault", t_ns=T0 + (start + 2) * S, fault_id=fid, name="kill",
               family="process", target="service=app-az-a", params={}, services=["app-az-a"])
            ev("fault.verified", "fault", t_ns=T0 + (start + 2) * S + 10**8, fault_id=fid,
               ok=True, detail="gone")
            for phase, at, stot in (("inject", start + 2.2, 50.0), ("revert", start + 5.9, 90.0)):
                ev("exercise.sample", "runner", t_ns=T0 + round(at * S), fault_id=fid,
                   phase=phase, counters={"haproxy.app.app-az-a.stot": stot}, rule="gated",
                   wanted=["haproxy.app.app-az-a.stot"], errors={}, probes={})
            ev("obs.state", "haproxy", t_ns=T0 + (start + 2) * S + trial * 3 * 10**8,
               subject="haproxy/app/app-az-a", state="DOWN", healthy=False)
            ev("fault.revert", "fault", t_ns=T0 + (start + 6) * S, fault_id=fid)
            ev("fault.reverted", "fault", t_ns=T0 + (start + 6) * S + 10**8, fault_id=fid,
               ok=True, detail="back")
            ev("obs.state", "haproxy", t_ns=T0 + (start + 7) * S,
               subject="haproxy/app/app-az-a", state="UP", healthy=True)
            ev("phase", "runner", t_ns=T0 + (start + 6) * S, name="recovery", trial=trial)
        end = 27
    ev("phase", "runner", t_ns=T0 + end * S, name="done", trial=0)
    ev("load.stop", "load", t_ns=T0 + end * S, sent=end * 100, dropped=0, fell_behind=False)
    ev("run.end", "runner", t_ns=T0 + end * S + 1, reason="completed")
    for i in range(end * 100):
        t = T0 + i * 10**7
        trial = 1 if 7 * S <= t - T0 < 8 * S else 2 if 18 * S <= t - T0 < 19 * S else 0
        bad = trial and (i % 100) < bad_in_trial.get(trial, 0)
        bad = bad or (not steady_ok and 3 * S <= t - T0 < 4 * S and i % 10 == 0)
        tl.add_request(RequestRecord(intended_ns=t, start_ns=t, end_ns=t + 5 * 10**6,
                                     outcome=Outcome.ERROR if bad else Outcome.OK,
                                     status=503 if bad else 200))
    return tl


def facts(**over: Any) -> RunFacts:
    base: dict[str, Any] = dict(
        run_id="r1", experiment=EXP, file="e.yaml", seed=1, substrate="local",
        vector_mode="embedded", started_at=datetime(2026, 11, 22, tzinfo=UTC), duration_s=27.0,
        knobs={"haproxy.retries": 3}, end_reason="completed")
    base.update(over)
    return RunFacts(**base)


def test_trial_windows_from_phase_events() -> None:
    w = trial_windows(timeline(bad_in_trial={}))
    assert [(x.trial, (x.start_ns - T0) // S, (x.end_ns - T0) // S) for x in w] == [
        (1, 5, 16), (2, 16, 27)]


def test_report_with_two_trials_and_distributions() -> None:
    tl = timeline(bad_in_trial={1: 3, 2: 7})
    overall, per = analyse_run(tl, analysis_spec(EXP))
    rep = build_report(facts(), overall, per)
    validate_report(rep)
    assert rep["verdict"] == "FAIL"
    assert [t["trial"] for t in rep["trials"]] == [1, 2]
    assert [f["id"] for f in rep["faults"]] == ["t1-f0-kill", "t2-f0-kill"]
    assert [f["trial"] for f in rep["faults"]] == [1, 2]
    assert [f["bad_requests"] for f in rep["faults"]] == [3, 7]
    d = rep["distributions"]["kill"]["bad_requests"]
    assert (d["min"], d["max"]) == (3, 7)
    det = rep["distributions"]["kill"]["detect_s"]
    assert abs(det["min"] - 0.3) < 0.01 and abs(det["max"] - 0.6) < 0.01
    assert rep["slos"][0]["total"] == 2200 and rep["slos"][0]["bad"] == 10
    assert rep["generator"]["rate"] == 100.0 and rep["generator"]["kind"] == "openloop"
    assert rep["projection"]["meets"] in ("yes", "no", "uncertain")
    assert rep["projection"]["kinds"][0]["name"] == "kill"


def test_steady_state_failure_is_inconclusive_even_when_slo_fails() -> None:
    tl = timeline(bad_in_trial={}, steady_ok=False)
    overall, per = analyse_run(tl, analysis_spec(EXP))
    assert per == [] and overall.slos[0].bad == 10  # warm-up excluded, steady window judged
    rep = build_report(facts(end_reason="steady-state-failed",
                             extra_reasons=("steady-state check failed",)), overall, per)
    validate_report(rep)
    assert rep["verdict"] == "INCONCLUSIVE"
    assert rep["verdict_reasons"][0] == "steady-state check failed"


def test_interrupted_run_is_never_pass() -> None:
    tl = timeline(bad_in_trial={})
    overall, per = analyse_run(tl, analysis_spec(EXP))
    rep = build_report(facts(end_reason="interrupted", extra_reasons=("interrupted",)),
                       overall, per)
    assert rep["verdict"] == "INCONCLUSIVE" and rep["verdict_reasons"][0] == "interrupted"


def test_recheck_objective_changes_verdict() -> None:
    tl = timeline(bad_in_trial={1: 1})
    strict = build_report(facts(), *analyse_run(tl, analysis_spec(EXP)))
    loose = build_report(facts(), *analyse_run(tl, analysis_spec(EXP, objective=0.99)))
    assert strict["slos"][0]["objective"] == 0.9999 and loose["slos"][0]["objective"] == 0.99
    assert loose["slos"][0]["verdict"] == "PASS" and strict["slos"][0]["verdict"] != "PASS"


def test_skipped_report_is_valid() -> None:
    rep = skipped_report(facts(end_reason="skipped"), "needs QdrantCluster", "QdrantCluster")
    validate_report(rep)
    assert rep["skipped"] == {"reason": "needs QdrantCluster", "capability": "QdrantCluster"}
    assert rep["files"]["timeline"] is None and rep["generator"]["sent"] == 0


def test_recheck_cli_rewrites_the_verdict(tmp_path: Any, capsys: Any) -> None:
    import json

    from harness.cli import EXIT, main
    from harness.report import write_report

    tl = timeline(bad_in_trial={1: 1})
    tl.meta["experiment_model"] = EXP.model_dump(mode="json")
    rep = build_report(facts(), *analyse_run(tl, analysis_spec(EXP)))
    write_report(rep, directory=tmp_path, timeline=tl)
    before = (tmp_path / "timeline.zip").read_bytes()
    assert main(["recheck", str(tmp_path)]) == EXIT["inconclusive"]
    assert "INCONCLUSIVE" in capsys.readouterr().out
    assert main(["recheck", str(tmp_path), "--objective", "0.99", "--write"]) == EXIT["ok"]
    out = json.loads((tmp_path / "report.json").read_text())
    assert out["verdict"] == "PASS" and out["rechecked"]["previous_verdict"] == "INCONCLUSIVE"
    assert out["slos"][0]["objective"] == 0.99
    assert "PASS" in (tmp_path / "report.html").read_text()
    assert (tmp_path / "timeline.zip").read_bytes() == before  # never rewritten
    assert main(["recheck", str(tmp_path), "--latency-ms", "1"]) == EXIT["fail"]
