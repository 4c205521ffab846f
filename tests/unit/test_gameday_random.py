"""Randomised game days, the pure parts: strategies, shrinking search, invariants, replay file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from harness.experiment import load_experiment
from harness.faults import build_fault
from harness.gameday.random import (
    CATALOG,
    Draw,
    Example,
    FaultTemplate,
    RandomConfig,
    RandomOutcome,
    Violation,
    WriteCheck,
    build_experiment,
    save_replay,
    schedules,
    search_settings,
    shrink_search,
)
from harness.gameday.random.invariants import check_reverted, check_slo, check_writes
from harness.gameday.random.report import render_random_html, render_random_markdown
from harness.timeline import Timeline

WINDOW = 10.0


@settings(max_examples=60, database=None, deadline=None)
@given(schedules(CATALOG, window_s=WINDOW, max_faults=3, max_duration_s=6.0))
def test_drawn_schedules_are_valid_faults_inside_the_window(schedule: tuple[Draw, ...]) -> None:
    assert 1 <= len(schedule) <= 3
    for d in schedule:
        assert d.start_s >= 0 and d.start_s + d.duration_s <= WINDOW
        assert d.duration_s >= 0.5 and (d.start_s * 2).is_integer()
        build_fault(d.fault, target=d.target, params=d.params)  # the fault library accepts it
    exp = build_experiment(schedule, RandomConfig(seed=1), name="random-x")
    exp.check()
    assert exp.load.duration == WINDOW + 6.0


def _outage_longer_than(limit: float):
    calls: list[tuple[Draw, ...]] = []

    def evaluate(schedule: tuple[Draw, ...]) -> Violation | None:
        calls.append(schedule)
        if any(d.fault == "provider-outage" and d.duration_s >= limit for d in schedule):
            return Violation(invariant="slo", message="outage too long")
        return None
    return evaluate, calls


def test_shrinks_to_a_minimal_failing_schedule() -> None:
    evaluate, calls = _outage_longer_than(2.0)
    strategy = schedules(CATALOG, window_s=WINDOW, max_faults=3, max_duration_s=6.0)
    res = shrink_search(strategy, evaluate, examples=200, seed=3, budget_s=1e9)
    assert res.minimal is not None and res.violation is not None
    [d] = res.minimal  # one fault left, the simplest one that still fails
    assert (d.fault, d.start_s, d.duration_s, dict(d.params)) == (
        "provider-outage", 0.0, 2.0, {"mode": "503"})
    assert len(calls) == res.tried  # each distinct schedule evaluated once (cached)
    assert len({tuple(x.key() for x in c) for c in calls}) == len(calls)


def test_shrinking_follows_the_first_broken_invariant() -> None:
    seen: list[str] = []

    def evaluate(schedule: tuple[Draw, ...]) -> Violation | None:
        if len(schedule) >= 2:
            seen.append("writes")
            return Violation(invariant="writes", message="lost")
        if schedule[0].fault == "provider-outage":
            return Violation(invariant="slo", message="slo")
        return None

    strategy = schedules(CATALOG[1:], window_s=WINDOW, max_faults=3)  # no outage: slo never
    res = shrink_search(strategy, evaluate, examples=200, seed=5, budget_s=1e9)
    assert res.violation is not None and res.violation.invariant == "writes"
    assert res.minimal is not None and len(res.minimal) == 2


def test_no_failure_and_budget_exhaustion() -> None:
    strategy = schedules(CATALOG, window_s=WINDOW)
    res = shrink_search(strategy, lambda s: None, examples=5, seed=1, budget_s=1e9)
    assert res.minimal is None and res.tried <= 5 and not res.exhausted
    now = [0.0]

    def clock() -> float:
        now[0] += 10.0
        return now[0]

    evaluate, calls = _outage_longer_than(0.5)
    res = shrink_search(strategy, evaluate, examples=50, seed=1, budget_s=25.0, clock=clock)
    assert len(calls) <= 3  # the budget, not max_examples, stopped it


def test_search_settings_are_database_less_and_bounded() -> None:
    s = search_settings(7)
    assert s.database is None and s.max_examples == 7 and s.deadline is None
    assert [p.name for p in s.phases] == ["generate", "shrink"]


def test_invariant_checks(tmp_path: Path) -> None:
    slo = {"name": "availability", "objective": 0.9999, "bad": 3, "total": 400,
           "lower": 0.002, "verdict": "FAIL"}
    v = check_slo({"slos": [slo]})
    assert v is not None and v.invariant == "slo" and "3 bad of 400" in v.message
    assert check_slo({"slos": [{**slo, "verdict": "INCONCLUSIVE"}]}) is None
    assert check_writes(WriteCheck(attempted=10, acked=9, failed=1, lost=())) is None
    lost = check_writes(WriteCheck(attempted=10, acked=9, failed=1, lost=(4, 5)))
    assert lost is not None and "2 of 9" in lost.message
    tl = Timeline()
    tl.add_event("fault.inject", "fault", fault_id="f0", name="kill")
    tl.add_event("fault.inject", "fault", fault_id="f1", name="pause")
    tl.add_event("fault.reverted", "fault", fault_id="f0", ok=True, detail="")
    tl.add_event("fault.reverted", "fault", fault_id="f1", ok=False, detail="still paused")
    path = tl.save(tmp_path / "timeline.zip")
    v = check_reverted(path, [], None)
    assert v is not None and "f1" in v.message and "f0" not in v.message
    v = check_reverted(None, ["toxiproxy provider-primary: toxic latency"], "timeout")
    assert v is not None and "toxic latency" in v.message and "not ready" in v.message
    assert check_reverted(None, [], None) is None


def _outcome(tmp_path: Path) -> tuple[RandomOutcome, RandomConfig]:
    big = (Draw(fault="kill", target="service=app-az-b", params={"restart_after": 5.0},
                start_s=3.0, duration_s=4.0),
           Draw(fault="provider-outage", target=None, params={"mode": "reset"}, start_s=1.5,
                duration_s=3.5))
    small = (Draw(fault="provider-outage", target=None, params={"mode": "503"}, start_s=0.0,
                  duration_s=1.0),)
    v = Violation(invariant="slo", message="SLO availability broken: 30 bad of 400")
    first = Example(n=1, schedule=big, violation=v, verdict="FAIL", run_id="r1",
                    report_dir=str(tmp_path / "examples" / "r1"), wall_s=20.0)
    minimal = Example(n=4, schedule=small, violation=v, verdict="FAIL", run_id="r4",
                      report_dir=None, wall_s=18.0)
    cfg = RandomConfig(seed=9, knobs={"app.fallback_enabled": False})
    return RandomOutcome(examples=(first, minimal), minimal=minimal, first_failure=first,
                         skipped_faults={"zone-power": "no namespaces"},
                         budget_exhausted=False), cfg


def test_replay_file_is_a_loadable_experiment_with_the_minimal_schedule(tmp_path: Path) -> None:
    outcome, cfg = _outcome(tmp_path)
    path = save_replay(outcome, cfg, directory=tmp_path, name="random-minimal")
    assert path is not None and (tmp_path / "examples.json").is_file()
    text = path.read_text()
    assert "--set app.fallback_enabled=false" in text and "# Broken invariant: slo" in text
    exp = load_experiment(path)
    assert exp.stack.knobs == {"app.fallback_enabled": False} and exp.seed == 9
    [step] = exp.method
    assert (step.fault, step.start, step.duration, step.params) == (
        "provider-outage", 0.0, 1.0, {"mode": "503"})
    none = RandomOutcome(examples=(), minimal=None, first_failure=None, skipped_faults={},
                         budget_exhausted=True)
    assert save_replay(none, cfg, directory=tmp_path / "n", name="x") is None


def test_random_report(tmp_path: Path) -> None:
    outcome, cfg = _outcome(tmp_path)
    md = render_random_markdown(outcome, cfg, base=tmp_path, replay=tmp_path / "m.yaml")
    assert "FAILURE FOUND" in md and "shrunk from example 1" in md
    assert "[report](examples/r1/report.html)" in md and "zone-power" in md
    html = render_random_html(md)
    assert '<a href="examples/r1/report.html">report</a>' in html and "<b>slo</b>" in html


@pytest.mark.parametrize("template", CATALOG, ids=lambda t: f"{t.fault}")
def test_every_catalog_choice_builds(template: FaultTemplate) -> None:
    for target in template.targets:
        for name, choices in template.params.items():
            for value in choices:
                build_fault(template.fault, target=target,
                            params={**{k: v[0] for k, v in template.params.items()},
                                    name: value})
