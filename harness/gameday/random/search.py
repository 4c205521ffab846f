"""The randomised game day: Hypothesis draws fault schedules, each is run for real against the
stack, invariants are checked, and the first broken invariant is shrunk (Hypothesis' shrinker,
``phases=[generate, shrink]``, no example database, bounded examples and wall time) to a minimal
failing schedule, saved as a replayable experiment YAML."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample

from harness.errors import HarnessError
from harness.gameday.random.invariants import (
    INVARIANTS,
    Violation,
    check_reverted,
    check_slo,
    check_writes,
    leftovers,
)
from harness.gameday.random.strategies import Draw, schedules, supported_templates
from harness.gameday.random.writer import AckedWriter, WriteCheck

__all__ = ["Example", "RandomConfig", "RandomOutcome", "SearchResult", "build_experiment",
           "random_gameday", "save_replay", "search_settings", "shrink_search"]

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RandomConfig:
    seed: int
    knobs: Mapping[str, Any] = field(default_factory=dict)
    faults: tuple[str, ...] | None = None  # restrict the catalog
    invariants: tuple[str, ...] = INVARIANTS
    window_s: float = 10.0  # faults start and end inside this window
    recovery_s: float = 6.0
    rate: float = 40.0
    max_faults: int = 2
    max_duration_s: float = 6.0
    examples: int = 6  # generated schedules (shrinking runs are extra, bounded by budget_s)
    budget_s: float = 900.0
    objective: float = 0.9999


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    n: int
    schedule: tuple[Draw, ...]
    violation: Violation | None
    verdict: str
    run_id: str | None
    report_dir: str | None
    wall_s: float
    writes: WriteCheck | None = None

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "schedule": [d.to_step() for d in self.schedule],
                "violation": self.violation.to_json() if self.violation else None,
                "verdict": self.verdict, "run_id": self.run_id, "report_dir": self.report_dir,
                "wall_s": round(self.wall_s, 2),
                "writes": None if self.writes is None else {
                    "attempted": self.writes.attempted, "acked": self.writes.acked,
                    "failed": self.writes.failed, "lost": len(self.writes.lost)}}


@dataclass(frozen=True, slots=True, kw_only=True)
class RandomOutcome:
    examples: tuple[Example, ...]
    minimal: Example | None  # the shrunk failing example
    first_failure: Example | None
    skipped_faults: Mapping[str, str]
    budget_exhausted: bool

    @property
    def found(self) -> bool:
        return self.minimal is not None


def search_settings(examples: int) -> settings:
    """Database-less, bounded, generate + shrink only, no deadline (examples are real runs)."""
    return settings(database=None, max_examples=examples, phases=[Phase.generate, Phase.shrink],
                    deadline=None, suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False, print_blob=False)


def build_experiment(schedule: Sequence[Draw], cfg: RandomConfig, *, name: str,
                     description: str = "") -> Any:
    """The experiment one schedule is run as (and saved as, when it is the minimal failure)."""
    from harness.experiment import Experiment

    return Experiment.model_validate({
        "name": name, "description": description,
        "hypothesis": "the stack keeps its SLO, loses no acknowledged write and every fault is "
                      "reverted under this fault schedule",
        "tags": ["randomised"], "stack": {"knobs": dict(cfg.knobs)},
        "load": {"rate": cfg.rate, "warmup": 2.0, "duration": cfg.window_s + cfg.recovery_s,
                 "timeout": 5.0,  # a quarter of the questions new: provider faults see calls
                 "mix": {"repeat": "generated", "cache_hit_target": 0.75}},
        "steady_state": {"duration": 3.0, "slos": [{"name": "availability",
                                                    "objective": cfg.objective}]},
        "method": [d.to_step() for d in schedule], "trials": 1, "seed": cfg.seed,
        "recovery": cfg.recovery_s})


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    minimal: tuple[Draw, ...] | None  # the shrunk failing schedule
    violation: Violation | None
    tried: int  # distinct schedules evaluated
    exhausted: bool  # the time budget ran out


def shrink_search(strategy: Any, evaluate: Callable[[tuple[Draw, ...]], Violation | None], *,
                  examples: int, seed: int, budget_s: float,
                  clock: Callable[[], float] = time.monotonic) -> SearchResult:
    """Generate schedules until one breaks an invariant, then shrink it with Hypothesis.

    ``evaluate`` runs one schedule and returns the broken invariant (or None). Results are
    cached, so a schedule is never run twice and the shrinker sees consistent answers; shrinking
    follows the first broken invariant only; past ``budget_s`` unexplored schedules count as
    passing, which ends the search with the smallest failure found so far.
    """
    cache: dict[tuple[Any, ...], Violation | None] = {}
    state: dict[str, Any] = {"target": None, "exhausted": False}
    deadline = clock() + budget_s

    def condition(schedule: tuple[Draw, ...]) -> bool:
        key = tuple(d.key() for d in schedule)
        if key not in cache:
            if clock() > deadline:
                state["exhausted"] = True
                return False
            cache[key] = evaluate(schedule)
        v = cache[key]
        if v is None:
            return False
        if state["target"] is None:
            state["target"] = v.invariant
        return bool(v.invariant == state["target"])

    try:
        found = find(strategy, condition, settings=search_settings(examples),
                     random=Random(seed))
    except NoSuchExample:
        return SearchResult(minimal=None, violation=None, tried=len(cache),
                            exhausted=state["exhausted"])
    return SearchResult(minimal=found, violation=cache[tuple(d.key() for d in found)],
                        tried=len(cache), exhausted=state["exhausted"])


class _Runner:
    """Runs one schedule for real against the stack and checks the invariants."""

    def __init__(self, stack: Any, cfg: RandomConfig, *, report_dir: Path, say: Say) -> None:
        self.stack, self.cfg, self.report_dir, self.say = stack, cfg, report_dir, say
        self.examples: list[Example] = []
        self.sentinels = [(s.endpoint("main").host, s.endpoint("main").port)
                          for s in stack.topology.of_kind("sentinel")]

    def evaluate(self, schedule: tuple[Draw, ...]) -> Violation | None:
        return self.run(schedule).violation

    def run(self, schedule: tuple[Draw, ...]) -> Example:
        from harness.experiment import run_experiment
        from harness.faults import heal_all

        n = len(self.examples) + 1
        t0 = time.monotonic()
        exp = build_experiment(schedule, self.cfg, name=f"random-example-{n}")
        self.say(f"example {n}: " + "; ".join(
            f"{d.fault} {d.target or ''} {dict(d.params) or ''} @{d.start_s:g}s "
            f"for {d.duration_s:g}s".replace("  ", " ") for d in schedule))
        heal_all(self.stack, None)
        self.stack.wait_ready(timeout=60.0)
        writes: WriteCheck | None = None
        with ExitStack() as es:  # the writer thread stops when the run ends, however it ends
            writer = (es.enter_context(AckedWriter(self.sentinels))
                      if "writes" in self.cfg.invariants and self.sentinels else None)
            result = run_experiment(exp, stack=self.stack, report_dir=self.report_dir)
        left = leftovers(self.stack)  # before healing: what the run itself left behind
        heal_all(self.stack, None)
        ready_error = None
        try:
            self.stack.wait_ready(timeout=60.0)
        except HarnessError as exc:
            ready_error = str(exc).splitlines()[0]
        if writer is not None and ready_error is None:
            writes = writer.verify(timeout_s=20.0)
        found = [v for v in (
            check_slo(result.report) if "slo" in self.cfg.invariants else None,
            check_writes(writes),
            check_reverted(result.directory / "timeline.zip", left, ready_error)
            if "reverted" in self.cfg.invariants else None) if v is not None]
        ex = Example(n=n, schedule=schedule, violation=found[0] if found else None,
                     verdict=result.verdict, run_id=result.run_id,
                     report_dir=str(result.directory), wall_s=time.monotonic() - t0,
                     writes=writes)
        self.examples.append(ex)
        self.say(f"example {n}: {'VIOLATION ' + ex.violation.message if ex.violation else 'ok'}"
                 f" ({ex.wall_s:.0f} s)")
        return ex


def random_gameday(stack: Any, cfg: RandomConfig, *, report_dir: Path,
                   say: Say) -> RandomOutcome:
    templates, skipped = supported_templates(stack, only=cfg.faults)
    for name, why in skipped.items():
        say(f"not drawing {name}: {why}")
    strategy = schedules(templates, window_s=cfg.window_s, max_faults=cfg.max_faults,
                         max_duration_s=cfg.max_duration_s)
    runner = _Runner(stack, cfg, report_dir=report_dir / "examples", say=say)
    found = shrink_search(strategy, runner.evaluate, examples=cfg.examples, seed=cfg.seed,
                          budget_s=cfg.budget_s)
    by_key = {tuple(d.key() for d in e.schedule): e for e in runner.examples}
    minimal = by_key[tuple(d.key() for d in found.minimal)] if found.minimal else None
    first = next((e for e in runner.examples if e.violation is not None), None)
    return RandomOutcome(examples=tuple(runner.examples), minimal=minimal, first_failure=first,
                         skipped_faults=skipped, budget_exhausted=found.exhausted)


def save_replay(outcome: RandomOutcome, cfg: RandomConfig, *, directory: Path,
                name: str) -> Path | None:
    """Write the minimal failing schedule as an experiment YAML (and the search log as JSON)."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "examples.json").write_text(json.dumps(
        {"seed": cfg.seed, "knobs": dict(cfg.knobs), "budget_exhausted": outcome.budget_exhausted,
         "examples": [e.to_json() for e in outcome.examples]}, indent=2) + "\n", encoding="utf-8")
    ex = outcome.minimal
    if ex is None or ex.violation is None:
        return None
    exp = build_experiment(ex.schedule, cfg, name=name, description=(
        f"Minimal failing schedule found by a randomised game day (seed {cfg.seed}, shrunk from "
        f"example {outcome.first_failure.n if outcome.first_failure else ex.n}). Broken "
        f"invariant '{ex.violation.invariant}': {ex.violation.message}"))
    exp.check()
    data = exp.model_dump(mode="json", exclude_defaults=True)
    data = {"name": data.pop("name"), "description": data.pop("description", ""),
            "hypothesis": data.pop("hypothesis"), **data}
    path = directory / f"{name}.yaml"
    header = (f"# Replay: chaos-harness run {path}\n"
              f"# Found by: chaos-harness gameday --random --seed {cfg.seed}"
              + "".join(f" --set {k}={_cli(v)}" for k, v in cfg.knobs.items()) + "\n"
              f"# Broken invariant: {ex.violation.invariant}: {ex.violation.message}\n"
              "# (the lost-write invariant is checked by randomised game days only; `run` "
              "checks the SLO)\n")
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, width=100), encoding="utf-8")
    return path


def _cli(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
