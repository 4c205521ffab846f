"""Game days against a real local stack: a tiny plan end to end (shared stack, heal between
experiments, budget skip, history, report, gate) and a randomised game day on a weakened stack
that finds, shrinks and saves a replayable failure. A few minutes in all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.cli import EXIT, main
from harness.experiment import load_experiment
from harness.gameday import plan_from_mapping, run_gameday
from harness.history import HistoryStore
from harness.stack import available_substrates

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"


@pytest.fixture(autouse=True)
def _needs_local() -> None:
    problem = available_substrates().get("local")
    if problem:
        pytest.skip(f"the local substrate cannot run here: {problem}")


def test_tiny_gameday_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_from_mapping({
        "schema": "chaos-harness/gameday-plan", "version": 1, "name": "it-tiny",
        "budget": 180, "experiments": [
            {"file": "app-replica-kill.yaml", "rate": 40, "duration_scale": 0.1},
            {"file": "provider-outage.yaml", "rate": 40, "duration_scale": 0.1},
            {"file": "zone-power-loss.yaml"},  # plans ~162 s: always over the budget by then
        ]}, file="it-tiny.yaml", base_dir=EXPERIMENTS)
    history = tmp_path / "h.sqlite"
    files = run_gameday(plan, report_dir=tmp_path / "reports", history=history,
                        say=lambda s: None)
    ran, ran2, skipped = files.result.outcomes
    assert ran.status == "ran" and ran2.status == "ran", (ran.reason, ran2.reason)
    assert skipped.status == "skipped" and skipped.reason.startswith("time budget")
    assert ran.html is not None and ran.html.is_file()
    html = files.html.read_text()
    for o in (ran, ran2):
        assert o.report is not None and o.report.experiment == o.name
        link = Path(files.directory, re.search(
            rf'href="([^"]*{o.report.run_id}/report.html)"', html)[1])  # type: ignore[index]
        assert link.resolve() == o.html.resolve()  # type: ignore[union-attr]
    assert "<svg" in html and "Annual availability projection" in html
    doc = json.loads(files.json.read_text())
    assert doc["counts"]["skipped"] == 1 and doc["gameday_id"] == files.result.gameday_id
    with HistoryStore(history) as store:
        rows = store.runs(gameday_id=files.result.gameday_id)
        assert sorted(r.experiment for r in rows) == ["app-replica-kill", "provider-outage"]
        assert [g.gameday_id for g in store.gamedays()] == [files.result.gameday_id]
    # the gate on the game day's reports: never an error, a table row per rule
    reports = [str(o.report_dir) for o in (ran, ran2)]
    code = main(["gate", "--policy", str(ROOT / "fixtures/policies/ci.yaml"), "--history",
                 str(history), *reports])
    assert code in (EXIT["ok"], EXIT["fail"], EXIT["inconclusive"])
    assert "verdict.minimum" in capsys.readouterr().out


def test_random_gameday_finds_shrinks_and_saves_a_replayable_failure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["gameday", "--random", "--seed", "3", "--set", "app.fallback_enabled=false",
                 "--set", "app.degrade_enabled=false", "--set", "app.cache_enabled=false",
                 "--faults", "provider-outage,provider-5xx", "--examples", "2", "--budget", "90",
                 "--window", "4", "--rate", "30", "--report-dir", str(tmp_path)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == EXIT["fail"], out
    assert out[-1].endswith("random.html") and Path(out[-1]).is_file()
    replay = Path(next(line for line in out if line.startswith("minimal failing experiment:"))
                  .split(": ", 1)[1])
    exp = load_experiment(replay)  # replayable with `chaos-harness run`
    assert exp.stack.knobs["app.fallback_enabled"] is False
    assert 1 <= len(exp.method) <= 2
    assert {s.fault for s in exp.method} <= {"provider-outage", "provider-5xx"}
    log = json.loads((replay.parent / "examples.json").read_text())
    assert any(e["violation"] for e in log["examples"])
    for e in log["examples"]:  # the writer ran and nothing acknowledged was lost
        assert e["writes"] is None or e["writes"]["lost"] == 0
