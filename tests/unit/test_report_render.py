"""Report rendering from a hand-built report and timeline (no servers, no analysis)."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.report import (
    build_series,
    junit_properties,
    load_report,
    render_html,
    render_markdown,
    validate_report,
    write_report,
)
from harness.timeline import Outcome, RequestRecord, Timeline

T0 = 1_000_000_000_000


def make_timeline(seconds: int = 60, rate: int = 50, outage: tuple[float, float] = (20, 22)
                  ) -> Timeline:
    tl = Timeline()
    tl.add_event("run.start", "runner", t_ns=T0, experiment="x", seed=1, trial=0)
    tl.add_event("phase", "runner", t_ns=T0, name="warmup", trial=0)
    tl.add_event("phase", "runner", t_ns=T0 + 10 * 10**9, name="method", trial=1)
    tl.add_event("fault.inject", "faults", t_ns=T0 + 20 * 10**9, fault_id="f0-process-kill",
                 name="process-kill", target="service=app-az-a", params={}, services=["app-az-a"])
    tl.add_event("obs.state", "haproxy", t_ns=T0 + int(20.8e9), subject="haproxy/app/app-az-a",
                 state="DOWN", healthy=False)
    tl.add_event("fault.revert", "faults", t_ns=T0 + 30 * 10**9, fault_id="f0-process-kill")
    tl.add_event("obs.state", "haproxy", t_ns=T0 + int(31.2e9), subject="haproxy/app/app-az-a",
                 state="UP", healthy=True)
    tl.add_event("obs.event", "sentinel", t_ns=T0 + int(33e9), subject="sentinel/mymaster",
                 event="+switch-master")
    tl.add_event("run.end", "runner", t_ns=T0 + seconds * 10**9, reason="completed")
    step = 10**9 // rate
    for i in range(seconds * rate):
        t = T0 + i * step
        bad = outage[0] * 1e9 <= i * step < outage[1] * 1e9
        tl.add_request(RequestRecord(
            intended_ns=t, start_ns=t + 100_000, end_ns=t + (5_000_000 if not bad else 900_000),
            outcome=Outcome.ERROR if bad else Outcome.OK, status=503 if bad else 200,
            error="HTTPStatus" if bad else "", replica="app-az-b", degraded=i % 97 == 0))
    return tl


def make_report(**over: Any) -> dict[str, Any]:
    slo = {"name": "availability", "objective": 0.9999, "latency_threshold_ms": 2000.0,
           "degraded_is_good": True, "good": 2900, "total": 3000, "bad": 100,
           "bad_fraction": 100 / 3000, "lower": 0.027, "upper": 0.040, "confidence": 0.95,
           "verdict": "FAIL", "needed_requests": None}
    fault = {"id": "f0-process-kill", "name": "process-kill", "family": "process",
             "target": "service=app-az-a", "params": {"signal": "KILL"}, "services": ["app-az-a"],
             "trial": 1, "injected_at_s": 20.0, "reverted_at_s": 30.0, "landed": True,
             "verification": "pid gone", "detect_s": 0.8, "failover_s": 2.0, "recover_s": 1.2,
             "bad_requests": 100, "error_seconds": 2.0}
    rep = {
        "schema": "chaos-harness/report", "version": 1, "run_id": "20261122-001500-x-ab12",
        "experiment": {"name": "app-replica-kill", "description": "Kill one app replica.",
                       "hypothesis": "HAProxy retries hide the kill.", "file": "e.yaml"},
        "seed": 7, "substrate": "local", "vector_mode": "embedded",
        "started_at": "2026-11-22T00:15:00Z", "duration_s": 60.0,
        "knobs": {"haproxy.retries": 0}, "knob_overrides": {"haproxy.retries": 0},
        "verdict": "FAIL", "verdict_reasons": ["availability: lower bound 2.7% > allowed 0.01%"],
        "slos": [slo],
        "error_budget": {"objective": 0.9999, "allowed_bad": 0.3, "bad": 100, "consumed": 333.3},
        "burn": {"windows": [], "alerts": [{"name": "page-1h", "threshold": 14.4, "fired": True}]},
        "latency_ms": {"p50": 5.0, "p90": 5.0, "p99": 6.0, "p999": 900.0, "max": 901.0},
        "generator": {"kind": "openloop", "rate": 50.0, "sent": 3000, "dropped": 0,
                      "fell_behind": False, "lateness_p99_ms": 0.4, "max_lateness_ms": 2.0},
        "faults": [fault], "trials": [{"trial": 1, "verdict": "FAIL", "faults": [fault]}],
        "distributions": {"process-kill": {"failover_s": {"n": 1, "min": 2.0, "median": 2.0,
                                                          "p95": 2.0, "max": 2.0}}},
        "projection": None, "skipped": None,
        "files": {"timeline": "timeline.zip", "markdown": "report.md", "html": "report.html",
                  "junit": "junit.xml"},
    }
    rep.update(over)
    return rep


def test_hand_built_report_is_valid() -> None:
    validate_report(make_report())


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda r: r.pop("verdict"), "<document>"),
    (lambda r: r.update(verdict="MAYBE"), "verdict"),
    (lambda r: r["slos"][0].update(total=-1), "slos[0].total"),
    (lambda r: r["faults"][0].pop("landed"), "faults[0]"),
    (lambda r: r.update(version=2), "version"),
])
def test_schema_rejects_bad_reports(mutate: Any, field: str) -> None:
    rep = make_report()
    mutate(rep)
    with pytest.raises(ConfigError) as ei:
        validate_report(rep)
    assert ei.value.field == field


def test_errors_inside_an_optional_object_name_the_field_not_the_union() -> None:
    """The generated schema writes "X or null" as anyOf; errors still point inside X, and a value
    of neither type is a type error, as with the hand-written ``type: [X, null]``."""
    rep = make_report(writes={"sent": 1, "require_no_loss": True, "stores": {"redis": {}},
                              "reasons": []})
    with pytest.raises(ConfigError, match="'acknowledged' is a required property") as ei:
        validate_report(rep)
    assert ei.value.field == "writes.stores.redis"
    with pytest.raises(ConfigError, match=r"'x' is not of type 'object', 'null'") as ei:
        validate_report(make_report(skipped="x"))
    assert ei.value.field == "skipped"


def test_series_bins_outage_and_windows() -> None:
    s = build_series(make_timeline())
    assert s.bin_s == 1.0
    assert s.bad_per_s[20] == 50 and s.bad_per_s[21] == 50 and s.bad_per_s[19] == 0
    assert s.error_rate[20] == 1.0
    assert [(w.start_s, w.end_s) for w in s.faults] == [(20.0, 30.0)]
    assert {m.healthy for m in s.markers} == {True, False, None}
    assert s.p99_ms[5] == pytest.approx(5.0, rel=0.01)


def test_series_latency_threshold_counts_slow_requests_bad() -> None:
    s = build_series(make_timeline(), threshold_ms=1.0)
    assert s.bad_per_s[5] == 50  # every 5 ms answer is over a 1 ms threshold


def test_html_is_self_contained_and_marks_faults() -> None:
    rep = make_report()
    page = render_html(rep, build_series(make_timeline()))
    assert page.startswith("<!DOCTYPE html>")
    assert "FAIL &mdash; app-replica-kill" in page
    assert page.count("<svg") == 3
    assert 'class="fw"' in page and "haproxy/app/app-az-a: DOWN" in page
    assert 'class="pl">method 1<' in page and 'class="pl">warmup<' in page
    for external in ("http://", "https://", "<script", "<link", "@import", "src="):
        assert external not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    ET.fromstring(page.split("<svg", 1)[1].join(["<svg", ""]).split("</svg>")[0] + "</svg>")


def test_html_for_skipped_run() -> None:
    page = render_html(make_report(skipped={"reason": "needs ZoneIsolatable"}), None)
    assert "SKIPPED" in page and "needs ZoneIsolatable" in page and "<svg" not in page


def test_markdown_has_tables_and_verdict() -> None:
    md = render_markdown(make_report())
    assert md.startswith("# FAIL: app-replica-kill")
    assert "| availability | 99.990% |" in md
    assert "`process-kill`" in md and "page-1h" in md and "`haproxy.retries = 0`" in md


def test_junit_failure_and_properties(tmp_path: Path) -> None:
    files = write_report(make_report(), directory=tmp_path, timeline=make_timeline())
    root = ET.parse(files.junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("tests") == "3"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "FAIL" and props["fault.f0-process-kill.failover_s"] == "2.0"
    assert junit_properties(make_report())["slo.availability.bad"] == "100"


def test_junit_inconclusive_is_skipped() -> None:
    rep = make_report(verdict="INCONCLUSIVE")
    rep["slos"][0]["verdict"] = "INCONCLUSIVE"
    from harness.report import render_junit

    root = ET.fromstring(render_junit(rep))
    assert root.find("testsuite/testcase[@name='slo:availability']/skipped") is not None


def test_write_report_round_trip(tmp_path: Path) -> None:
    tl = make_timeline()
    files = write_report(make_report(), directory=tmp_path / "run", timeline=tl)
    for p in (files.json, files.markdown, files.html, files.junit, files.timeline):
        assert p is not None and p.stat().st_size > 0
    back = load_report(tmp_path / "run")
    assert back["verdict"] == "FAIL" and back["files"]["timeline"] == "timeline.zip"
    assert len(Timeline.load(tmp_path / "run")) == len(tl)
    assert json.loads(files.json.read_text())["schema"] == "chaos-harness/report"


def test_write_report_refuses_invalid(tmp_path: Path) -> None:
    from harness.errors import HarnessError

    rep = copy.deepcopy(make_report())
    rep["slos"][0]["verdict"] = "NOPE"
    with pytest.raises(HarnessError, match="does not match its own schema"):
        write_report(rep, directory=tmp_path)
    assert not (tmp_path / "report.json").exists()


def test_load_report_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no report\.json"):
        load_report(tmp_path)
    (tmp_path / "report.json").write_text("{nope")
    with pytest.raises(ConfigError, match="cannot read report"):
        load_report(tmp_path)
