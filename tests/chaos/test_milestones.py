"""Failover milestones read from a real stack's own signals (``pytest -m chaos``).

A Redis master SIGKILL is decided by Sentinel's ``+switch-master`` (about 2-3 s with the stack's
defaults: down-after 1 s, then the election); a zone power loss by HAProxy marking the zone's
replica DOWN. The bounds are loose on purpose: the machine is shared and timings are noisy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.experiment import load_experiment

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

CATALOG = Path(__file__).resolve().parents[2] / "experiments"
Runner = Callable[..., Any]


def _shrunk(name: str) -> Any:
    return load_experiment(CATALOG / f"{name}.yaml").with_overrides(
        rate=30.0, duration_scale=0.12, min_warmup=15.0, seed=11)


def _milestones(result: Any) -> dict[str, tuple[float | None, str]]:
    if result.report["end_reason"] == "steady-state-failed":
        pytest.skip(f"the stack was not steady before the method on this machine: "
                    f"{result.report['steady_state']['detail']}")
    (fault,) = result.report["faults"]
    assert fault["landed"], fault
    return {m["name"]: (m["at_s"], m["signal"]) for m in fault["milestones"]}


def test_redis_master_kill_is_decided_by_sentinel_promotion(run_experiment: Runner) -> None:
    result = run_experiment(_shrunk("redis-master-kill"))
    m = _milestones(result)
    at, signal = m["decided"]
    assert signal.startswith("sentinel +switch-master"), m
    assert at is not None and 0.5 < at < 10.0, m
    assert m["detected"][0] is not None and m["detected"][0] <= at, m
    md = (result.directory / "report.md").read_text()
    assert "| decided |" in md and "+switch-master" in md
    assert "+switch-master" in (result.directory / "report.html").read_text()
    assert result.report["budget"]["window_s"] == 30 * 86400


def test_zone_power_loss_is_decided_by_haproxy_down(run_experiment: Runner) -> None:
    result = run_experiment(_shrunk("zone-power-loss"))
    m = _milestones(result)
    at, signal = m["decided"]
    assert signal.startswith("haproxy DOWN: haproxy/"), m
    assert at is not None and at < 10.0, m
