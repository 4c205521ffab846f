"""The public surface of harness.analysis: names, report.json fields, purity, distributions."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import harness.analysis as analysis
from harness.analysis import (
    AnalysisSpec,
    SLOSpec,
    Verdict,
    analyse,
    combine,
    distributions,
    distributions_json,
)
from harness.analysis.verdict import VerdictCheck, combine_checks
from tests.support.synthetic import Observation, Outage, SyntheticFault, synthetic_timeline

SPEC = AnalysisSpec(slos=[SLOSpec(name="availability", objective=0.9999,
                                  latency_threshold_ms=500)])


def test_public_names_are_pinned() -> None:
    assert sorted(analysis.__all__) == sorted([
        "DEFAULT_ALERTS", "DEFAULT_FREQUENCIES", "AlertResult", "AlertSpec", "AnalysisSpec",
        "Bounds", "BurnReport", "BurnWindow", "VerdictCheck", "Distribution", "ErrorBudget",
        "FaultFrequencies", "FaultImpact", "FaultRecord", "GeneratorHealth", "LatencySummary",
        "LatencyWindow", "Projection", "RunAnalysis", "SLOResult", "SLOSpec", "Verdict",
        "analyse", "bad_at", "classify", "clopper_pearson", "combine", "distributions",
        "distributions_json", "needed_requests", "project_annual", "project_samples", "wilson",
        "zero_failure_requests"])
    for name in analysis.__all__:
        assert getattr(analysis, name) is not None


def test_combine() -> None:
    P, F, I = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE  # noqa: E741
    assert combine([P, P]) is P
    assert combine([P, I]) is I
    assert combine([I, F, P]) is F
    assert combine([]) is I
    assert combine(["PASS"]) is P  # type: ignore[list-item]
    assert str(F) == "FAIL"
    v, why = combine_checks([VerdictCheck(verdict=P, reason="ok"),
                             VerdictCheck(verdict=I, reason="maybe"),
                             VerdictCheck(verdict=F, reason="bad")])
    assert v is F and why == ("bad", "maybe")
    assert combine_checks([VerdictCheck(verdict=P, reason="ok")]) == (P, ("ok",))


def _run(seed: int, stall_s: float):  # type: ignore[no-untyped-def]
    return analyse(synthetic_timeline(
        duration_s=40, rate=200, seed=seed, poisson=True,
        outages=[Outage(start_s=10, end_s=10 + stall_s)],
        faults=[SyntheticFault(fault_id="f1", name="pause-app", inject_s=10,
                               revert_s=10 + stall_s, target="app-az-a")],
        observations=[Observation(t_s=10.5, subject="haproxy/app/app-az-a", healthy=False),
                      Observation(t_s=10 + stall_s + 1, subject="haproxy/app/app-az-a",
                                  healthy=True)]), SPEC)


def test_to_json_has_the_report_v1_fields_and_is_strict_json() -> None:
    j = _run(1, 2.0).to_json()
    json.dumps(j, allow_nan=False)
    assert {"slos", "error_budget", "burn", "latency_ms", "generator", "faults", "verdict",
            "verdict_reasons"} <= set(j)
    assert set(j["slos"][0]) >= {"name", "objective", "latency_threshold_ms", "degraded_is_good",
                                 "good", "total", "bad", "bad_fraction", "lower", "upper",
                                 "confidence", "verdict", "needed_requests"}
    assert set(j["error_budget"]) >= {"objective", "allowed_bad", "bad", "consumed"}
    assert set(j["burn"]) >= {"windows", "alerts"}
    assert set(j["burn"]["alerts"][0]) >= {"name", "threshold", "fired"}
    assert set(j["latency_ms"]) == {"p50", "p90", "p99", "p999", "max"}
    assert set(j["generator"]) >= {"kind", "rate", "sent", "dropped", "fell_behind",
                                   "lateness_p99_ms", "max_lateness_ms"}
    assert set(j["faults"][0]) >= {
        "id", "name", "family", "target", "params", "services", "injected_at_s",
        "reverted_at_s", "landed", "verification", "detect_s", "failover_s", "recover_s",
        "bad_requests", "error_seconds"}
    assert j["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")
    assert j["faults"][0]["detect_s"] == pytest.approx(0.5)
    assert j["faults"][0]["recover_s"] == pytest.approx(1.0)
    assert j["generator"]["kind"] == "open-loop" and j["generator"]["rate"] == 200


def test_distributions_over_trials() -> None:
    trials = [_run(seed, stall) for seed, stall in enumerate([1.0, 2.0, 3.0, 4.0])]
    d = distributions(trials)["pause-app"]
    f = d["failover_s"]
    assert f.n == 4 and f.missing == 0
    assert f.min == pytest.approx(1.0, abs=0.1) and f.max == pytest.approx(4.0, abs=0.1)
    assert f.median == pytest.approx(2.5, abs=0.1)
    assert f.p95 == f.max  # nearest rank with 4 samples
    assert d["detect_s"].median == pytest.approx(0.5)
    j = distributions_json(trials)
    assert set(j["pause-app"]["failover_s"]) == {"min", "median", "p95", "max", "n", "missing"}
    assert distributions([]) == {}


def test_unlanded_faults_are_left_out_of_distributions() -> None:
    tl = synthetic_timeline(duration_s=10, rate=10, faults=[SyntheticFault(
        fault_id="f", name="x", inject_s=1, revert_s=2, landed=False)])
    assert distributions([analyse(tl, SPEC)]) == {}


FORBIDDEN = {"time", "os", "io", "pathlib", "subprocess", "socket", "random", "datetime",
             "threading", "asyncio", "httpx", "redis", "shutil", "tempfile"}
FORBIDDEN_HARNESS = ("harness.stack", "harness.faults", "harness.load", "harness.probes",
                     "harness.experiment", "harness.report", "harness.cli")


def test_analysis_is_pure_no_io_or_clock_imports() -> None:
    root = Path(analysis.__file__).parent
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in FORBIDDEN, f"{path.name} imports {n}"
                assert not n.startswith(FORBIDDEN_HARNESS), f"{path.name} imports {n}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("open", "print", "input"), path.name
