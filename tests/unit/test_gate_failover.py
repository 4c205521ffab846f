"""Gate rules on failover milestones and on each incident's share of the real budget."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.gate import GateOutcome, evaluate, policy_from_mapping, report_from_mapping
from harness.gate.openslo import load_openslo

ROOT = Path(__file__).resolve().parents[2]
BASE = {"schema": "chaos-harness/gate-policy", "version": 1}


def redis_report(decided: float | None = 2.3, signal: str = "sentinel +switch-master: "
                 "sentinel/mymaster/redis-az-b +switch-master") -> dict[str, Any]:
    """The example PASS report with a Redis master kill carrying milestones and a budget."""
    data = json.loads((ROOT / "fixtures/policies/examples/report-pass.json").read_text())
    fault = copy.deepcopy(data["faults"][0])
    fault.update(id="t1-f0", name="redis-master-loss", family="datastore", bad_requests=0,
                 error_seconds=0.0, milestones=[
                     {"name": "detected", "at_s": 0.07, "signal": "breaker/app-az-a/cache"},
                     {"name": "decided", "at_s": decided,
                      "signal": signal if decided is not None else "not observed"},
                     {"name": "served", "at_s": 0.0, "signal": "clients: no request was bad"},
                     {"name": "redundant", "at_s": 16.0, "signal": "last back: redis/replication"}])
    zone = copy.deepcopy(data["faults"][0])
    zone.update(id="t1-f1", name="zone-power", family="zone", bad_requests=200,
                error_seconds=2.0, milestones=[
                    {"name": "decided", "at_s": 1.4,
                     "signal": "haproxy DOWN: haproxy/app/app-az-a DOWN"}])
    data["faults"] = [fault, zone]
    data["budget"] = {
        "objective": 0.9999, "production_rate": 300.0, "window_s": 30 * 86400.0,
        "method": "occurrences", "timeslice_s": 60.0, "timeslice_target": 0.9999,
        "incidents": [
            {"name": "redis-master-loss", "family": "datastore", "trial": 1, "share": 0.0,
             "error_seconds": 0.0, "bad_slices": 0},
            {"name": "zone-power", "family": "zone", "trial": 1, "share": 2.0 / 259.2,
             "error_seconds": 2.0, "bad_slices": 1}]}
    return data


def gate(policy: dict[str, Any], rep: dict[str, Any]) -> list[tuple[str, GateOutcome, str, str]]:
    pol = policy_from_mapping({**BASE, **policy}, file="policy.yaml", base_dir=ROOT)
    res = evaluate(pol, [report_from_mapping(copy.deepcopy(rep))])
    return [(r.rule, r.outcome, r.measured, r.detail) for r in res.rules
            if r.rule.startswith(("milestones", "budget"))]


PROMOTION = {"name": "redis-master-loss", "milestone": "decided", "signal": "+switch-master"}


def test_sentinel_promotion_within_limit_passes_and_beyond_fails() -> None:
    ((rule, outcome, measured, _),) = gate({"milestones": [{**PROMOTION, "max_s": 5}]},
                                           redis_report())
    assert (rule, outcome, measured) == ("milestones[0].max_s", GateOutcome.PASS, "max 2.3s over 1")
    ((_, outcome, _, _),) = gate({"milestones": [{**PROMOTION, "max_s": 2}]}, redis_report())
    assert outcome is GateOutcome.FAIL  # a gate policy fails the run on a milestone


def test_the_milestone_must_come_from_the_named_signal() -> None:
    rep = redis_report(signal="sentinel +odown: sentinel/mymaster/redis-az-a +odown")
    ((_, outcome, measured, detail),) = gate(
        {"inconclusive": "warn", "milestones": [{**PROMOTION, "max_s": 5}]}, rep)
    assert (outcome, measured) == (GateOutcome.INCONCLUSIVE, "not reached")
    assert "not +switch-master" in detail
    ((_, outcome, _, detail),) = gate(
        {"inconclusive": "warn", "milestones": [{**PROMOTION, "max_s": 5}]},
        redis_report(decided=None))
    assert outcome is GateOutcome.INCONCLUSIVE and "not observed" in detail


def test_haproxy_down_for_a_zone_and_no_such_fault() -> None:
    rows = gate({"milestones": [
        {"family": "zone", "milestone": "decided", "signal": "haproxy DOWN", "max_s": 2},
        {"family": "zone", "milestone": "decided", "signal": "haproxy DOWN", "max_s": 1},
        {"family": "provider", "milestone": "decided", "max_s": 1}]}, redis_report())
    assert [r[1] for r in rows] == [GateOutcome.PASS, GateOutcome.FAIL, GateOutcome.SKIP]


def test_incident_share_of_the_monthly_budget() -> None:
    rows = gate({"budget": {"max_incident_share": 0.01}}, redis_report())
    assert rows[0][:2] == ("budget.max_incident_share", GateOutcome.PASS)
    assert "zone-power t1" in rows[0][2]  # the worst incident: 2 s of 259.2 s = 0.77 %
    rows = gate({"budget": {"max_incident_share": 0.005}}, redis_report())
    assert rows[0][1] is GateOutcome.FAIL
    # charged by time slices: one spoiled minute of 4.32 is 23 %
    rows = gate({"budget": {"max_incident_share": 0.2, "method": "timeslices"}}, redis_report())
    assert rows[0][1] is GateOutcome.FAIL and "23.15%" in rows[0][2]


def test_a_report_without_budget_is_inconclusive() -> None:
    rep = redis_report()
    del rep["budget"]
    rows = gate({"inconclusive": "warn", "budget": {"max_incident_share": 0.05}}, rep)
    assert rows[0][1] is GateOutcome.INCONCLUSIVE and "recheck" in rows[0][3]


def _openslo(tmp_path: Path, method: str, extra: str = "") -> Path:
    p = tmp_path / "slo.yaml"
    p.write_text(f"""apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
  annotations:
    chaos-harness/production-rate: "300"
spec:
  service: rag
  budgetingMethod: {method}
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 0.9999
{extra}""")
    return p


def test_openslo_budgeting_method_decides_how_the_incident_is_charged(tmp_path: Path) -> None:
    occ = _openslo(tmp_path, "Occurrences")
    (o,) = load_openslo(occ)
    assert (o.charges, o.time_window_s, o.production_rate) == ("occurrences", 28 * 86400, 300.0)
    rows = gate({"openslo": {"files": [str(occ)]}, "budget": {"max_incident_share": 0.01}},
                redis_report())
    share = next(r for r in rows if r[0] == "budget.max_incident_share")
    assert share[1] is GateOutcome.PASS and "0.8267%" in share[2]  # 2 s of 241.92 s (28 days)
    ts = _openslo(tmp_path, "Timeslices",
                  "      timeSliceTarget: 0.9999\n      timeSliceWindow: 1m\n")
    (o,) = load_openslo(ts)
    assert (o.charges, o.timeslice_s, o.timeslice_target) == ("timeslices", 60.0, 0.9999)
    rows = gate({"openslo": {"files": [str(ts)]}, "budget": {"max_incident_share": 0.01}},
                redis_report())
    share = next(r for r in rows if r[0] == "budget.max_incident_share")
    assert share[1] is GateOutcome.FAIL and "Timeslices" in share[3]


def test_openslo_slices_of_another_length_are_inconclusive(tmp_path: Path) -> None:
    ts = _openslo(tmp_path, "Timeslices",
                  "      timeSliceTarget: 0.95\n      timeSliceWindow: 5m\n")
    rows = gate({"inconclusive": "warn", "openslo": {"files": [str(ts)]},
                 "budget": {"max_incident_share": 0.5}}, redis_report())
    share = next(r for r in rows if r[0] == "budget.max_incident_share")
    assert share[1] is GateOutcome.INCONCLUSIVE and "budget.timeslice" in share[3]


@pytest.mark.parametrize(("policy", "field"), [
    ({"milestones": [{"milestone": "promoted", "max_s": 5}]}, "milestones[0].milestone"),
    ({"milestones": [{"milestone": "decided"}]}, "milestones[0]"),
    ({"budget": {"method": "timeslices"}}, "budget"),
])
def test_bad_failover_policies_are_config_errors(policy: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        policy_from_mapping({**BASE, **policy}, file="p.yaml")
    assert field in str(err.value)


def test_bad_openslo_budgeting_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="budgetingMethod"):
        load_openslo(_openslo(tmp_path, "Monthly"))
