"""Milestones, judged window and budget shares in every report format (pure rendering)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from harness.experiment import Experiment, FaultStep, LoadSpec
from harness.experiment.assemble import RunFacts, analyse_run, analysis_spec, build_report
from harness.experiment.model import AnalysisSettings, BudgetSettings
from harness.report import render_html, render_markdown, write_report
from harness.timeline import Timeline
from tests.support.synthetic import Outage, SyntheticFault, synthetic_timeline

S = 10**9


def redis_kill_run() -> tuple[dict, Timeline]:  # type: ignore[type-arg]
    exp = Experiment(name="redis-master-kill", hypothesis="h", load=LoadSpec(rate=100, warmup=1),
                     recovery=5, analysis=AnalysisSettings(lead=10),
                     budget=BudgetSettings(production_rate=300),
                     method=(FaultStep(fault="redis-master-loss", start=5, duration=10),))
    tl = synthetic_timeline(duration_s=40, rate=100,
                            outages=[Outage(start_s=10.0, end_s=10.5, mode="error")],
                            faults=[SyntheticFault(fault_id="t1-f0-redis-master-loss",
                                                   name="redis-master-loss", family="datastore",
                                                   inject_s=10.0, revert_s=20.0)])
    origin = tl.events[0].t_ns
    tl.add_event("phase", "runner", t_ns=origin + S, name="method", trial=1)
    for t, subject, event in ((11.07, "sentinel/mymaster/redis-az-a", "+sdown"),
                              (12.30, "sentinel/mymaster/redis-az-b", "+switch-master")):
        tl.add_event("obs.event", "observers", t_ns=origin + round(t * S), subject=subject,
                     event=event, detail="")
    for t, healthy in ((10.1, False), (21.5, True)):
        tl.add_event("obs.state", "observers", t_ns=origin + round(t * S),
                     subject="redis/replication", state="x", healthy=healthy, signal="stack")
    overall, per = analyse_run(tl, analysis_spec(exp))
    rep = build_report(RunFacts(run_id="20261201-150000-redis-master-kill-abcd", experiment=exp,
                                file=None, seed=1, substrate="local", vector_mode="embedded",
                                started_at=datetime(2026, 12, 1, tzinfo=UTC), duration_s=40.0,
                                knobs={}, end_reason="completed"), overall, per)
    return rep, tl


def test_markdown_shows_sentinel_promotion_and_budget_share() -> None:
    rep, _ = redis_kill_run()
    md = render_markdown(rep)
    assert re.search(r"\| 1 \| redis-master-loss \| decided \| 2\.30 \| sentinel \+switch-master", md)
    assert "| redundant | 11.50 |" in md
    assert "## Cost against the real error budget" in md
    assert "30-day window at 99.99 % and 300 req/s in production" in md
    # 50 bad of 100 req/s = 0.5 error-s = 0.19 % of 259.2 s
    assert "| 0.19% | 0.19% |" in md
    assert "P(episode hurts)" in md and "## Judged window" in md


def test_html_has_milestone_table_budget_and_chart_ticks(tmp_path: Path) -> None:
    rep, tl = redis_kill_run()
    files = write_report(rep, directory=tmp_path / "run", timeline=tl)
    html = files.html.read_text()
    assert "<h2>Failover milestones</h2>" in html
    assert "sentinel +switch-master: sentinel/mymaster/redis-az-b +switch-master" in html
    ticks = re.findall(r'class="ms"><title>([\d.]+) s decided \+2\.30 s', html)
    assert ticks and float(ticks[0]) == 12.3  # inject at 10 s + 2.30 s, on the chart's clock
    assert "Judged window and cost against the real budget" in html
    saved = json.loads(files.json.read_text())
    assert saved["faults"][0]["milestones"][1]["at_s"] == 2.3
    assert saved["budget"]["incidents"][0]["share"] > 0
    assert saved["distributions"]["redis-master-loss"]["decided_at_s"]["median"] == 2.3
    assert render_html(rep, None).count("<h2>Failover milestones</h2>") == 1


def test_junit_properties_carry_milestones_and_budget_share() -> None:
    from harness.report import junit_properties

    rep, _ = redis_kill_run()
    props = junit_properties(rep)
    assert props["fault.t1-f0-redis-master-loss.milestone.decided_s"] == "2.3"
    assert float(props["fault.t1-f0-redis-master-loss.budget_share"]) > 0
