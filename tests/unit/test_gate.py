"""Gate rules, exit codes and regression checks on hand-built report.json files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import EXIT, main
from harness.errors import ConfigError
from harness.gate import (
    GateOutcome,
    evaluate,
    load_policy,
    load_report,
    policy_from_mapping,
    report_from_mapping,
)
from harness.history import HistoryStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "fixtures" / "policies" / "examples"
BASE = {"schema": "chaos-harness/gate-policy", "version": 1}


def report(kind: str = "pass", **changes: Any) -> dict[str, Any]:
    data = json.loads((EXAMPLES / f"report-{kind}.json").read_text())
    data.update(changes)
    return data


def gate(policy: dict[str, Any], *reports: dict[str, Any], history: HistoryStore | None = None,
         baseline: dict[str, Any] | None = None):
    pol = policy_from_mapping({**BASE, **policy}, file="policy.yaml", base_dir=ROOT)
    loaded = [report_from_mapping(copy.deepcopy(r)) for r in reports]
    base = report_from_mapping(baseline) if baseline else None
    return evaluate(pol, loaded, history=history, baseline=base)


def outcomes(result, prefix: str) -> list[GateOutcome]:
    return [r.outcome for r in result.rules if r.rule.startswith(prefix)]


# -- verdict / landed / confidence ---------------------------------------------------------------

def test_verdict_rule_pass_fail_and_inconclusive_treatments() -> None:
    assert outcomes(gate({}, report("pass")), "verdict") == [GateOutcome.PASS]
    assert outcomes(gate({}, report("fail")), "verdict") == [GateOutcome.FAIL]
    inc = report("pass", verdict="INCONCLUSIVE")
    assert gate({"inconclusive": "fail"}, inc).exit_code == EXIT["fail"]
    res = gate({"inconclusive": "warn"}, inc)
    assert res.outcome is GateOutcome.INCONCLUSIVE and res.exit_code == EXIT["inconclusive"]
    assert gate({"inconclusive": "pass"}, inc).exit_code == EXIT["ok"]
    # a minimum of INCONCLUSIVE accepts it outright
    assert outcomes(gate({"verdict": {"minimum": "INCONCLUSIVE"}}, inc), "verdict") == [
        GateOutcome.PASS]


def test_skipped_report_is_inconclusive_with_reason() -> None:
    res = gate({"inconclusive": "warn"}, report("pass", skipped={"reason": "needs ZoneIsolatable"}))
    row = next(r for r in res.rules if r.rule == "verdict.minimum")
    assert row.outcome is GateOutcome.INCONCLUSIVE and "ZoneIsolatable" in row.detail


def test_a_fault_that_never_landed_is_inconclusive() -> None:
    rep = report("pass")
    rep["faults"][1]["landed"] = False
    res = gate({"inconclusive": "warn"}, rep)
    row = next(r for r in res.rules if r.rule == "require_landed")
    assert row.raw is GateOutcome.INCONCLUSIVE and "#f2" in row.detail
    assert not any(r.rule == "require_landed" for r in gate({"require_landed": False}, rep).rules)


def test_confidence_below_policy_is_inconclusive() -> None:
    rep = report("pass")
    rep["slos"][0]["confidence"] = 0.9
    assert outcomes(gate({"confidence": {"minimum": 0.95}, "inconclusive": "warn"}, rep),
                    "confidence") == [GateOutcome.INCONCLUSIVE]
    assert outcomes(gate({"confidence": {"minimum": 0.9}}, rep), "confidence") == [GateOutcome.PASS]


# -- SLO rules ------------------------------------------------------------------------------------

def test_slo_min_objective_verdict_and_availability() -> None:
    pol = {"slos": [{"slo": "availability", "min_objective": 0.9999, "verdict": "PASS",
                     "min_availability": 0.9999}]}
    assert set(outcomes(gate(pol, report("pass")), "slos")) == {GateOutcome.PASS}
    res = gate(pol, report("fail"))
    assert outcomes(res, "slos[0].verdict") == [GateOutcome.FAIL]
    assert outcomes(res, "slos[0].min_availability") == [GateOutcome.FAIL]
    weaker = report("pass")
    weaker["slos"][0]["objective"] = 0.999
    assert outcomes(gate(pol, weaker), "slos[0].min_objective") == [GateOutcome.FAIL]


def test_slo_availability_straddling_target_is_inconclusive_and_names_needed_requests() -> None:
    rep = report("pass")
    rep["slos"][0].update(total=5000, good=5000, bad=0, lower=0.0, upper=0.0006,
                          verdict="INCONCLUSIVE", needed_requests=25000)
    res = gate({"slos": [{"slo": "*", "min_availability": 0.9999, "verdict": "INCONCLUSIVE"}],
                "inconclusive": "warn"}, rep)
    row = next(r for r in res.rules if r.rule == "slos[0].min_availability")
    assert row.outcome is GateOutcome.INCONCLUSIVE and "25000" in row.detail
    assert outcomes(res, "slos[0].verdict") == [GateOutcome.PASS]


def test_missing_slo_fails_unless_optional() -> None:
    assert outcomes(gate({"slos": [{"slo": "latency"}]}, report("pass")),
                    "slos") == [GateOutcome.FAIL]
    assert outcomes(gate({"slos": [{"slo": "latency", "required": False}]}, report("pass")),
                    "slos") == [GateOutcome.SKIP]


# -- budget and fault limits ----------------------------------------------------------------------

def test_budget_rule() -> None:
    assert outcomes(gate({"budget": {"max_consumed": 1.0}}, report("pass")), "budget") == [
        GateOutcome.PASS]
    assert outcomes(gate({"budget": {"max_consumed": 1.0}}, report("fail")), "budget") == [
        GateOutcome.FAIL]
    rep = report("pass", error_budget={"objective": None, "allowed_bad": None, "bad": None,
                                       "consumed": None})
    assert outcomes(gate({"budget": {"max_consumed": 1.0}, "inconclusive": "warn"}, rep),
                    "budget") == [GateOutcome.INCONCLUSIVE]


@pytest.mark.parametrize(("limit", "expected"), [
    ({"family": "process", "max_failover_s": 1.1}, GateOutcome.PASS),  # max is 1.1
    ({"family": "process", "max_failover_s": 1.0}, GateOutcome.FAIL),
    ({"family": "process", "max_failover_s": 1.0, "statistic": "median"}, GateOutcome.PASS),
    ({"name": "provider-outage", "max_recover_s": 5.0}, GateOutcome.FAIL),  # 5.2
    ({"name": "provider-outage", "max_detect_s": 0.5}, GateOutcome.PASS),
    ({"family": "process", "max_bad_requests": 3}, GateOutcome.FAIL),  # 4
    ({"family": "zone", "max_failover_s": 1.0}, GateOutcome.SKIP),  # no zone fault
])
def test_fault_limits(limit: dict[str, Any], expected: GateOutcome) -> None:
    assert outcomes(gate({"faults": [limit]}, report("pass")), "faults[0]") == [expected]


def test_fault_limit_not_measured_is_inconclusive() -> None:
    rep = report("pass")
    for f in rep["faults"]:
        f["recover_s"] = None
    res = gate({"faults": [{"family": "process", "max_recover_s": 10}], "inconclusive": "warn"},
               rep)
    assert outcomes(res, "faults[0]") == [GateOutcome.INCONCLUSIVE]


# -- regression -----------------------------------------------------------------------------------

def _past_run(i: int, failover: float) -> dict[str, Any]:
    rep = report("pass", run_id=f"past-{i}", started_at=f"2026-11-{10 + i:02d}T00:00:00+00:00")
    for f in rep["faults"]:
        f["failover_s"] = failover
    return rep


REG = {"regression": {"history": {"last": 3, "min_runs": 2},
                      "limits": [{"metric": "failover_s", "name": "process-kill",
                                  "max_increase_pct": 20, "max_increase_abs": 0.1}]}}


def test_regression_against_history_median(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        for i, fo in enumerate([5.0, 1.0, 1.0, 1.2]):  # the oldest (5.0) is outside last=3
            store.record_report(report_from_mapping(_past_run(i, fo)))
        ok = _past_run(9, 1.2)  # median of 1.0, 1.0, 1.2 is 1.0 -> allowed 1.2
        bad = _past_run(9, 1.3)
        assert outcomes(gate(REG, ok, history=store), "regression") == [GateOutcome.PASS]
        res = gate(REG, bad, history=store)
        assert outcomes(res, "regression") == [GateOutcome.FAIL] and res.exit_code == EXIT["fail"]
        row = next(r for r in res.rules if r.rule.startswith("regression"))
        assert "median of last 3" in row.limit and "1.2" in row.limit


def test_regression_absolute_tolerance_wins_when_looser(tmp_path: Path) -> None:
    pol = copy.deepcopy(REG)
    pol["regression"]["limits"][0]["max_increase_abs"] = 1.0
    with HistoryStore(tmp_path / "h.sqlite") as store:
        for i in range(3):
            store.record_report(report_from_mapping(_past_run(i, 0.5)))
        assert outcomes(gate(pol, _past_run(9, 1.4), history=store), "regression") == [
            GateOutcome.PASS]
        assert outcomes(gate(pol, _past_run(9, 1.6), history=store), "regression") == [
            GateOutcome.FAIL]


def test_regression_missing_history_follows_policy(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record_report(report_from_mapping(_past_run(0, 1.0)))  # 1 run, min_runs 2
        assert outcomes(gate(REG, _past_run(9, 9.0), history=store), "regression") == [
            GateOutcome.SKIP]
        pol = copy.deepcopy(REG)
        pol["regression"]["missing"] = "fail"
        assert outcomes(gate(pol, _past_run(9, 9.0), history=store), "regression") == [
            GateOutcome.FAIL]
    pol["regression"]["missing"] = "inconclusive"
    pol["inconclusive"] = "warn"
    assert gate(pol, _past_run(9, 9.0), history=None).exit_code == EXIT["inconclusive"]


def test_regression_ignores_newer_runs_and_itself(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        for i in range(3):
            store.record_report(report_from_mapping(_past_run(i, 1.0)))
        current = _past_run(5, 1.1)
        store.record_report(report_from_mapping(current))
        store.record_report(report_from_mapping(_past_run(8, 50.0)))  # newer: not a reference
        assert outcomes(gate(REG, current, history=store), "regression") == [GateOutcome.PASS]


def test_regression_against_baseline_report() -> None:
    pol = {"regression": {"baseline": "fixtures/policies/examples/report-pass.json",
                          "limits": [{"metric": "failover_s", "family": "process",
                                      "max_increase_pct": 50},
                                     {"metric": "budget_consumed", "max_increase_abs": 0.5}]}}
    res = gate(pol, report("fail"))  # failover tripled, budget 0 -> 5.0
    assert outcomes(res, "regression") == [GateOutcome.FAIL, GateOutcome.FAIL]
    assert outcomes(gate(pol, report("pass")), "regression") == [GateOutcome.PASS, GateOutcome.PASS]
    other = report("fail")
    other["experiment"]["name"] = "zone-loss"
    assert set(outcomes(gate(pol, other), "regression")) == {GateOutcome.SKIP}


# -- OpenSLO objectives ---------------------------------------------------------------------------

def test_openslo_objectives_checked_against_measured_interval() -> None:
    pol = {"openslo": {"files": ["fixtures/openslo/rag-availability.yaml",
                                 "fixtures/openslo/rag-latency-v1alpha.yaml"]}}
    res = gate(pol, report("pass"))
    assert outcomes(res, "openslo") == [GateOutcome.PASS, GateOutcome.PASS]
    assert outcomes(gate(pol, report("fail")), "openslo") == [GateOutcome.FAIL, GateOutcome.PASS]
    loose = report("pass")
    loose["slos"][0]["latency_threshold_ms"] = 5000.0  # judged looser than the 2000 ms objective
    rows = [r for r in gate({**pol, "inconclusive": "warn"}, loose).rules
            if r.rule.startswith("openslo")]
    assert [r.outcome for r in rows] == [GateOutcome.PASS, GateOutcome.INCONCLUSIVE]
    assert "looser" in rows[1].detail


def test_openslo_unmapped_slo_is_inconclusive() -> None:
    pol = {"openslo": {"files": ["fixtures/openslo/rag-availability.yaml"],
                       "map": {"availability": "no-such-slo"}}, "inconclusive": "warn"}
    row = next(r for r in gate(pol, report("pass")).rules if r.rule.startswith("openslo"))
    assert row.outcome is GateOutcome.INCONCLUSIVE and "openslo.map" in row.detail


# -- policy validation ----------------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "field", "allowed"), [
    ({"inconclusive": "maybe"}, "inconclusive", "'fail', 'warn', 'pass'"),
    ({"verdict": {"minimum": "FAIL"}}, "verdict.minimum", "'PASS', 'INCONCLUSIVE'"),
    ({"budget": {"max_consumed": -1}}, "budget.max_consumed", ">= 0"),
    ({"faults": [{"family": "moon", "max_failover_s": 1}]}, "faults[0].family", "'zone'"),
    ({"faults": [{"family": "zone", "max_failvoer_s": 1}]}, "faults[0].max_failvoer_s",
     "max_failover_s"),
    ({"slos": [{"slo": "a", "min_availability": 1.5}]}, "slos[0].min_availability", "< 1"),
    ({"confidence": {}}, "confidence.minimum", None),
    ({"regression": {"history": {"last": 2, "min_runs": 3},
                     "limits": [{"metric": "failover_s", "max_increase_pct": 1}]}},
     "regression.history.min_runs", "[1, 2]"),
    ({"regression": {"history": {"last": 2}, "limits": [{"metric": "budget_consumed",
                                                         "family": "zone",
                                                         "max_increase_pct": 1}]}},
     "regression.limits[0].metric", "failover_s"),
    ({"regression": {"baseline": "nope.json", "limits": [{"metric": "failover_s",
                                                          "max_increase_abs": 1}]}},
     "regression.baseline", "existing file"),
    ({"openslo": {"files": ["missing.yaml"]}}, "openslo.files[0]", "existing file"),
    ({"colour": "red"}, "colour", "inconclusive"),
])
def test_bad_policy_is_config_error_with_field_and_allowed(policy: dict[str, Any], field: str,
                                                           allowed: str | None) -> None:
    with pytest.raises(ConfigError) as err:
        policy_from_mapping({**BASE, **policy}, file="p.yaml", base_dir=ROOT)
    assert err.value.field == field and err.value.file == "p.yaml"
    if allowed:
        assert allowed in str(err.value.allowed)


def test_policy_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("schema: chaos-harness/gate-policy\nversion: 2\n")
    with pytest.raises(ConfigError) as err:
        load_policy(bad)
    assert err.value.field == "version" and err.value.file == str(bad)
    bad.write_text("a: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_policy(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_policy(tmp_path / "none.yaml")


def test_shipped_policies_load() -> None:
    for p in (ROOT / "fixtures" / "policies").glob("*.yaml"):
        assert load_policy(p).name


def test_invalid_report_is_config_error(tmp_path: Path) -> None:
    data = report("pass")
    data["verdict"] = "GREEN"
    p = tmp_path / "report.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as err:
        load_report(tmp_path)  # a run folder works too
    assert err.value.field == "verdict" and "PASS" in str(err.value.allowed)


# -- the command: exit codes and table --------------------------------------------------------------

def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pol = tmp_path / "p.yaml"
    pol.write_text("schema: chaos-harness/gate-policy\nversion: 1\ninconclusive: warn\n"
                   "budget: {max_consumed: 1.0}\n")
    good, bad = EXAMPLES / "report-pass.json", EXAMPLES / "report-fail.json"
    inc = tmp_path / "inc.json"
    inc.write_text(json.dumps(report("pass", verdict="INCONCLUSIVE")))
    hist = ["--history", str(tmp_path / "h.sqlite")]
    assert main(["gate", "--policy", str(pol), str(good), *hist]) == EXIT["ok"]
    out = capsys.readouterr().out
    assert "budget.max_consumed" in out and "gate PASS" in out
    assert main(["gate", "--policy", str(pol), str(good), str(bad), *hist]) == EXIT["fail"]
    capsys.readouterr()
    faults = tmp_path / "f.yaml"
    faults.write_text("schema: chaos-harness/gate-policy\nversion: 1\n"
                      "faults: [{family: zone, max_failover_s: 1}]\n")
    assert main(["gate", "--policy", str(faults), str(good), "--hide-skipped"]) == EXIT["ok"]
    out = capsys.readouterr().out
    assert "faults[0]" not in out and "1 skipped" in out
    assert main(["gate", "--policy", str(pol), str(inc), *hist]) == EXIT["inconclusive"]
    assert main(["gate", "--policy", str(tmp_path / "x.yaml"), str(good)]) == EXIT["usage"]
    assert main(["gate", "--policy", str(pol), str(tmp_path / "none.json")]) == EXIT["usage"]
    capsys.readouterr()
    out_file = tmp_path / "gate.json"
    assert main(["gate", "--policy", str(pol), str(bad), "--json", "--output",
                 str(out_file)]) == EXIT["fail"]
    doc = json.loads(capsys.readouterr().out)
    assert doc["outcome"] == "FAIL" and doc["exit_code"] == 1
    assert json.loads(out_file.read_text()) == doc


def test_cli_other_harness_error_exits_6(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    db.write_text("this is not sqlite" * 100)
    pol = tmp_path / "p.yaml"
    pol.write_text("schema: chaos-harness/gate-policy\nversion: 1\nregression:\n"
                   "  history: {last: 3}\n  limits: [{metric: failover_s, max_increase_pct: 10}]\n")
    assert main(["gate", "--policy", str(pol), str(EXAMPLES / "report-pass.json"),
                 "--history", str(db)]) == EXIT["error"]


def test_a_bad_report_names_the_field_inside_an_optional_object() -> None:
    bad = report("pass")
    bad["faults"][0]["exercise"] = {"requests": 1, "upstream_calls": None, "bytes": None,
                                    "counters": {}, "minimum": {}, "ok": True, "detail": "",
                                    "rule": "moon"}
    with pytest.raises(ConfigError) as ei:
        report_from_mapping(bad)
    assert ei.value.field == "faults[0].exercise.rule"
    assert ei.value.allowed == "'llm', 'gated'"
    bad["faults"][0]["bad_requests"] = True
    bad["faults"][0]["exercise"] = None
    with pytest.raises(ConfigError, match="is not of type 'integer', 'null'") as ei:
        report_from_mapping(bad)
    assert ei.value.field == "faults[0].bad_requests"
