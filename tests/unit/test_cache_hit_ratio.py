"""The measured cache-hit ratio: pure analysis of hand-built timelines, report.json, renderers."""

from __future__ import annotations

from typing import Any

import pytest

from harness.analysis.cache import cache_hit_ratio, mix_target, provider_counts
from harness.experiment.assemble import (
    RunFacts,
    analyse_run,
    analysis_spec,
    build_report,
    skipped_report,
)
from harness.experiment.model import Experiment, FaultStep, LoadSpec, MixSpec
from harness.report import render_html, render_markdown, validate_report
from harness.report.cache import cache_hit_cell, cache_hit_summary
from harness.timeline import Outcome, Provider, RequestRecord, Timeline

T0 = 5_000_000_000_000
S = 10**9


def _req(t: int, provider: Provider, *, status: int = 200,
         outcome: Outcome = Outcome.OK) -> RequestRecord:
    return RequestRecord(intended_ns=t, start_ns=t, end_ns=t + 2_000_000, outcome=outcome,
                         status=status, provider=provider,
                         error="" if status < 400 else f"HTTP{status}")


def _timeline(pattern: list[Provider], *, target: float | None = 0.5) -> Timeline:
    tl = Timeline()
    tl.add_event("load.mix", "load", t_ns=T0 - S, repeat="generated", target=target,
                 nonce="n1", questions=672)
    for i, p in enumerate(pattern):
        tl.add_request(_req(T0 + i * 10_000_000, p))
    return tl


def test_cache_share_of_answered_requests() -> None:
    pattern = [Provider.CACHE] * 30 + [Provider.PRIMARY] * 50 + [Provider.FALLBACK] * 15 + \
        [Provider.NONE] * 5
    tl = _timeline(pattern)
    # failures are not answers: they count neither as hits nor as misses
    tl.add_request(_req(T0, Provider.NONE, status=503, outcome=Outcome.ERROR))
    tl.add_request(_req(T0, Provider.NONE, status=0, outcome=Outcome.TIMEOUT))
    tl.add_request(_req(T0, Provider.NONE, status=0, outcome=Outcome.DROPPED))
    r = cache_hit_ratio(tl)
    assert r.requests == 100
    assert r.measured == pytest.approx(0.30)
    assert r.target == 0.5
    assert dict(r.providers) == {"primary": 50, "fallback": 15, "cache": 30, "none": 5}
    assert r.to_json() == {"measured": 0.3, "target": 0.5, "requests": 100,
                           "providers": {"primary": 50, "fallback": 15, "cache": 30, "none": 5}}
    every = provider_counts(tl, answered_only=False)
    assert sum(every.values()) == 102  # dropped requests were never sent
    assert every["none"] == 7


def test_window_selects_by_intended_time() -> None:
    tl = _timeline([Provider.CACHE] * 100 + [Provider.PRIMARY] * 100)
    first = cache_hit_ratio(tl, (T0, T0 + 100 * 10_000_000))
    second = cache_hit_ratio(tl, (T0 + 100 * 10_000_000, T0 + 10 * S))
    assert (first.measured, first.requests) == (1.0, 100)
    assert (second.measured, second.requests) == (0.0, 100)


def test_no_answers_and_no_mix_event() -> None:
    tl = Timeline()
    tl.add_request(_req(T0, Provider.NONE, status=503, outcome=Outcome.ERROR))
    r = cache_hit_ratio(tl)
    assert (r.measured, r.target, r.requests) == (None, None, 0)
    assert mix_target(tl) is None
    assert cache_hit_ratio(tl, target=0.25).target == 0.25


EXP = Experiment(name="mix", hypothesis="h",
                 load=LoadSpec(rate=100, warmup=1, mix=MixSpec(repeat="generated",
                                                               cache_hit_target=0.4)),
                 method=(FaultStep(fault="kill", target="service=app-az-a", start=1,
                                   duration=1),), recovery=1)


def _facts(**over: Any) -> RunFacts:
    from datetime import UTC, datetime

    base: dict[str, Any] = dict(run_id="r1", experiment=EXP, file="e.yaml", seed=1,
                                substrate="local", vector_mode="embedded",
                                started_at=datetime(2026, 12, 1, tzinfo=UTC), duration_s=5.0,
                                knobs={}, end_reason="completed")
    base.update(over)
    return RunFacts(**base)


def _run_timeline() -> Timeline:
    tl = Timeline()
    tl.add_event("load.mix", "load", t_ns=T0 - 3 * S, repeat="generated", target=0.4,
                 nonce="n1", questions=672)
    tl.add_event("phase", "runner", t_ns=T0 - 2 * S, name="steady", trial=0)
    tl.add_event("phase", "runner", t_ns=T0, name="method", trial=1)
    tl.add_event("phase", "runner", t_ns=T0 + 4 * S, name="done", trial=0)
    tl.add_event("run.end", "runner", t_ns=T0 + 4 * S, reason="completed")
    # steady state: all from the cache (outside the analysed window)
    for i in range(200):
        tl.add_request(_req(T0 - 2 * S + i * 10_000_000, Provider.CACHE))
    for i in range(400):  # method: 40 % cache
        tl.add_request(_req(T0 + i * 10_000_000,
                            Provider.CACHE if i % 5 < 2 else Provider.PRIMARY))
    return tl


def test_report_json_states_the_measured_ratio_of_the_judged_window() -> None:
    tl = _run_timeline()
    rep = build_report(_facts(), *analyse_run(tl, analysis_spec(EXP)))
    validate_report(rep)
    c = rep["cache_hit_ratio"]
    assert c["requests"] == 400
    assert c["measured"] == pytest.approx(0.4)
    assert c["target"] == 0.4
    md = render_markdown(rep)
    assert "Cache-hit ratio: 40.0 % measured (target 40.0 %) over 400 answered requests" in md
    html = render_html(rep, None)
    assert 'id="cache-hit-ratio"' in html and "40.0 %" in html
    assert cache_hit_cell(rep) == "40.0 % (target 40.0 %)"


def test_target_falls_back_to_the_experiment_and_skipped_reports_state_it() -> None:
    tl = _run_timeline()
    tl2 = Timeline()
    for e in tl.events:
        if e.kind != "load.mix":
            tl2.add_event(e.kind, e.source, t_ns=e.t_ns, **dict(e.attrs))
    for r in tl.requests:
        tl2.add_request(r)
    rep = build_report(_facts(), *analyse_run(tl2, analysis_spec(EXP)))
    assert rep["cache_hit_ratio"]["target"] == 0.4
    skipped = skipped_report(_facts(end_reason="skipped"), "needs docker", "docker")
    validate_report(skipped)
    assert skipped["cache_hit_ratio"] == {"measured": None, "target": 0.4, "requests": 0,
                                          "providers": {}}
    assert "n/a measured" in cache_hit_summary(skipped)


def test_schema_rejects_a_ratio_out_of_range() -> None:
    from harness.errors import ConfigError

    rep = build_report(_facts(), *analyse_run(_run_timeline(), analysis_spec(EXP)))
    rep["cache_hit_ratio"]["measured"] = 1.5
    with pytest.raises(ConfigError, match="cache_hit_ratio"):
        validate_report(rep)
    assert cache_hit_summary({}) == "" and cache_hit_cell(None) == "-"
