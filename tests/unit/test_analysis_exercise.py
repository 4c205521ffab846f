"""Exercise accounting from hand-built timelines: deltas of outside counters, requests through
the faulted part, the default minimum, the verdict, steady state after, heal failures, the model,
the schemas and every report format."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from pydantic import ValidationError

from harness.analysis import analyse
from harness.analysis.exercise import ExerciseMinimum, fault_exercise, step_key
from harness.analysis.impact import parse_faults
from harness.analysis.spec import AnalysisSpec, SLOSpec
from harness.experiment import Experiment, FaultStep
from harness.experiment.assemble import analysis_spec
from harness.experiment.jsonschema import experiment_schema
from harness.report import render_html, render_junit, render_markdown, validate_report
from harness.timeline import EVENT_KINDS, Provider, Timeline

S = 10**9
T0 = 1_000 * S
SPEC = AnalysisSpec(slos=(SLOSpec(name="availability", objective=0.99),))


def run(*, seconds: int = 40, rate: int = 100, providers: Any = None,
        fault: dict[str, Any] | None = None, samples: tuple[dict, dict] | None = None,
        extra: Any = ()) -> Timeline:
    """Load 0..seconds at ``rate``; a fault on [10 s, 30 s] with exercise samples at 10.1 and
    29.9 s. ``providers(i, t_s) -> Provider`` sets each request's X-Provider."""
    tl = Timeline()
    ev = tl.add_event
    ev("run.start", "runner", t_ns=T0, experiment="x", seed=1, trial=0)
    ev("load.start", "load", t_ns=T0, generator="open-loop", rate=float(rate))
    f = {"fault_id": "t1-f0-provider-5xx", "name": "provider-5xx", "family": "provider",
         "target": None, "params": {"provider": "primary"}, "services": ["provider-primary"],
         **(fault or {})}
    ev("fault.inject", "fault", t_ns=T0 + 10 * S, **f)
    ev("fault.verified", "fault", t_ns=T0 + 10 * S + 1000, fault_id=f["fault_id"], ok=True,
       detail="on")
    if samples is not None:
        for (phase, at), attrs in zip((("inject", 10.1), ("revert", 29.9)), samples,
                                      strict=True):
            ev("exercise.sample", "runner", t_ns=T0 + round(at * S), fault_id=f["fault_id"],
               phase=phase, **{"rule": "llm", "errors": {}, "probes": {}, **attrs})
    ev("fault.revert", "fault", t_ns=T0 + 30 * S, fault_id=f["fault_id"])
    ev("fault.reverted", "fault", t_ns=T0 + 30 * S + 1000, fault_id=f["fault_id"], ok=True,
       detail="off")
    for kind, attrs in extra:
        ev(kind, "runner", t_ns=T0 + 35 * S, **attrs)
    n = seconds * rate
    step = S // rate
    pick = providers or (lambda i, t: Provider.CACHE)
    tl.add_request_columns(
        intended_ns=[T0 + i * step for i in range(n)],
        start_ns=[T0 + i * step for i in range(n)],
        end_ns=[T0 + i * step + 5_000_000 for i in range(n)], outcome=[0] * n,
        status=[200] * n, provider=[int(pick(i, i / rate)) for i in range(n)],
        replica=["app-az-b"] * n)
    ev("load.stop", "load", t_ns=T0 + seconds * S, sent=n, dropped=0, fell_behind=False)
    ev("run.end", "runner", t_ns=T0 + seconds * S + 1, reason="completed")
    return tl


def provider_samples(before: float, after: float, *, wanted: str = "provider.primary.requests"
                     ) -> tuple[dict, dict]:
    return ({"counters": {wanted: before}, "wanted": [wanted]},
            {"counters": {wanted: after}, "wanted": [wanted]})


def every_third(i: int, t: float) -> Provider:
    return Provider.PRIMARY if i % 3 == 0 else Provider.FALLBACK if i % 3 == 1 else \
        Provider.CACHE


def test_provider_fault_counts_llm_requests_and_simulator_calls() -> None:
    tl = run(providers=every_third, samples=provider_samples(1000, 1600))
    a = analyse(tl, SPEC)
    ex = a.faults[0].exercise
    assert ex is not None
    # 10.1 s .. 29.9 s at 100 req/s = 1980 requests, 2 of every 3 needed a provider
    assert ex.requests == 1320
    assert ex.upstream_calls == 600 and ex.bytes is None
    assert ex.counters == {"provider.primary.requests": 600.0}
    assert ex.minimum == {"requests": 99, "upstream_calls": 1, "bytes": None}  # 5 % of 1980
    assert ex.ok and ex.rule == "llm"
    assert a.verdict.value == "PASS"
    j = a.faults[0].to_json()["exercise"]
    assert j["requests"] == 1320 and j["ok"] is True
    assert "exercised by 1320 requests, 600 upstream calls" in j["detail"]


def test_cache_answering_everything_is_inconclusive_and_says_what_to_change() -> None:
    tl = run(samples=provider_samples(1000, 1000))  # every answer from the cache
    a = analyse(tl, SPEC)
    ex = a.faults[0].exercise
    assert ex is not None and not ex.ok and ex.requests == 0 and ex.upstream_calls == 0
    assert a.verdict.value == "INCONCLUSIVE"
    reason = next(r for r in a.reasons if "not exercised" in r)
    assert "LLM cache" in reason and "load.mix.repeat" in reason and "load.rate" in reason


def test_a_few_provider_requests_are_below_the_default_minimum() -> None:
    tl = run(providers=lambda i, t: Provider.PRIMARY if i % 200 == 0 else Provider.CACHE,
             samples=provider_samples(0, 10))
    ex = analyse(tl, SPEC).faults[0].exercise
    # requests 1010..2989 are in the window: 9 of them went to the primary
    assert ex is not None and ex.requests == 9 and ex.minimum["requests"] == 99
    assert not ex.ok and "9 requests < minimum 99" in ex.detail


def test_stated_minimum_replaces_the_default_and_zero_switches_it_off() -> None:
    tl = run(providers=lambda i, t: Provider.PRIMARY if i % 200 == 0 else Provider.CACHE,
             samples=provider_samples(0, 10))
    spec = AnalysisSpec(slos=SPEC.slos, min_exercise={
        "f0-provider-5xx": ExerciseMinimum(requests=5, upstream_calls=0)})
    ex = analyse(tl, spec).faults[0].exercise
    assert ex is not None and ex.ok and ex.minimum["requests"] == 5
    spec = AnalysisSpec(slos=SPEC.slos, min_exercise={
        "f0-provider-5xx": ExerciseMinimum(requests=0, upstream_calls=11)})
    ex = analyse(tl, spec).faults[0].exercise
    assert ex is not None and not ex.ok and "10 upstream calls < minimum 11" in ex.detail


def test_toxic_on_a_proxy_without_traffic_is_not_exercised() -> None:
    wanted = "toxiproxy.redis-az-a.bytes"
    fault = {"fault_id": "t1-f0-latency", "name": "latency", "family": "network",
             "params": {"proxy": "redis-az-a", "latency_ms": 200.0, "jitter_ms": 0.0,
                        "toxicity": 1.0}, "services": ["redis-az-a"]}
    samples = ({"counters": {wanted: 5000.0}, "wanted": [wanted], "rule": "gated"},
               {"counters": {wanted: 5000.0}, "wanted": [wanted], "rule": "gated"})
    a = analyse(run(fault=fault, samples=samples), SPEC)
    ex = a.faults[0].exercise
    assert ex is not None and ex.bytes == 0 and ex.requests == 0 and not ex.ok
    assert a.verdict.value == "INCONCLUSIVE"
    assert any("app.redis_via_toxiproxy" in r for r in a.reasons)


def test_latency_toxic_whose_probe_shows_no_delay_is_not_exercised() -> None:
    wanted = "toxiproxy.qdrant.bytes"
    fault = {"fault_id": "t1-f0-latency", "name": "latency", "family": "network",
             "params": {"proxy": "qdrant", "latency_ms": 300.0, "jitter_ms": 0.0,
                        "toxicity": 1.0}, "services": ["qdrant"]}

    def samples(ms: float) -> tuple[dict, dict]:
        return ({"counters": {wanted: 0.0}, "wanted": [wanted], "rule": "gated",
                 "probes": {"qdrant": ms}},
                {"counters": {wanted: 9e5}, "wanted": [wanted], "rule": "gated",
                 "probes": {"qdrant": ms}})

    ex = analyse(run(fault=fault, samples=samples(2.0)), SPEC).faults[0].exercise
    assert ex is not None and ex.bytes == 900_000 and not ex.ok
    assert "did not delay traffic" in ex.detail
    ex = analyse(run(fault=fault, samples=samples(301.5)), SPEC).faults[0].exercise
    assert ex is not None and ex.ok and ex.probes_ms["qdrant"] == 301.5


def test_app_counters_sum_over_replicas_read_both_times() -> None:
    fault = {"fault_id": "t1-f0-redis-master-loss", "name": "redis-master-loss",
             "family": "datastore", "params": {"mode": "kill"}, "services": ["redis-az-a"]}
    wanted = ["app.cache.reads", "app.cache.writes"]
    first = {"app.app-az-a.cache.reads": 10.0, "app.app-az-b.cache.reads": 20.0,
             "app.app-az-c.cache.reads": 30.0}
    last = {"app.app-az-a.cache.reads": 110.0, "app.app-az-b.cache.reads": 70.0}
    samples = ({"counters": first, "wanted": wanted, "rule": "gated",
                "errors": {"app.app-az-c": "GET /metrics: ReadTimeout"}},
               {"counters": last, "wanted": wanted, "rule": "gated"})
    ex = analyse(run(fault=fault, samples=samples), SPEC).faults[0].exercise
    assert ex is not None and ex.counters == {"app.cache.reads": 150.0}
    assert ex.upstream_calls == 150 and ex.requests == 1980 and ex.ok


def test_a_counter_that_went_backwards_is_left_out() -> None:
    samples = ({"counters": {"haproxy.app.app-az-a.stot": 500.0}, "rule": "gated",
                "wanted": ["haproxy.app.app-az-a.stot"]},
               {"counters": {"haproxy.app.app-az-a.stot": 3.0}, "rule": "gated",
                "wanted": ["haproxy.app.app-az-a.stot"]})
    fault = {"fault_id": "t1-f0-kill", "name": "kill", "family": "process", "params": {}}
    ex = analyse(run(fault=fault, samples=samples), SPEC).faults[0].exercise
    assert ex is not None and not ex.ok and "counters reset" in ex.detail


def test_unreadable_counters_and_missing_samples_are_never_a_pass() -> None:
    samples = ({"counters": {}, "wanted": ["provider.primary.requests"],
                "errors": {"provider.primary.requests": "refused"}},
               {"counters": {}, "wanted": ["provider.primary.requests"]})
    a = analyse(run(providers=every_third, samples=samples), SPEC)
    ex = a.faults[0].exercise
    assert ex is not None and not ex.ok and "refused" in ex.detail
    assert a.verdict.value == "INCONCLUSIVE"
    a = analyse(run(providers=every_third, samples=None), SPEC)
    ex = a.faults[0].exercise
    assert ex is not None and not ex.ok and "not measured" in ex.detail
    assert a.verdict.value == "INCONCLUSIVE"


def test_part_without_an_outside_counter_counts_every_request() -> None:
    fault = {"fault_id": "t1-f0-kill", "name": "kill", "family": "process", "params": {},
             "services": ["sentinel-az-a"]}
    samples = ({"counters": {}, "wanted": [], "rule": "gated"},
               {"counters": {}, "wanted": [], "rule": "gated"})
    ex = analyse(run(fault=fault, samples=samples), SPEC).faults[0].exercise
    assert ex is not None and ex.ok and ex.requests == 1980 and ex.upstream_calls is None
    assert "no outside counter" in ex.detail


def test_fault_exercise_directly_and_step_keys() -> None:
    assert step_key("t12-f3-provider-5xx") == "f3-provider-5xx"
    assert step_key("f3-x") == "f3-x"
    tl = run(providers=every_third, samples=provider_samples(0, 50))
    f = parse_faults(tl.events)[0]
    ex = fault_exercise(f, tl.events, None, minimum=ExerciseMinimum(requests=0), rate=100.0,
                        end_ns=T0 + 40 * S)
    assert ex.requests == 0 and ex.upstream_calls == 50 and ex.ok  # no request columns given
    with pytest.raises(ValueError, match=r"min_exercise\.requests"):
        ExerciseMinimum(requests=-1)


@pytest.mark.parametrize(("attrs", "fragment"), [
    ({"phase": "after", "ok": False, "detail": "3 bad of 900", "window_s": 10.0},
     "steady state not restored"),
    ({"what": ["substrate heal failed: boom"], "failed": ["substrate heal failed: boom"]},
     "healing the stack after the method failed"),
])
def test_stack_that_did_not_come_back_or_failed_heal_cannot_pass(attrs: dict, fragment: str
                                                                 ) -> None:
    kind = "steady_state" if "phase" in attrs else "heal"
    tl = run(providers=every_third, samples=provider_samples(0, 600), extra=[(kind, attrs)])
    a = analyse(tl, SPEC)
    assert a.verdict.value == "INCONCLUSIVE"
    assert any(fragment in r for r in a.reasons)
    ok = {"phase": "after", "ok": True, "detail": "0 bad", "window_s": 10.0} if kind == \
        "steady_state" else {"what": ["toxiproxy reset"], "failed": []}
    tl = run(providers=every_third, samples=provider_samples(0, 600), extra=[(kind, ok)])
    assert analyse(tl, SPEC).verdict.value == "PASS"


def test_failed_revert_reaches_the_verdict() -> None:
    tl = run(providers=every_third, samples=provider_samples(0, 600))
    tl.add_event("fault.reverted", "fault", t_ns=T0 + 30 * S + 2000,
                 fault_id="t1-f0-provider-5xx", ok=False, detail="revert failed: refused")
    # parse_faults keeps the last fault.reverted
    a = analyse(tl, SPEC)
    assert a.verdict.value == "INCONCLUSIVE"
    assert any("revert was not verified" in r for r in a.reasons)


def test_event_kinds_documented() -> None:
    assert "exercise.sample" in EVENT_KINDS and "failed" in EVENT_KINDS["heal"]


# -- the experiment model and its schema ---------------------------------------------------------
def experiment(**step: Any) -> Experiment:
    return Experiment(name="x", hypothesis="h", method=(FaultStep(
        fault="provider-5xx", duration=5, **step),))


def test_min_exercise_in_the_model_reaches_the_analysis_spec() -> None:
    exp = experiment(min_exercise={"requests": 100, "upstream_calls": 50})
    spec = analysis_spec(exp)
    assert spec.min_exercise["f0-provider-5xx"] == ExerciseMinimum(requests=100,
                                                                   upstream_calls=50)
    assert analysis_spec(experiment()).min_exercise["f0-provider-5xx"] == ExerciseMinimum()
    for bad in ({"requests": -1}, {"requests": 1.5}, {"calls": 3}, {"bytes": "many"}):
        with pytest.raises(ValidationError):
            experiment(min_exercise=bad)


def test_steady_state_after_is_in_the_model_and_the_plan() -> None:
    exp = experiment()
    assert exp.steady_state.after == 10.0
    longer = Experiment(name="x", hypothesis="h", steady_state={"after": "30s"})
    assert longer.planned_s - Experiment(name="x", hypothesis="h").planned_s == 20.0
    with pytest.raises(ValidationError):
        Experiment(name="x", hypothesis="h", steady_state={"after": 0})
    assert exp.with_overrides(duration_scale=0.5).steady_state.after == 5.0


def test_experiment_schema_describes_the_new_fields() -> None:
    text = json.dumps(experiment_schema())
    assert "min_exercise" in text and "MinExercise" in text and "upstream_calls" in text
    assert '"after"' in text


# -- report.json and the renderers ----------------------------------------------------------------
def report(ok: bool) -> dict[str, Any]:
    from tests.unit.test_report_render import make_report

    rep = make_report()
    ex = {"requests": 1320 if ok else 0, "upstream_calls": 600 if ok else 0, "bytes": None,
          "counters": {"provider.primary.requests": 600.0 if ok else 0.0},
          "minimum": {"requests": 99, "upstream_calls": 1, "bytes": None}, "ok": ok,
          "detail": "exercised by ..." if ok else "NOT exercised: 0 requests < minimum 99",
          "advice": "" if ok else "use a mix with fewer repeated questions", "rule": "llm",
          "window_s": 19.8, "probes_ms": {}, "replicas": {"app-az-b": 1980}}
    for f in (rep["faults"][0], rep["trials"][0]["faults"][0]):
        f["exercise"] = copy.deepcopy(ex)
    rep["steady_state_after"] = {"ok": ok, "detail": "0 bad of 1000 requests", "window_s": 10.0,
                                 "total": 1000, "bad": 0}
    return rep


def test_report_with_exercise_validates_and_schema_rejects_nonsense() -> None:
    validate_report(report(True))
    bad = report(True)
    bad["faults"][0]["exercise"]["requests"] = -3
    with pytest.raises(Exception, match="requests"):
        validate_report(bad)
    bad = report(True)
    del bad["steady_state_after"]["window_s"]
    with pytest.raises(Exception, match="steady_state_after"):
        validate_report(bad)


def test_every_format_shows_the_exercise_and_the_steady_state_after() -> None:
    rep = report(True)
    md = render_markdown(rep)
    assert "## Exercise" in md and "exercised by 1,320 requests, 600 upstream calls" in md
    assert "the stack came back" in md
    html = render_html(rep, None)
    assert "exercised by 1,320 requests, 600 upstream calls" in html
    root = ET.fromstring(render_junit(rep))
    case = root.find(".//testcase[@name='exercise:f0-process-kill']")
    assert case is not None and case.find("skipped") is None
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["fault.f0-process-kill.exercise.requests"] == "1320"
    assert root.find(".//testcase[@name='steady-state-after']") is not None


def test_not_exercised_and_not_back_are_visible_in_every_format() -> None:
    rep = report(False)
    md = render_markdown(rep)
    assert "**no**" in md and "fewer repeated questions" in md
    assert "did NOT come back" in md
    assert "did NOT come back" in render_html(rep, None)
    root = ET.fromstring(render_junit(rep))
    case = root.find(".//testcase[@name='exercise:f0-process-kill']")
    assert case is not None
    skipped = case.find("skipped")
    assert skipped is not None and "not exercised" in skipped.get("message", "")
    after = root.find(".//testcase[@name='steady-state-after']")
    assert after is not None and after.find("skipped") is not None


# -- reading Toxiproxy's traffic (parsing only; the real reading is in tests/integration) -------
SS = """\
0      0      10.0.0.1:18001 10.0.0.12:55454 bbr wscale:10,10 bytes_sent:640 bytes_acked:640 bytes_received:1693 segs_out:3
0      0      10.0.0.1:18001 10.0.0.1:40000 bbr bytes_acked:999 bytes_received:999
0      0      10.0.0.1:18002 10.0.0.13:50000 bbr bytes_acked:10 bytes_received:5
0      0      10.0.0.1:8080 10.0.0.13:50001 bbr bytes_acked:7 bytes_received:7
"""


def test_live_bytes_sum_open_connections_per_proxy_without_the_harness_probes() -> None:
    from harness.probes.counters import live_bytes, prometheus_samples

    listens = {"redis-az-a": ("10.0.0.1", 18001), "redis-az-b": ("10.0.0.1", 18002),
               "qdrant": ("10.0.0.1", 18003)}
    assert live_bytes(listens, SS) == {"redis-az-a": 2333.0, "redis-az-b": 15.0, "qdrant": 0.0}
    text = ('# HELP x\ntoxiproxy_proxy_sent_bytes_total{direction="upstream",proxy="p"} 15\n'
            'rag_cache_total{result="hit"} 3.0\n')
    assert prometheus_samples(text) == [
        ("toxiproxy_proxy_sent_bytes_total", {"direction": "upstream", "proxy": "p"}, 15.0),
        ("rag_cache_total", {"result": "hit"}, 3.0)]


def test_game_day_summary_cell_names_each_fault_and_flags_the_short_ones() -> None:
    from harness.report.exercise import exercise_cell

    assert exercise_cell(report(True)) == "process-kill: 1,320 req / 600 calls"
    assert exercise_cell(report(False)) == "process-kill: 0 req / 0 calls (NOT exercised)"
    assert exercise_cell(None) == "-"
