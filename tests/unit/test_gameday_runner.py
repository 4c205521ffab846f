"""Game-day orchestration decisions (budget, on_failure, errors, Ctrl-C) with the experiment
runs replaced by canned outcomes: the real runs are covered in tests/integration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import StackError
from harness.gameday import ExperimentOutcome, plan_from_mapping, run_gameday
from harness.gameday import runner as gd
from harness.history import HistoryStore

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def plan(**changes: Any):
    return plan_from_mapping({
        "schema": "chaos-harness/gameday-plan", "version": 1, "name": "t", **changes,
        "experiments": changes.get("experiments") or [
            {"file": "app-replica-kill.yaml", "duration_scale": 0.1},
            {"file": "provider-outage.yaml", "duration_scale": 0.1},
            {"file": "redis-master-kill.yaml", "duration_scale": 0.1}]},
        file="t.yaml", base_dir=EXPERIMENTS)


@pytest.fixture
def fake_runs(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    verdicts: dict[str, Any] = {}
    ran: list[str] = []

    def run_one(entry: Any, shared: Any, **kw: Any) -> ExperimentOutcome:
        ran.append(entry.name)
        v = verdicts.get(entry.name, "PASS")
        if isinstance(v, BaseException):
            raise v
        return ExperimentOutcome(index=entry.index, name=entry.name, file=str(entry.file),
                                 status="ran", verdict=v, wall_s=1.0, planned_s=entry.planned_s)

    monkeypatch.setattr(gd, "_run_one", run_one)
    monkeypatch.setattr(gd._SharedStack, "heal_and_check", lambda self: "healed: x")
    return {"verdicts": verdicts, "ran": ran}


def go(p: Any, tmp_path: Path):
    return run_gameday(p, report_dir=tmp_path / "r", history=tmp_path / "h.sqlite",
                       say=lambda s: None, gameday_id="gd-1")


def test_all_run_and_the_report_is_written(tmp_path: Path, fake_runs: dict[str, Any]) -> None:
    files = go(plan(), tmp_path)
    assert fake_runs["ran"] == ["app-replica-kill", "provider-outage", "redis-master-kill"]
    assert files.result.verdict == "PASS" and files.html.is_file() and files.markdown.is_file()
    assert files.result.notes == ("before provider-outage: healed: x",
                                  "before redis-master-kill: healed: x")
    with HistoryStore(tmp_path / "h.sqlite") as store:
        [g] = store.gamedays()
        assert g.gameday_id == "gd-1" and g.verdict == "PASS"


def test_on_failure_stop_skips_the_rest(tmp_path: Path, fake_runs: dict[str, Any]) -> None:
    fake_runs["verdicts"]["app-replica-kill"] = "FAIL"
    files = go(plan(on_failure="stop"), tmp_path)
    assert fake_runs["ran"] == ["app-replica-kill"]
    _, b, c = files.result.outcomes
    assert b.status == c.status == "skipped" and "on_failure: stop" in b.reason
    assert files.result.verdict == "FAIL"
    fake_runs["ran"].clear()
    assert go(plan(), tmp_path).result.counts()["FAIL"] == 1 and len(fake_runs["ran"]) == 3


def test_budget_skips_what_would_overrun(tmp_path: Path, fake_runs: dict[str, Any]) -> None:
    p = plan(budget=60, experiments=[{"file": "app-replica-kill.yaml", "duration_scale": 0.1},
                                     {"file": "provider-outage.yaml"}])  # 360 s: never fits
    files = go(p, tmp_path)
    assert fake_runs["ran"] == ["app-replica-kill"]
    skipped = files.result.outcomes[1]
    assert skipped.status == "skipped" and skipped.reason.startswith("time budget")
    assert files.result.verdict == "INCONCLUSIVE"


def test_stack_error_marks_the_rest(tmp_path: Path, fake_runs: dict[str, Any]) -> None:
    fake_runs["verdicts"]["app-replica-kill"] = StackError("haproxy would not start")
    files = go(plan(), tmp_path)
    a, b, _ = files.result.outcomes
    assert a.status == "error" and "haproxy would not start" in a.reason
    assert b.status == "skipped" and "would not start" in b.reason
    assert files.stack_error and fake_runs["ran"] == ["app-replica-kill"]


def test_ctrl_c_writes_the_partial_report(tmp_path: Path, fake_runs: dict[str, Any]) -> None:
    fake_runs["verdicts"]["provider-outage"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        go(plan(), tmp_path)
    doc = json.loads((tmp_path / "r" / "gd-1" / "gameday.json").read_text())
    assert [e["status"] for e in doc["experiments"]] == ["ran", "skipped", "skipped"]
    assert "interrupted" in doc["experiments"][1]["reason"]
