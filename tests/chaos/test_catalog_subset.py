"""The CI chaos subset (``pytest -m chaos``): catalog experiments, shrunk to ~40 s each.

The proof that the harness tells a resilient stack from a fragile one: the same experiment
hides its fault with the default knobs and FAILs with the resilience switched off (HAProxy
retries/redispatch for a replica kill, the fallback provider for a 5xx burst).

Shrunk runs have too few requests to PASS 99.99% conclusively, and INCONCLUSIVE is never taken
as "not FAIL": where a test claims the fault is hidden, it asserts that the fault was exercised
(its exercise count is at or above its minimum), that no request was bad, that the stack came
back (steady state after recovery), and that the only thing keeping the run from a PASS is the
number of requests. The full-length catalog runs (``chaos-harness run experiments/...``) give
the conclusive verdict. Provider experiments ask questions no earlier run asked, so the LLM
cache cannot answer them and the provider fault is really crossed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.experiment import Experiment, load_experiment

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

CATALOG = Path(__file__).resolve().parents[2] / "experiments"
SCALE = 0.3  # 132 s trials -> ~40 s; faults start at ~10 s and last 18 s
RATE = 30.0
WARMUP_S = 15.0  # a fresh stack's first LangChain calls are slow on a busy 2-core machine

Runner = Callable[..., Any]


def _shrunk(name: str, questions: Path | None = None) -> Any:
    exp = load_experiment(CATALOG / f"{name}.yaml").with_overrides(
        rate=RATE, duration_scale=SCALE, min_warmup=WARMUP_S, seed=11)
    if questions is None:
        return exp
    data = exp.model_dump()
    data["load"]["mix"] = {**data["load"]["mix"], "questions": str(questions),
                           "repeat": "unique", "cache_hit_target": None, "nonce": None}
    return Experiment.model_validate(data)


def _fresh_questions(tmp_path: Path, n: int = 4000) -> Path:
    """Questions never asked before (the LLM cache cannot answer them)."""
    tag = secrets.token_hex(4)
    path = tmp_path / "fresh-questions.jsonl"
    path.write_text("".join(json.dumps({"question": f"How does the service stay available "
                                                    f"when a dependency fails ({tag}-{i})?"})
                            + "\n" for i in range(n)))
    return path


def _hidden(result: Any) -> None:
    """The fault was exercised, nobody noticed it, the stack came back; only the sample size
    keeps the shrunk run from a PASS."""
    assert result.verdict in ("PASS", "INCONCLUSIVE"), result.reasons
    for f in result.report["faults"]:
        ex = f["exercise"]
        assert ex is not None and ex["ok"], ex
        assert ex["requests"] >= (ex["minimum"]["requests"] or 1) > 0, ex
        assert f["bad_requests"] == 0, f
    assert result.report["slos"][0]["bad"] == 0, result.report["slos"][0]
    after = result.report["steady_state_after"]
    assert after is not None and after["ok"], after
    others = [r for r in result.reasons if not r.startswith("SLO ")]
    assert result.verdict == "PASS" or not others, others


def _landed(result: Any) -> None:
    if result.report["end_reason"] == "steady-state-failed":
        # The harness did its job (INCONCLUSIVE, method skipped); the machine could not give
        # the stack a steady state, so the hypothesis was not tested.
        pytest.skip(f"the stack was not steady before the method on this machine: "
                    f"{result.report['steady_state']['detail']} (report: {result.files.html})")
    faults = result.report["faults"]
    assert faults and all(f["landed"] for f in faults), faults
    assert all(f.get("revert_verified", True) for f in faults), faults


def test_replica_kill_is_hidden_by_haproxy_retries(run_experiment: Runner) -> None:
    result = run_experiment(_shrunk("app-replica-kill"))
    _landed(result)
    _hidden(result)


def test_replica_kill_fails_without_retries_and_redispatch(run_experiment: Runner) -> None:
    result = run_experiment(_shrunk("app-replica-kill"),
                            knobs={"haproxy.retries": 0, "haproxy.redispatch": False})
    _landed(result)
    assert result.verdict == "FAIL", result.reasons
    assert result.report["slos"][0]["bad"] > 0


def test_provider_5xx_burst_is_hidden_by_the_fallback(run_experiment: Runner,
                                                      tmp_path: Path) -> None:
    result = run_experiment(_shrunk("provider-5xx-burst", _fresh_questions(tmp_path)))
    _landed(result)
    _hidden(result)


def test_provider_5xx_burst_fails_without_the_fallback(run_experiment: Runner,
                                                      tmp_path: Path) -> None:
    result = run_experiment(_shrunk("provider-5xx-burst", _fresh_questions(tmp_path)),
                            knobs={"app.fallback_enabled": False})
    _landed(result)
    assert result.verdict == "FAIL", result.reasons
