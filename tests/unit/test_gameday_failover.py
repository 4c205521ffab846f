"""Game-day summary of milestones per fault family and the episode view over a plan (pure)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.gameday import ExperimentOutcome, GamedayResult, render_html, render_markdown
from harness.gameday.failover import episode_summary, milestone_medians
from harness.gate import report_from_mapping

ROOT = Path(__file__).resolve().parents[2]


def report(name: str, family: str, decided: list[tuple[float, str]], bad: list[int]) -> Any:
    data = json.loads((ROOT / "fixtures/policies/examples/report-pass.json").read_text())
    template = data["faults"][0]
    faults, incidents = [], []
    for i, ((at, signal), b) in enumerate(zip(decided, bad, strict=True)):
        f = copy.deepcopy(template)
        f.update(id=f"t{i + 1}-f0", name=name, family=family, trial=i + 1, bad_requests=b,
                 error_seconds=b / 100, milestones=[
                     {"name": "detected", "at_s": 0.1, "signal": "x"},
                     {"name": "decided", "at_s": at, "signal": f"{signal}: subject"},
                     {"name": "served", "at_s": 0.0, "signal": "clients"},
                     {"name": "redundant", "at_s": None, "signal": "never lost"}])
        faults.append(f)
        incidents.append({"name": name, "family": family, "trial": i + 1, "bad_requests": b,
                          "error_seconds": b / 100, "share": b / 100 / 259.2})
    data.update(experiment={**data["experiment"], "name": name}, faults=faults,
                budget={"objective": 0.9999, "production_rate": 100.0, "window_s": 2592000.0,
                        "method": "occurrences", "incidents": incidents})
    return report_from_mapping(data)


REDIS = report("redis-master-loss", "datastore",
               [(2.31, "sentinel +switch-master"), (2.26, "sentinel +switch-master"),
                (2.30, "sentinel +switch-master")], [0, 0, 0])
ZONE = report("zone-power", "zone", [(0.28, "haproxy DOWN"), (0.26, "haproxy DOWN"),
                                     (0.37, "haproxy DOWN")], [0, 12, 0])


def test_milestone_medians_per_family() -> None:
    med = milestone_medians([REDIS, ZONE])
    assert med["datastore"]["decided"]["median"] == pytest.approx(2.30)
    assert med["datastore"]["decided"]["signals"] == ["sentinel +switch-master"]
    assert med["zone"]["decided"]["median"] == pytest.approx(0.28)
    assert (med["zone"]["redundant"]["n"], med["zone"]["redundant"]["missing"]) == (0, 3)


def test_episode_summary_over_the_plan() -> None:
    eps = episode_summary([REDIS, ZONE])
    assert (eps["redis-master-loss"]["episodes"], eps["redis-master-loss"]["hurt"]) == (3, 0)
    assert eps["redis-master-loss"]["p_hurt_upper"] == pytest.approx(1 - 0.05 ** (1 / 3))
    assert eps["zone-power"]["hurt"] == 1


def test_gameday_report_shows_milestone_medians(tmp_path: Path) -> None:
    outcomes = tuple(ExperimentOutcome(index=i, name=r.experiment, file=f"{i}.yaml",
                                       status="ran", verdict="PASS", report=r,
                                       report_dir=tmp_path / r.experiment)
                     for i, r in enumerate((REDIS, ZONE)))
    res = GamedayResult(gameday_id="g", plan={"name": "p", "substrate": "local",
                                              "on_failure": "continue"},
                        started_at="2026-12-01T15:00:00+00:00", duration_s=10.0,
                        outcomes=outcomes)
    md = render_markdown(res, base=tmp_path)
    assert "| datastore | 0.10 (n=3) | 2.30 (n=3) | 0.00 (n=3) | - (n=0) | " \
           "sentinel +switch-master |" in md
    assert "| zone | 0.10 (n=3) | 0.28 (n=3) |" in md
    assert "## Episodes (one fault occurrence = one draw)" in md
    assert "haproxy DOWN" in render_html(res, base=tmp_path, charts={})
    js = res.to_json()
    assert js["milestones"]["datastore"]["decided"]["median"] == pytest.approx(2.30)
    assert js["episodes"]["zone-power"]["hurt"] == 1
