"""Game days: a plan of experiments run against one shared stack within a time budget, with a
game-day report (Markdown + self-contained HTML) and every run recorded in the history; and
randomised game days (:mod:`harness.gameday.random`) that search fault schedules with
Hypothesis, check invariants and shrink a failure to a replayable experiment."""

from __future__ import annotations

from harness.gameday.plan import Plan, PlanEntry, load_plan, plan_from_mapping, plan_schema
from harness.gameday.render import render_html, render_markdown
from harness.gameday.runner import GamedayFiles, make_gameday_id, run_gameday
from harness.gameday.summary import (
    ExperimentOutcome,
    GamedayResult,
    project_reports,
)

__all__ = [
    "ExperimentOutcome",
    "GamedayFiles",
    "GamedayResult",
    "Plan",
    "PlanEntry",
    "load_plan",
    "make_gameday_id",
    "plan_from_mapping",
    "plan_schema",
    "project_reports",
    "render_html",
    "render_markdown",
    "run_gameday",
]
