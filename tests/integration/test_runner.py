"""The runner against a real local stack: report files, faults reverted, Ctrl-C, stop
conditions, unsupported faults reported as skipped (no load started)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.experiment import Experiment, FaultStep, LoadSpec, SteadyState, StopCondition
from harness.experiment.runner import run_experiment
from harness.faults import active_handles
from harness.report import load_report
from harness.timeline import Timeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def short(name: str, *steps: FaultStep, **kw: Any) -> Experiment:
    exp = Experiment(
        name=name, description="integration test", hypothesis="the runner does its job",
        load=LoadSpec(rate=20, warmup=1, arrivals="constant"),
        steady_state=SteadyState(duration=2), method=steps, recovery=2, seed=5, **kw)
    exp.check()
    return exp


def test_run_writes_valid_report_and_reverts(healed_stack: Any, tmp_path: Path) -> None:
    exp = short("it-provider-5xx", FaultStep(fault="provider-5xx", params={"status": 503},
                                             start=1, duration=3))
    seen: list[str] = []
    result = run_experiment(exp, stack=healed_stack, report_dir=tmp_path,
                            progress=lambda p: seen.append(p.phase))
    rep = load_report(result.directory)  # validates against the schema
    assert rep["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE") and rep["seed"] == 5
    assert [f["name"] for f in rep["faults"]] == ["provider-5xx"]
    f = rep["faults"][0]
    assert f["landed"] is True and f["revert_verified"] is True
    assert 0.5 < f["reverted_at_s"] - f["injected_at_s"] < 6
    for phase in ("warmup", "steady", "method", "recovery", "analysing", "done"):
        assert phase in seen
    assert rep["generator"]["sent"] > 50 and rep["steady_state"]["ok"] is True
    for name in ("report.md", "report.html", "junit.xml", "timeline.zip"):
        assert (result.directory / name).stat().st_size > 0
    tl = Timeline.load(result.directory)
    kinds = [e.kind for e in tl.events]
    assert kinds.count("fault.inject") == 1 and kinds.count("fault.reverted") == 1
    assert "heal" in kinds or "run.end" in kinds
    assert active_handles() == ()


def test_unsupported_fault_is_skipped_without_load(healed_stack: Any, tmp_path: Path) -> None:
    if healed_stack.topology.vector_mode == "cluster":
        pytest.skip("a qdrant cluster is running here, so qdrant-node-loss is supported")
    exp = short("it-qdrant", FaultStep(fault="qdrant-node-loss", duration=2))
    result = run_experiment(exp, stack=healed_stack, report_dir=tmp_path)
    assert result.skipped and "QdrantCluster" in result.skipped
    rep = load_report(result.directory)
    assert rep["skipped"]["capability"] == "QdrantCluster" and rep["generator"]["sent"] == 0
    assert not (result.directory / "timeline.zip").exists()
    assert "SKIPPED" in (result.directory / "report.html").read_text()


def test_stop_condition_aborts_and_heals(healed_stack: Any, tmp_path: Path) -> None:
    exp = short("it-stop", FaultStep(fault="kill", target="kind=app", start=1, duration=30),
                stop_conditions=(StopCondition(max_bad_fraction=0.5, window=2),))
    t0 = time.monotonic()
    result = run_experiment(exp, stack=healed_stack, report_dir=tmp_path)
    assert time.monotonic() - t0 < 30, "the stop condition should have cut the 30 s fault"
    rep = result.report
    assert rep["end_reason"] == "stop-condition" and rep["stop_condition"]["bad_fraction"] > 0.5
    assert rep["verdict"] in ("FAIL", "INCONCLUSIVE")
    assert rep["faults"][0]["landed"] is True
    healed_stack.wait_ready(60.0)  # every replica came back


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_reverts_heals_and_writes_report(stack_skip_reason: Any, tmp_path: Path,
                                                sig: signal.Signals) -> None:
    """Ctrl-C or SIGTERM in the middle of the method: exit 130, faults reverted, the run's own
    stack torn down, the report of the partial run kept."""
    if reason := stack_skip_reason():
        pytest.skip(reason)
    from harness.stack.local.record import RunStore
    from harness.stack.local.verify import leftovers

    exp_file = tmp_path / "e.yaml"
    exp_file.write_text(
        "name: it-sigint\nhypothesis: h\nload: {rate: 10, warmup: 1s}\n"
        "steady_state: {duration: 2s}\nmethod:\n  - fault: pause\n    target: service=app-az-c\n"
        "    start: 1s\n    duration: 60s\nseed: 3\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(exp_file), "--report-dir",
         str(tmp_path / "r"), "--no-live"], cwd=ROOT, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stderr is not None
    deadline = time.monotonic() + 150
    for line in proc.stderr:
        if "faults: pause" in line or time.monotonic() > deadline:
            break
    time.sleep(1.0)
    keys = {r.key for r in RunStore().all() if "it-sigint" in r.run_id}
    assert keys, "the run's stack record was not found"
    proc.send_signal(sig)
    rc = proc.wait(timeout=120)
    err = proc.stderr.read()
    proc.stderr.close()
    assert rc == 130, err
    reports = list((tmp_path / "r").glob("*/report.json"))
    assert len(reports) == 1, err
    rep = json.loads(reports[0].read_text())
    assert rep["verdict"] == "INCONCLUSIVE" and rep["end_reason"] == "interrupted"
    tl = Timeline.load(reports[0].parent)
    reverted = [e for e in tl.events if e.kind == "fault.reverted"]
    assert reverted and all(e.get("ok") for e in reverted)
    for key in keys:
        assert leftovers(key) == [], f"run {key} left things behind"
