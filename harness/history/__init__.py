"""The run history (SQLite): every run and game day, trends per experiment, trend charts."""

from __future__ import annotations

from harness.history.chart import TrendPoint, trend_svg
from harness.history.store import (
    DEFAULT_HISTORY,
    ENV_VAR,
    SCHEMA_VERSION,
    GamedayRow,
    HistoryStore,
    RunRow,
    default_history_path,
    record_run,
)
from harness.history.trends import ExperimentTrend, trends

__all__ = [
    "DEFAULT_HISTORY",
    "ENV_VAR",
    "SCHEMA_VERSION",
    "ExperimentTrend",
    "GamedayRow",
    "HistoryStore",
    "RunRow",
    "TrendPoint",
    "default_history_path",
    "record_run",
    "trend_svg",
    "trends",
]
