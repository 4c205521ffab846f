"""Exercise accounting against the real local stack: a provider fault's exercise counted from
the simulator's own counters and agreeing with the requests' X-Provider; a toxic on a proxy no
traffic uses reported as not exercised (a Redis toxic without ``app.redis_via_toxiproxy`` can
never PASS); a latency toxic on a used proxy measured by its effect."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.experiment import Experiment, FaultStep, LoadSpec, SteadyState
from harness.experiment.runner import run_experiment
from harness.report import load_report
from harness.timeline import Provider, Timeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def fresh_questions(tmp_path: Path, n: int = 3000) -> str:
    """Questions no earlier test asked: every one misses the LLM cache."""
    tag = secrets.token_hex(4)
    path = tmp_path / "fresh.jsonl"
    topics = ("replication", "failover", "sentinel quorum", "retries", "circuit breakers",
              "load balancing", "vector search", "caching")
    path.write_text("".join(json.dumps({"question": f"What does the guide say about "
                                                    f"{topics[i % len(topics)]} (case {tag}-{i})?"})
                            + "\n" for i in range(n)))
    return str(path)


def short(name: str, step: FaultStep, *, questions: str | None = None) -> Experiment:
    mix: dict[str, Any] = {"repeat": "unique"}
    if questions:
        mix["questions"] = questions
    exp = Experiment(
        name=name, description="integration test", hypothesis="exercise is counted",
        load=LoadSpec(rate=20, warmup=1, arrivals="constant", mix=mix),
        steady_state=SteadyState(duration=2, after=2), method=(step,), recovery=2, seed=23)
    exp.check()
    return exp


def in_window(tl: Timeline, fault_id: str) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
    samples = {e.get("phase"): e for e in tl.events_of("exercise.sample")
               if e.get("fault_id") == fault_id}
    inj, rev = samples["inject"], samples["revert"]
    injected = next(e.t_ns for e in tl.events_of("fault.inject")
                    if e.get("fault_id") == fault_id)
    assert inj.t_ns <= injected < rev.t_ns  # sampled right before the injection
    cols = tl.requests
    intended = np.frombuffer(cols.intended_ns, dtype=np.int64)
    provider = np.frombuffer(cols.provider, dtype=np.uint8)
    mask = (intended >= injected) & (intended < rev.t_ns)
    return provider[mask], dict(inj.attrs), dict(rev.attrs)


def _sim_counters(stack: Any) -> dict[str, dict[str, int]]:
    from harness.simulators.control import ProviderControlClient

    out = {}
    for name in ("primary", "fallback"):
        url, token = stack.provider_control(name)
        with ProviderControlClient(url, token) as ctl:
            out[name] = ctl.counters()
    return out


def test_provider_fault_exercise_comes_from_the_simulator_and_agrees_with_x_provider(
        healed_stack: Any, tmp_path: Path) -> None:
    exp = short("it-exercise-provider",
                FaultStep(fault="provider-5xx", params={"status": 500}, start=1, duration=8),
                questions=fresh_questions(tmp_path))
    before = _sim_counters(healed_stack)
    result = run_experiment(exp, stack=healed_stack, report_dir=tmp_path)
    after = _sim_counters(healed_stack)
    rep = load_report(result.directory)  # validates the exercise block against the schema
    f = rep["faults"][0]
    assert f["landed"] is True
    ex = f["exercise"]
    tl = Timeline.load(result.directory)
    providers, inj, rev = in_window(tl, f["id"])
    sim = rev["counters"]["provider.primary.requests"] - inj["counters"][
        "provider.primary.requests"]
    # the simulator's own count of completion requests is what the report calls upstream calls
    assert ex["counters"]["provider.primary.requests"] == sim
    assert ex["upstream_calls"] == sim > 0
    # ... and X-Provider agrees with the simulators over the whole run: every answer a
    # simulator served ok is one request marked with that provider (a request the client gave
    # up on is the only way to differ)
    cols = tl.requests
    marked = np.frombuffer(cols.provider, dtype=np.uint8)
    for name, value in (("primary", Provider.PRIMARY), ("fallback", Provider.FALLBACK)):
        served = after[name].get("ok", 0) - before[name].get("ok", 0)
        seen = int(np.count_nonzero(marked == value))
        assert abs(served - seen) <= 2, (name, served, seen)
    fallback = int(np.count_nonzero(providers == Provider.FALLBACK))
    primary = int(np.count_nonzero(providers == Provider.PRIMARY))
    # every question was new: while the primary failed, the fallback answered
    assert fallback > 0 and primary <= 2, (fallback, primary)
    # requests through the faulted part: answered by a provider (or degraded) in the window
    assert fallback + primary <= ex["requests"] <= len(providers)
    assert ex["minimum"]["requests"] >= 20
    assert f"exercised by {ex['requests']:,} requests" in (result.directory / "report.md"
                                                             ).read_text()
    after_check = rep["steady_state_after"]
    assert after_check is not None and after_check["window_s"] >= 2.0
    kinds = [e.get("phase") for e in tl.events_of("steady_state")]
    assert kinds == ["before", "after"]


def test_redis_toxic_without_redis_via_toxiproxy_is_not_exercised_and_never_passes(
        healed_stack: Any, tmp_path: Path) -> None:
    assert healed_stack.knobs.get("app.redis_via_toxiproxy") in (False, None)
    exp = short("it-exercise-unused-proxy",
                FaultStep(fault="latency", params={"proxy": "redis-az-a", "latency_ms": 300},
                          start=1, duration=4))
    result = run_experiment(exp, stack=healed_stack, report_dir=tmp_path)
    f = result.report["faults"][0]
    assert f["landed"] is True  # Toxiproxy stored the toxic ...
    ex = f["exercise"]
    assert ex["bytes"] == 0 and ex["requests"] == 0 and ex["ok"] is False  # ... nobody crossed it
    assert result.verdict == "INCONCLUSIVE"
    reason = next(r for r in result.reasons if "not exercised" in r)
    assert "app.redis_via_toxiproxy" in reason
    assert "not exercised" in (result.directory / "report.md").read_text().lower() or \
        "**no**" in (result.directory / "report.md").read_text()


def test_latency_toxic_on_a_used_proxy_is_measured_by_its_effect(healed_stack: Any,
                                                                  tmp_path: Path) -> None:
    exp = short("it-exercise-latency",
                FaultStep(fault="latency", params={"proxy": "provider-primary",
                                                   "latency_ms": 150},
                          start=1, duration=4),
                questions=fresh_questions(tmp_path))
    result = run_experiment(exp, stack=healed_stack, report_dir=tmp_path)
    ex = result.report["faults"][0]["exercise"]
    assert ex["bytes"] > 1000, ex
    assert ex["upstream_calls"] > 0, ex
    probes = [v for v in ex["probes_ms"].values() if v is not None]
    assert probes and min(probes) >= 150 * 0.9, ex["probes_ms"]
    assert ex["ok"] is True, ex
