"""Acknowledged-write checks on the real local stack: a Redis split brain (runs anywhere the
local stack runs) and the Qdrant cluster experiment (needs QDRANT_BIN; skips with the reason)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.experiment import load_experiment
from harness.experiment.runner import run_experiment
from harness.report import load_report
from harness.stack.local.qdrant import qdrant_binary
from harness.timeline import Timeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _run(name: str, tmp_path: Path, knobs: dict[str, Any] | None = None) -> tuple[dict[str, Any],
                                                                                 Timeline]:
    exp = load_experiment(ROOT / "experiments" / f"{name}.yaml")
    if knobs:
        exp = exp.with_overrides(knobs=knobs)
    result = run_experiment(exp, file=str(ROOT / "experiments" / f"{name}.yaml"),
                            report_dir=tmp_path)
    return load_report(result.directory), Timeline.load(result.directory)


def test_redis_split_brain_loses_acknowledged_writes_without_min_replicas(
        stack_skip_reason: Any, tmp_path: Path) -> None:
    reason = stack_skip_reason()
    if reason:
        pytest.skip(reason)
    rep, tl = _run("redis-split-brain-writes", tmp_path, {"redis.min_replicas_to_write": 0})
    (fault,) = rep["faults"]
    assert fault["landed"] is True
    w = fault["writes"]
    if rep["vector_mode"] != "embedded":
        # with QDRANT_BIN the partition splits the Qdrant cluster too: a write is acknowledged
        # only once Qdrant took it, so Redis sees none, and the report must say nothing was
        # tested rather than claim "0 lost"
        assert w["acknowledged"] == 0 and rep["verdict"] != "PASS"
        assert any("nothing was tested" in r for r in rep["verdict_reasons"]), rep["verdict_reasons"]
        return
    assert w["store"] == "redis" and w["checked"] is True and w["acknowledged"] > 0
    assert w["readable_after_heal"] + w["lost"] == w["acknowledged"]
    switched = [e for e in tl.events_of("obs.event") if e.get("event") == "+switch-master"]
    if switched:  # the majority failed over: the old master's acknowledged writes are gone
        assert w["lost"] > 0 and rep["verdict"] == "FAIL"
        assert any("lost after heal" in r for r in rep["verdict_reasons"])
    assert "## Acknowledged writes" in (tmp_path / rep["run_id"] / "report.md").read_text()


def test_qdrant_cluster_keeps_acknowledged_writes(stack_skip_reason: Any,
                                                 tmp_path: Path) -> None:
    reason = stack_skip_reason()
    if reason:
        pytest.skip(reason)
    path, why = qdrant_binary()
    if path is None:
        pytest.skip(f"needs a real Qdrant cluster: {why}")
    rep, tl = _run("qdrant-cluster-writes", tmp_path)
    assert rep["vector_mode"] != "embedded"
    assert [f["landed"] for f in rep["faults"]] == [True] * 4
    for f in rep["faults"]:
        w = f["writes"]
        assert w["store"] == "qdrant" and w["checked"] is True, f
        assert w["acknowledged"] > 0 and w["lost"] == 0 and w["duplicates"] == 0, f
    events = {e.get("event") for e in tl.events_of("obs.event")}
    assert {"qdrant-replica-dead", "qdrant-replica-active", "qdrant-leader-change"} <= events
