"""Randomised game days: Hypothesis draws fault schedules from the catalog, each runs for real,
invariants are checked (SLO held, no acknowledged write lost, every fault reverted), and a
failure is shrunk to a minimal schedule saved as a replayable experiment YAML."""

from __future__ import annotations

from harness.gameday.random.invariants import INVARIANTS, Violation
from harness.gameday.random.search import (
    Example,
    RandomConfig,
    RandomOutcome,
    SearchResult,
    build_experiment,
    random_gameday,
    save_replay,
    search_settings,
    shrink_search,
)
from harness.gameday.random.strategies import CATALOG, Draw, FaultTemplate, schedules
from harness.gameday.random.writer import AckedWriter, WriteCheck

__all__ = [
    "CATALOG",
    "INVARIANTS",
    "AckedWriter",
    "Draw",
    "Example",
    "FaultTemplate",
    "RandomConfig",
    "RandomOutcome",
    "SearchResult",
    "Violation",
    "WriteCheck",
    "build_experiment",
    "random_gameday",
    "save_replay",
    "schedules",
    "search_settings",
    "shrink_search",
]
