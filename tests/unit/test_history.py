"""The SQLite run history: round trip, schema versioning, trends, the command, the chart."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from harness.cli import EXIT, main
from harness.errors import HarnessError
from harness.gate import report_from_mapping
from harness.history import (
    ENV_VAR,
    SCHEMA_VERSION,
    HistoryStore,
    TrendPoint,
    default_history_path,
    record_run,
    trend_svg,
    trends,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "fixtures" / "policies" / "examples"


def rep(i: int, *, kind: str = "pass", name: str = "replica-kill", failover: float = 1.0
        ) -> dict[str, Any]:
    data = json.loads((EXAMPLES / f"report-{kind}.json").read_text())
    data["run_id"] = f"run-{name}-{i}"
    data["started_at"] = f"2026-11-{10 + i:02d}T00:00:00+00:00"
    data["experiment"]["name"] = name
    for f in data["faults"]:
        f["failover_s"] = failover
    return data


def test_round_trip_and_ordering(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        assert store.schema_version == SCHEMA_VERSION
        for i in (2, 0, 1):
            store.record_report(report_from_mapping(rep(i, failover=float(i))),
                                gameday_id="gd-1")
        store.record_report(report_from_mapping(rep(3, kind="fail", name="zone-loss")))
        runs = store.runs(experiment="replica-kill")
        assert [r.run_id for r in runs] == ["run-replica-kill-0", "run-replica-kill-1",
                                            "run-replica-kill-2"]
        assert [r.failover_s for r in runs] == [0.0, 1.0, 2.0]
        assert runs[0].gameday_id == "gd-1" and runs[0].verdict == "PASS"
        assert [r.run_id for r in store.runs(experiment="replica-kill", last=2)] == [
            "run-replica-kill-1", "run-replica-kill-2"]
        assert store.experiments() == ["replica-kill", "zone-loss"]
        full = store.report("run-zone-loss-3")
        assert full is not None and full.data == rep(3, kind="fail", name="zone-loss")
        assert store.report("nope") is None
        # recording the same run again replaces it
        store.record_report(report_from_mapping(rep(0, failover=9.0)))
        assert store.runs(experiment="replica-kill")[0].failover_s == 9.0
        assert len(store.runs()) == 4
        store.record_gameday(gameday_id="gd-1", name="default", plan="p.yaml",
                             started_at="2026-11-12T00:00:00+00:00", duration_s=60.0,
                             verdict="PASS", report_path="r/gameday.html", summary={"a": 1})
        assert [g.gameday_id for g in store.gamedays()] == ["gd-1"]
    with HistoryStore(tmp_path / "h.sqlite") as again:  # persisted
        assert len(again.runs()) == 4 and len(again.reports(experiment="replica-kill",
                                                            last=10)) == 3


def test_newer_schema_is_refused_and_garbage_is_named(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    with sqlite3.connect(db) as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(HarnessError, match="upgrade chaos-harness"):
        HistoryStore(db)
    junk = tmp_path / "junk.sqlite"
    junk.write_text("x" * 4096)
    with pytest.raises(HarnessError, match="not a chaos-harness history database"):
        HistoryStore(junk)


def test_default_path_option_env_and_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert default_history_path() == Path("reports/history.sqlite")
    monkeypatch.setenv(ENV_VAR, "/tmp/x.sqlite")
    assert default_history_path() == Path("/tmp/x.sqlite")
    assert default_history_path("y.sqlite") == Path("y.sqlite")


def test_trends_change_vs_median(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        for i, fo in enumerate([1.0, 2.0, 1.0, 4.0]):
            store.record_report(report_from_mapping(rep(i, failover=fo)))
        [t] = trends(store)
        assert t.series("failover_s") == [1.0, 2.0, 1.0, 4.0]
        assert t.change("failover_s") == pytest.approx(3.0)
        assert t.verdicts == {"PASS": 4}
        assert t.to_json()["runs"] == 4


def test_history_command_record_list_trends_json(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "h.sqlite")
    files = []
    for i in range(3):
        p = tmp_path / f"r{i}.json"
        p.write_text(json.dumps(rep(i, failover=1.0 + i)))
        files.append(str(p))
    assert main(["history", "--history", db, "--record", *files]) == 0
    assert "recorded 3 run(s)" in capsys.readouterr().out
    assert main(["history", "--history", db, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["failover_s"] for r in rows] == [1.0, 2.0, 3.0]
    assert main(["history", "--history", db, "--trends", "--json", "-e", "replica-kill"]) == 0
    [t] = json.loads(capsys.readouterr().out)
    assert t["series"]["failover_s"] == [1.0, 2.0, 3.0]
    assert main(["history", "--history", db, "--trends"]) == 0
    assert "replica-kill" in capsys.readouterr().out
    assert main(["history", "--history", db, "--record", str(tmp_path / "no.json")]) == EXIT[
        "usage"]


def test_trend_svg_is_self_contained_and_escaped() -> None:
    pts = [TrendPoint(label=f"d{i}", value=v, verdict=vd, run_id=f"r{i}")
           for i, (v, vd) in enumerate([(1.0, "PASS"), (None, ""), (2.5, "FAIL"), (1.5, "PASS")])]
    svg = trend_svg({"kill <a&b>": pts, "zone": pts[:2]}, title="failover <s>", unit="s")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "kill &lt;a&amp;b&gt;" in svg and "<a&b>" not in svg
    assert svg.count("<circle") == 4  # 3 measured points + 1 in the second series
    assert "#d62728" in svg  # the FAIL marker
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # no external refs
    assert "no measurements" in trend_svg({}, title="t")


def test_record_run_helper(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    (run_dir / "report.json").write_text(json.dumps(rep(1)))
    db = record_run(run_dir, history=tmp_path / "h.sqlite", gameday_id="g")
    with HistoryStore(db) as store:
        [row] = store.runs()
        assert row.run_id == "run-replica-kill-1" and row.gameday_id == "g"
