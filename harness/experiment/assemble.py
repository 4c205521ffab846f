"""Turn analyses of a run into a report.json v1 dict (pure: no I/O, no clock).

The overall analysis covers every trial's method and recovery; one analysis per trial gives the
per-trial verdicts and the distributions of failover times over trials. Also used by
``chaos-harness recheck``, which re-analyses a saved timeline with a new objective.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.analysis.exercise import ExerciseMinimum
from harness.analysis.judged import JudgedWindow, judged_window
from harness.analysis.projection import project_annual
from harness.analysis.run import RunAnalysis, analyse
from harness.analysis.spec import AnalysisSpec, SLOSpec
from harness.analysis.trials import distributions_json
from harness.analysis.verdict import Verdict, combine
from harness.analysis.writes import WritesReport, check_writes
from harness.experiment.incidents import fault_anchored_json
from harness.experiment.model import Experiment
from harness.load.mix import DEFAULT_CACHE_HIT_TARGET
from harness.timeline import Timeline

__all__ = [
    "RunFacts",
    "TrialWindow",
    "analyse_run",
    "analysis_spec",
    "build_report",
    "judged_windows",
    "skipped_report",
    "trial_windows",
    "writes_report",
]

_GENERATORS = {"open-loop": "openloop", "openloop": "openloop", "locust": "locust"}


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialWindow:
    trial: int
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    """What the runner knows that the timeline does not say by itself."""

    run_id: str
    experiment: Experiment
    file: str | None
    seed: int
    substrate: str
    vector_mode: str
    started_at: datetime
    duration_s: float
    knobs: Mapping[str, Any]
    end_reason: str
    extra_reasons: tuple[str, ...] = ()
    steady_state: Mapping[str, Any] | None = None
    steady_state_after: Mapping[str, Any] | None = None
    stop_condition: Mapping[str, Any] | None = None
    windows: tuple[TrialWindow, ...] = field(default=())


def analysis_spec(exp: Experiment, *, objective: float | None = None,
                  confidence: float | None = None) -> AnalysisSpec:
    slos = tuple(SLOSpec(name=s.name, objective=objective if objective is not None and i == 0
                         else s.objective, latency_threshold_ms=s.latency_threshold_ms,
                         degraded_is_good=s.degraded_is_good)
                 for i, s in enumerate(exp.steady_state.slos))
    minimums = {f"f{i}-{step.fault}": ExerciseMinimum(**step.min_exercise.model_dump())
                for i, step in enumerate(exp.method)}
    return AnalysisSpec(slos=slos, confidence=confidence or exp.confidence,
                        min_exercise=minimums, lead_s=exp.analysis.lead,
                        judged_recovery_s=exp.recovery, recovery_attribution_s=exp.recovery)


def trial_windows(tl: Timeline) -> tuple[TrialWindow, ...]:
    """Trial windows from the runner's ``phase`` events (method start -> next phase start)."""
    phases = tl.events_of("phase")
    out: list[TrialWindow] = []
    for i, e in enumerate(phases):
        if e.get("name") != "method":
            continue
        end = next((p.t_ns for p in phases[i + 1:]
                    if p.get("name") in ("method", "steady_after", "done")), None)
        if end is None:
            ends = tl.events_of("run.end")
            end = ends[-1].t_ns if ends else tl.events[-1].t_ns
        out.append(TrialWindow(trial=int(e.get("trial", len(out) + 1)), start_ns=e.t_ns,
                               end_ns=end))
    return tuple(out)


def analyse_run(tl: Timeline, spec: AnalysisSpec
                ) -> tuple[RunAnalysis, list[tuple[TrialWindow, RunAnalysis]]]:
    """The overall analysis (all trials, or the whole run when no method ran) and per trial."""
    windows = trial_windows(tl)
    if not windows:  # the method never ran: judge what there is, warm-up excluded
        steady = [e for e in tl.events_of("phase") if e.get("name") == "steady"]
        window = (steady[0].t_ns, tl.events[-1].t_ns + 1) if steady else None
        return analyse(tl, spec, window=window), []
    ends = tl.events_of("run.end")
    after = [e.t_ns for e in tl.events_of("phase") if e.get("name") == "steady_after"]
    # the steady-state check after recovery is judged on its own (steady_state_after)
    end = after[-1] if after else (ends[-1].t_ns if ends else windows[-1].end_ns) + 1
    judged = judged_windows(tl, windows, spec)
    overall = analyse(tl, spec, window=(windows[0].start_ns, end),
                      judged=[j.span for j in judged])
    per = [(w, analyse(tl, spec, window=(w.start_ns, w.end_ns), judged=[j.span]))
           for w, j in zip(windows, judged, strict=True)]
    return overall, per


def judged_windows(tl: Timeline, windows: Sequence[TrialWindow],
                   spec: AnalysisSpec) -> tuple[JudgedWindow, ...]:
    """Each trial's fault-anchored judged window (:mod:`harness.analysis.judged`)."""
    events = tl.events
    return tuple(judged_window(events, trial=w.trial, start_ns=w.start_ns, end_ns=w.end_ns,
                               lead_s=spec.lead_s, recovery_s=spec.judged_recovery_s)
                 for w in windows)
def writes_report(tl: Timeline, exp: Experiment, spec: AnalysisSpec) -> WritesReport | None:
    """The acknowledged-write checks of a run (None when it sent no write)."""
    w = exp.load.writes
    return check_writes(tl.events, grace_ns=round(spec.impact_grace_s * 1e9),
                        require_no_loss=bool(w and w.require_no_loss))


def _fault_json(f: Mapping[str, Any], trial: int) -> dict[str, Any]:
    out = dict(f)
    out["trial"] = trial
    if out.get("bad_requests") is None:
        out["bad_requests"] = 0
    return out


def _generator(a: Mapping[str, Any], exp: Experiment) -> dict[str, Any]:
    g = dict(a)
    g["kind"] = _GENERATORS.get(str(g.get("kind")), exp.load.generator if g.get("sent")
                                else "none")
    # load.start precedes the analysed window, so the configured rate comes from the plan
    g["rate"] = float(g["rate"]) if g.get("rate") else exp.load.rate
    return g


def _verdict(overall: RunAnalysis, facts: RunFacts) -> tuple[str, list[str]]:
    extra = [r for r in facts.extra_reasons if r]
    verdict = overall.verdict
    if facts.end_reason == "steady-state-failed":
        # The method never ran: whatever the SLO says about the steady window, the experiment
        # proved nothing about the faults.
        verdict = Verdict.INCONCLUSIVE
    elif extra:
        verdict = combine([verdict, Verdict.INCONCLUSIVE])
    reasons = list(overall.reasons) if verdict is Verdict.PASS or not extra else \
        [*extra, *(r for r in overall.reasons)]
    return verdict.value, reasons


def _header(facts: RunFacts) -> dict[str, Any]:
    exp = facts.experiment
    overrides = dict(exp.stack.knobs)
    return {
        "schema": "chaos-harness/report", "version": 1, "run_id": facts.run_id,
        "experiment": {"name": exp.name, "description": exp.description,
                       "hypothesis": exp.hypothesis, "file": facts.file,
                       "tags": list(exp.tags)},
        "seed": facts.seed, "substrate": facts.substrate, "vector_mode": facts.vector_mode,
        "started_at": facts.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round(max(facts.duration_s, 0.0), 3), "knobs": dict(facts.knobs),
        "knob_overrides": overrides, "end_reason": facts.end_reason,
        "stop_condition": dict(facts.stop_condition) if facts.stop_condition else None,
        "steady_state": dict(facts.steady_state) if facts.steady_state else None,
        "steady_state_after": _steady_after(facts),
        "planned": {"trial_s": exp.trial_s, "planned_s": exp.planned_s,
                    "planned_requests": exp.planned_requests,
                    "planned_judged_requests": exp.planned_judged_requests, "trials": exp.trials,
                    "rate": exp.load.rate},
        "files": {"timeline": "timeline.zip", "markdown": "report.md", "html": "report.html",
                  "junit": "junit.xml"},
    }


def _steady_after(facts: RunFacts) -> dict[str, Any] | None:
    s = facts.steady_state_after
    if not s:
        return None
    return {"ok": bool(s.get("ok")), "detail": str(s.get("detail", "")),
            "window_s": float(s.get("window_s", 0.0)), "total": int(s.get("total", 0)),
            "bad": int(s.get("bad", 0))}


def build_report(facts: RunFacts, overall: RunAnalysis,
                 per_trial: Sequence[tuple[TrialWindow, RunAnalysis]]) -> dict[str, Any]:
    a = overall.to_json()
    verdict, reasons = _verdict(overall, facts)
    trials, faults = [], []
    for w, t in per_trial:
        tj = t.to_json()
        tf = [_fault_json(f, w.trial) for f in tj["faults"]]
        faults.extend(tf)
        trials.append({"trial": w.trial, "started_at_s": (w.start_ns - overall.origin_ns) / 1e9,
                       "ended_at_s": (w.end_ns - overall.origin_ns) / 1e9,
                       "verdict": tj["verdict"], "verdict_reasons": tj["verdict_reasons"],
                       "slos": tj["slos"], "faults": tf})
    if not per_trial:
        faults = [_fault_json(f, 1) for f in a["faults"]]
    rep = _header(facts)
    rep.update({
        "verdict": verdict, "verdict_reasons": reasons, "slos": a["slos"],
        "error_budget": a["error_budget"], "burn": a["burn"], "latency_ms": a["latency_ms"],
        "latency_windows": a.get("latency_windows", []),
        "generator": _generator(a["generator"], facts.experiment), "faults": faults,
        "trials": trials,
        "distributions": distributions_json([t for _, t in per_trial]),
        "projection": _projection([t for _, t in per_trial]), "skipped": None,
        "requests": a.get("requests"),
        "unattributed_bad_requests": a.get("unattributed_bad_requests"),
        "analysis": a.get("analysis"),
        "cache_hit_ratio": _cache_hit(a.get("cache_hit_ratio"), facts.experiment),
    })
    rep.update(fault_anchored_json(facts.experiment, overall, per_trial))
    return rep


def _mix_target(exp: Experiment) -> float | None:
    m = exp.load.mix
    if m.repeat == "generated":
        return m.cache_hit_target if m.cache_hit_target is not None else DEFAULT_CACHE_HIT_TARGET
    return 0.0 if m.repeat == "unique" else None


def _cache_hit(measured: Mapping[str, Any] | None, exp: Experiment) -> dict[str, Any]:
    """report.json ``cache_hit_ratio``: measured from X-Provider; the target from the run's
    ``load.mix`` event, else from the experiment (a timeline written before the event)."""
    out = dict(measured) if measured else {"measured": None, "target": None, "requests": 0,
                                           "providers": {}}
    if out.get("target") is None:
        out["target"] = _mix_target(exp)
    return out


def _projection(trials: Sequence[RunAnalysis]) -> dict[str, Any] | None:
    """A year projected from the trials with the default fault frequencies (editable by the
    game day / gate); None when nothing was measured."""
    if not trials or not any(t.requests for t in trials):
        return None
    return project_annual(list(trials)).to_json()


def skipped_report(facts: RunFacts, reason: str, capability: str | None = None
                   ) -> dict[str, Any]:
    """A report for an experiment that never started load (e.g. an unsupported fault)."""
    exp = facts.experiment
    rep = _header(facts)
    slos = [{"name": s.name, "objective": s.objective,
             "latency_threshold_ms": s.latency_threshold_ms,
             "degraded_is_good": s.degraded_is_good, "good": 0, "total": 0, "bad": 0,
             "bad_fraction": None, "lower": None, "upper": None, "confidence": exp.confidence,
             "verdict": "INCONCLUSIVE", "needed_requests": None}
            for s in exp.steady_state.slos]
    rep.update({
        "verdict": "INCONCLUSIVE", "verdict_reasons": [f"skipped: {reason}"], "slos": slos,
        "error_budget": {"objective": exp.steady_state.slos[0].objective, "allowed_bad": 0.0,
                         "bad": 0, "consumed": None},
        "burn": {"windows": [], "alerts": []},
        "latency_ms": {"p50": None, "p90": None, "p99": None, "p999": None, "max": None},
        "generator": {"kind": "none", "rate": exp.load.rate, "sent": 0, "dropped": 0,
                      "fell_behind": False, "lateness_p99_ms": None, "max_lateness_ms": None},
        "faults": [], "trials": [], "distributions": {}, "projection": None,
        "skipped": {"reason": reason, "capability": capability},
        "cache_hit_ratio": _cache_hit(None, exp),
    })
    rep["files"]["timeline"] = None
    return rep
