"""``junit.xml``: one test suite per run, so CI systems show experiments beside unit tests.

One test case per SLO and per injected fault (did it land), plus ``steady-state``, and from
:mod:`harness.report.exercise` one per fault's exercise and ``steady-state-after``. FAIL becomes
``<failure>``; INCONCLUSIVE and skipped runs become ``<skipped>`` with the reason (the gate, not
JUnit, decides whether INCONCLUSIVE blocks a merge). Key figures go into ``<properties>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from harness.report.exercise import exercise_junit

__all__ = ["junit_properties", "render_junit"]


def junit_properties(rep: Mapping[str, Any]) -> dict[str, str]:
    """The key figures, flat (also used for pytest's ``record_property``)."""
    props = {"run_id": rep["run_id"], "verdict": rep["verdict"], "seed": str(rep["seed"]),
             "substrate": rep["substrate"]}
    for s in rep.get("slos") or []:
        props[f"slo.{s['name']}.total"] = str(s["total"])
        props[f"slo.{s['name']}.bad"] = str(s["bad"])
        props[f"slo.{s['name']}.upper"] = f"{s['upper']:.3e}" if s["upper"] is not None else ""
        props[f"slo.{s['name']}.verdict"] = s["verdict"]
    lat = rep.get("latency_ms") or {}
    if lat.get("p99") is not None:
        props["latency.p99_ms"] = f"{lat['p99']:.1f}"
    for f in rep.get("faults") or []:
        key = f"fault.{f['id']}"
        for m in ("failover_s", "detect_s", "recover_s", "bad_requests"):
            if f.get(m) is not None:
                props[f"{key}.{m}"] = str(round(f[m], 3)) if isinstance(f[m], float) else str(f[m])
        for ms in f.get("milestones") or []:
            if ms.get("at_s") is not None:
                props[f"{key}.milestone.{ms['name']}_s"] = str(round(float(ms["at_s"]), 3))
    for c in (rep.get("budget") or {}).get("incidents") or []:
        if c.get("share") is not None and c.get("fault_id"):
            props[f"fault.{c['fault_id']}.budget_share"] = f"{float(c['share']):.3e}"
    if rep.get("skipped"):
        props["skipped"] = rep["skipped"]["reason"]
    return props


def _case(suite: ET.Element, name: str, cls: str, t: float = 0.0) -> ET.Element:
    return ET.SubElement(suite, "testcase", {"name": name, "classname": cls, "time": f"{t:.3f}"})


def render_junit(rep: Mapping[str, Any]) -> str:
    name = rep["experiment"]["name"]
    cls = f"chaos.{name}"
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", {"name": cls, "timestamp": rep["started_at"],
                                                "time": f"{rep['duration_s']:.3f}"})
    props = ET.SubElement(suite, "properties")
    for k, v in junit_properties(rep).items():
        ET.SubElement(props, "property", {"name": k, "value": v})
    reasons = "; ".join(rep.get("verdict_reasons") or [])
    if rep.get("skipped"):
        ET.SubElement(_case(suite, "experiment", cls), "skipped",
                      {"message": rep["skipped"]["reason"]})
    else:
        ss = rep.get("steady_state")
        case = _case(suite, "steady-state", cls)
        if ss is not None and not ss.get("ok", True):
            ET.SubElement(case, "skipped", {"message": f"steady state failed: "
                                                       f"{ss.get('detail', '')}"})
        for s in rep["slos"]:
            case = _case(suite, f"slo:{s['name']}", cls, rep["duration_s"])
            text = (f"{s['bad']} bad of {s['total']} (bad fraction {s['bad_fraction']}); "
                    f"{s['confidence']:.0%} CI [{s['lower']}, {s['upper']}] vs allowed "
                    f"{1 - s['objective']:.6g}")
            if s["verdict"] == "FAIL":
                ET.SubElement(case, "failure", {"message": f"FAIL: {text}",
                                                "type": "SLOViolation"}).text = reasons
            elif s["verdict"] == "INCONCLUSIVE" or rep["verdict"] == "INCONCLUSIVE":
                ET.SubElement(case, "skipped", {"message": f"INCONCLUSIVE: {text}; {reasons}"})
        for f in rep["faults"]:
            case = _case(suite, f"fault:{f['id']}", cls)
            if not f["landed"]:
                ET.SubElement(case, "skipped", {
                    "message": f"fault never took effect: {f.get('verification', '')}"})
        exercise_junit(suite, rep, cls)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("errors", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") \
        + "\n"
