"""Progress display, stop-condition monitor and the run/recheck CLI's checks (no servers)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import harness.stack
from harness.cli import EXIT, main
from harness.commands.run import prepare
from harness.errors import ConfigError
from harness.experiment.method import StopConditionHit, StopMonitor
from harness.experiment.model import StopCondition
from harness.experiment.progress import LiveDisplay, Progress, log_progress

ROOT = Path(__file__).resolve().parents[2]


def _p(**kw: Any) -> Progress:
    base: dict[str, Any] = dict(experiment="x", run_id="r", phase="method", trial=1, trials=2,
                                elapsed_s=12.0, planned_s=60.0, sent=1000, errors=3, rate=99.5,
                                active_faults=("kill(service=app-az-a)",))
    base.update(kw)
    return Progress(**base)


def test_log_progress_writes_one_line_per_change() -> None:
    out = io.StringIO()
    log = log_progress(out)
    log(_p())
    log(_p(sent=2000))
    log(_p(phase="recovery", active_faults=()))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "method trial 1/2" in lines[0] and "faults: kill(service=app-az-a)" in lines[0]
    assert "recovery" in lines[1]


def test_live_display_renders_phase_rate_errors_and_faults() -> None:
    buf = io.StringIO()
    with LiveDisplay(Console(file=buf, width=120, force_terminal=False)) as live:
        live(_p())
    text = buf.getvalue()
    for part in ("method (trial 1/2)", "99.5 req/s", "errors 3", "kill(service=app-az-a)"):
        assert part in text


def test_stop_monitor_fires_only_when_armed_and_over_the_window() -> None:
    m = StopMonitor([StopCondition(max_bad_fraction=0.5, window=2.0)])
    for t in range(5):  # not armed: never fires
        m.observe(float(t), sent=100 * t, errors=90 * t)
    m.armed = True
    with pytest.raises(StopConditionHit) as hit:  # 2 s back: (400-270)/(500-300) = 0.65
        m.observe(5.0, sent=500, errors=400)
    assert hit.value.bad_fraction == pytest.approx(0.65)
    calm = StopMonitor([StopCondition(max_bad_fraction=0.5, window=2.0)], armed=True)
    for t in range(5):
        calm.observe(float(t), sent=100 * t, errors=10 * t)  # 10% bad: never fires
    m2 = StopMonitor([StopCondition(max_bad_fraction=0.5, window=2.0)], armed=True)
    m2.observe(0.0, 0, 0)
    m2.observe(1.0, 100, 90)  # window not covered yet
    with pytest.raises(StopConditionHit) as ei:
        m2.observe(2.5, 250, 200)
    assert ei.value.bad_fraction == pytest.approx(0.8) and ei.value.window_s == 2.5


def test_stop_monitor_counts_dropped_requests_as_due_and_bad() -> None:
    m = StopMonitor([StopCondition(max_bad_fraction=0.5, window=2.0)], armed=True)
    m.observe(0.0, sent=0, errors=0, dropped=0)
    m.observe(1.0, sent=50, errors=0, dropped=50)
    with pytest.raises(StopConditionHit) as hit:  # (0 + 120) / (80 + 120) = 0.6, no errors
        m.observe(2.0, sent=80, errors=0, dropped=120)
    assert hit.value.bad_fraction == pytest.approx(0.6)
    calm = StopMonitor([StopCondition(max_bad_fraction=0.5, window=2.0)], armed=True)
    for t in range(5):  # 10 % dropped: never fires; the rate counts sent requests only
        calm.observe(float(t), sent=90 * t, errors=0, dropped=10 * t)
    assert calm.rate(4.0) == pytest.approx(90.0)


def test_stop_monitor_rate() -> None:
    m = StopMonitor([])
    for t in range(10):
        m.observe(float(t), sent=50 * t, errors=0)
    assert m.rate(9.0) == pytest.approx(50.0)


def _args(*experiments: str, **kw: Any) -> argparse.Namespace:
    base: dict[str, Any] = dict(experiments=list(experiments), knobs=[], seed=None,
                                trials=None, rate=None, quick=False)
    base.update(kw)
    return argparse.Namespace(**base)


def test_prepare_expands_directories_and_applies_overrides() -> None:
    plan = prepare(_args(str(ROOT / "experiments"), knobs=["haproxy.retries=0"], seed=9,
                         quick=True))
    names = [e.name for e, _ in plan]
    assert "app-replica-kill" in names and not any(n.startswith("gameday") for n in names)
    exp, file = next(p for p in plan if p[0].name == "app-replica-kill")
    assert file.endswith("app-replica-kill.yaml")
    assert exp.seed == 9 and exp.stack.knobs["haproxy.retries"] == "0"
    assert exp.trial_s == pytest.approx(132 * 0.25) and exp.load.warmup == 5.0


@pytest.mark.parametrize(("kw", "field"), [
    ({"knobs": ["nope=1"]}, "--set.nope"),
    ({"knobs": ["noequals"]}, "--set"),
    ({"trials": 0}, "--trials"),
    ({"rate": -1.0}, "--rate"),
])
def test_prepare_rejects_bad_options(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as ei:
        prepare(_args(str(ROOT / "experiments" / "app-replica-kill.yaml"), **kw))
    assert ei.value.field == field


def test_cli_bad_file_exits_usage_without_starting_a_stack(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def never(*a: Any, **kw: Any) -> Any:
        raise AssertionError("a stack was started")

    monkeypatch.setattr(harness.stack, "open_stack", never)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nhypothesis: h\nmethod:\n  - fault: kill\n    duration: 5\n")
    assert main(["run", str(bad)]) == EXIT["usage"]
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "method[0].target" in err
    assert main(["recheck", str(tmp_path)]) == EXIT["usage"]
