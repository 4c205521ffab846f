"""Game-day report rendering, verdict combination and the whole-plan projection (pure)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.gameday import (
    ExperimentOutcome,
    GamedayResult,
    project_reports,
    render_html,
    render_markdown,
)
from harness.gameday.render import trend_charts
from harness.gameday.summary import truncated_runs
from harness.gate import report_from_mapping
from harness.history import HistoryStore, trends

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "fixtures" / "policies" / "examples"


def rep(kind: str, **changes: Any):
    data = json.loads((EXAMPLES / f"report-{kind}.json").read_text())
    data.update(changes)
    return report_from_mapping(data)


def result(tmp_path: Path) -> GamedayResult:
    ok, bad = rep("pass"), rep("fail", experiment={"name": "redis-kill", "description": "",
                                                   "hypothesis": "h", "file": None})
    outcomes = (
        ExperimentOutcome(index=0, name="replica-kill", file="a.yaml", status="ran",
                          verdict="PASS", report=ok, report_dir=tmp_path / "runs" / "r1",
                          wall_s=200, planned_s=223),
        ExperimentOutcome(index=1, name="redis-kill", file="b.yaml", status="ran",
                          verdict="FAIL", report=bad, report_dir=tmp_path / "runs" / "r2",
                          wall_s=210, planned_s=223),
        ExperimentOutcome(index=2, name="zone <loss>", file="c.yaml", status="skipped",
                          verdict="INCONCLUSIVE", reason="time budget: 800 s of 840 s used",
                          planned_s=223),
    )
    return GamedayResult(
        gameday_id="gameday-x", started_at="2026-11-22T00:00:00+00:00", duration_s=812.0,
        plan={"name": "default", "file": "experiments/gameday.yaml", "substrate": "local",
              "on_failure": "continue", "budget_s": 840.0},
        outcomes=outcomes, projection=project_reports([ok, bad]), notes=("a note",))


@pytest.mark.parametrize(("verdicts", "combined"), [
    (["PASS", "PASS"], "PASS"),
    (["PASS", "INCONCLUSIVE"], "INCONCLUSIVE"),
    (["INCONCLUSIVE", "FAIL", "PASS"], "FAIL"),
    ([], "INCONCLUSIVE"),
])
def test_game_day_verdict_combines_the_outcomes(verdicts: list[str], combined: str) -> None:
    outcomes = tuple(ExperimentOutcome(index=i, name=f"e{i}", file=f"e{i}.yaml", status="ran",
                                       verdict=v) for i, v in enumerate(verdicts))
    r = GamedayResult(gameday_id="g", plan={}, started_at="2024-01-01T00:00:00Z",
                      duration_s=0.0, outcomes=outcomes)
    assert r.verdict == combined and type(r.verdict) is str


def test_result_verdict_counts_and_json(tmp_path: Path) -> None:
    r = result(tmp_path)
    assert r.verdict == "FAIL"
    assert r.counts() == {"PASS": 1, "FAIL": 1, "INCONCLUSIVE": 0, "skipped": 1, "error": 0}
    doc = r.to_json()
    assert doc["experiments"][0]["failover_s"] == pytest.approx(0.9)  # median of 0.4,0.9,1.1
    assert doc["experiments"][2]["reason"].startswith("time budget")
    assert doc["projection"]["meets"] in ("yes", "no", "uncertain")
    json.dumps(doc)


def test_projection_over_reports_uses_fault_kinds_and_background() -> None:
    p = project_reports([rep("pass"), rep("fail")], frequencies={"process": 12,
                                                                 "provider": 24})
    assert p is not None
    assert {k.name for k in p.kinds} == {"process-kill", "provider-outage"}
    kill = next(k for k in p.kinds if k.name == "process-kill")
    assert kill.frequency_per_year == 12 and kill.per_incident_s.n == 4
    # the FAIL report has 30 bad requests of which 8 are attributed to its faults
    assert p.background_bad_fraction == pytest.approx(22 / 120000)
    assert project_reports([]) is None
    skipped = rep("pass", skipped={"reason": "x"})
    assert project_reports([skipped]) is None


def test_projection_of_a_run_cut_short_cannot_say_yes() -> None:
    ok = rep("pass")
    full = project_reports([ok], frequencies={"process": 1, "provider": 1})
    assert full is not None and full.meets == "yes"
    cut = rep("pass", end_reason="stop-condition")
    assert truncated_runs([cut]) == ["replica-kill (stop-condition)"]
    p = project_reports([cut], frequencies={"process": 1, "provider": 1})
    assert p is not None and p.meets == "uncertain" and p.answer.endswith("uncertain")


def test_markdown_lists_every_experiment_with_links_and_reasons(tmp_path: Path) -> None:
    md = render_markdown(result(tmp_path), base=tmp_path / "gameday-x")
    assert md.startswith("# Game day `default` — FAIL")
    assert "[report](../runs/r1/report.html)" in md
    assert "time budget: 800 s of 840 s used" in md
    assert "INCONCLUSIVE (skipped)" in md
    assert "## Annual availability projection (whole plan)" in md
    assert "process-kill (process)" in md and "took 812 s of a 840 s budget" in md


def test_html_is_self_contained_escaped_and_has_trend_charts(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        for i in range(3):
            data = json.loads((EXAMPLES / "report-pass.json").read_text())
            data.update(run_id=f"r{i}", started_at=f"2026-11-1{i}T00:00:00+00:00")
            store.record_report(report_from_mapping(data))
        charts = trend_charts(trends(store))
    html = render_html(result(tmp_path), base=tmp_path / "gameday-x", charts=charts)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "zone &lt;loss&gt;" in html and "zone <loss>" not in html
    assert html.count("<svg") == 2 and "failover time" in html
    assert '<a href="../runs/r1/report.html">report</a>' in html
    external = re.findall(r'(?:src|href)="(https?:[^"]+)"', html)
    assert external == []  # nothing loaded from elsewhere
    assert "<b>projected availability" in html


def test_summary_states_each_experiments_cache_hit_ratio(tmp_path: Path) -> None:
    with_ratio = rep("pass", cache_hit_ratio={"measured": 0.7484, "target": 0.75,
                                              "requests": 32000, "providers": {}})
    res = result(tmp_path)
    first = dataclasses.replace(res.outcomes[0], report=with_ratio)
    res = dataclasses.replace(res, outcomes=(first, *res.outcomes[1:]))
    md = render_markdown(res, base=tmp_path / "gameday-x")
    assert "| cache hits |" in md
    assert "74.8 % (target 75.0 %)" in md
    assert first.to_json()["cache_hit_ratio"]["measured"] == 0.7484
    assert res.outcomes[1].to_json()["cache_hit_ratio"] is None  # an older report: not stated
