"""The run history: every experiment run and game day, in one SQLite file.

Default path ``reports/history.sqlite``; override with ``--history PATH`` or the environment
variable ``CHAOS_HARNESS_HISTORY``. The schema is versioned with ``PRAGMA user_version`` and
migrated forward on open; a file written by a newer harness is refused (not silently misread).
The full report.json of each run is kept, so trends and regression checks can compute any
metric later with the same code the gate uses.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import HarnessError
from harness.gate.reports import LoadedReport, metric_value, report_from_mapping

__all__ = [
    "DEFAULT_HISTORY",
    "ENV_VAR",
    "SCHEMA_VERSION",
    "GamedayRow",
    "HistoryStore",
    "RunRow",
    "default_history_path",
    "record_run",
]

ENV_VAR = "CHAOS_HARNESS_HISTORY"
DEFAULT_HISTORY = Path("reports") / "history.sqlite"
SCHEMA_VERSION = 1

#: Migrations: entry i brings the database from user_version i to i + 1.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        experiment TEXT NOT NULL,
        file TEXT,
        started_at TEXT NOT NULL,
        duration_s REAL,
        substrate TEXT,
        verdict TEXT NOT NULL,
        seed INTEGER,
        budget_consumed REAL,
        bad INTEGER,
        total INTEGER,
        latency_p99_ms REAL,
        skipped TEXT,
        report_path TEXT,
        gameday_id TEXT,
        recorded_at TEXT NOT NULL,
        report_json TEXT NOT NULL
    );
    CREATE INDEX runs_by_experiment ON runs (experiment, started_at);
    CREATE TABLE faults (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        trial INTEGER,
        name TEXT NOT NULL,
        family TEXT,
        target TEXT,
        landed INTEGER NOT NULL,
        detect_s REAL,
        failover_s REAL,
        recover_s REAL,
        bad_requests INTEGER,
        error_seconds REAL,
        PRIMARY KEY (run_id, idx)
    );
    CREATE TABLE gamedays (
        gameday_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        plan TEXT,
        started_at TEXT NOT NULL,
        duration_s REAL,
        verdict TEXT NOT NULL,
        report_path TEXT,
        summary_json TEXT NOT NULL
    );
    """,
)


def default_history_path(explicit: str | Path | None = None) -> Path:
    """``explicit`` if given, else ``$CHAOS_HARNESS_HISTORY``, else ``reports/history.sqlite``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DEFAULT_HISTORY


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRow:
    run_id: str
    experiment: str
    started_at: str
    duration_s: float | None
    verdict: str
    budget_consumed: float | None
    total: int | None
    bad: int | None
    latency_p99_ms: float | None
    skipped: str | None
    report_path: str | None
    gameday_id: str | None
    failover_s: float | None  # median over the run's faults (None: none measured)
    recover_s: float | None
    detect_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True, kw_only=True)
class GamedayRow:
    gameday_id: str
    name: str
    plan: str | None
    started_at: str
    duration_s: float | None
    verdict: str
    report_path: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


class HistoryStore:
    """An open history database (a context manager; also usable with explicit ``close``)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = default_history_path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=10.0)
        except sqlite3.Error as exc:
            raise HarnessError(f"cannot open history database {self.path}: {exc}; pass another "
                               f"path with --history or {ENV_VAR}") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        try:
            version = self.schema_version
        except sqlite3.DatabaseError as exc:
            raise HarnessError(f"{self.path} is not a chaos-harness history database ({exc}); "
                               f"move it away or choose another path") from None
        if version > SCHEMA_VERSION:
            raise HarnessError(
                f"{self.path} has history schema version {version}, this harness reads up to "
                f"{SCHEMA_VERSION}; upgrade chaos-harness or use another --history file")
        for target in range(version, SCHEMA_VERSION):
            with self._db:
                self._db.executescript(MIGRATIONS[target])
                self._db.execute(f"PRAGMA user_version = {target + 1}")

    # -- writing ---------------------------------------------------------------------------------

    def record_report(self, report: LoadedReport, *, gameday_id: str | None = None,
                      recorded_at: datetime | None = None) -> None:
        """Insert (or replace, by run_id) one run."""
        d = report.data
        slo = (d.get("slos") or [{}])[0] if d.get("slos") else {}
        now = (recorded_at or datetime.now(UTC)).isoformat()
        with self._db:
            self._db.execute("DELETE FROM runs WHERE run_id = ?", (report.run_id,))
            self._db.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (report.run_id, report.experiment, d["experiment"].get("file"), d["started_at"],
                 d.get("duration_s"), d.get("substrate"), report.verdict, d.get("seed"),
                 (d.get("error_budget") or {}).get("consumed"), slo.get("bad"),
                 slo.get("total"), (d.get("latency_ms") or {}).get("p99"),
                 report.skipped_reason, str(report.path) if report.path else None, gameday_id,
                 now, json.dumps(d, separators=(",", ":"))))
            self._db.executemany(
                "INSERT INTO faults VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(report.run_id, i, f.get("trial"), f["name"], f.get("family"), f.get("target"),
                  int(bool(f.get("landed"))), f.get("detect_s"), f.get("failover_s"),
                  f.get("recover_s"), f.get("bad_requests"), f.get("error_seconds"))
                 for i, f in enumerate(report.faults)])

    def record_gameday(self, *, gameday_id: str, name: str, plan: str | None, started_at: str,
                       duration_s: float, verdict: str, report_path: str | None,
                       summary: Mapping[str, Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO gamedays VALUES (?,?,?,?,?,?,?,?)",
                             (gameday_id, name, plan, started_at, duration_s, verdict,
                              report_path, json.dumps(summary, separators=(",", ":"))))

    # -- reading ---------------------------------------------------------------------------------

    def experiments(self) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT experiment FROM runs ORDER BY experiment")
        return [r[0] for r in rows]

    def runs(self, *, experiment: str | None = None, last: int | None = None,
             gameday_id: str | None = None) -> list[RunRow]:
        """Runs, oldest first (the newest ``last`` when given)."""
        where, args = self._where(experiment=experiment, gameday_id=gameday_id)
        sql = (f"SELECT * FROM runs {where} ORDER BY started_at DESC, recorded_at DESC"
               + (" LIMIT ?" if last else ""))
        rows = list(self._db.execute(sql, (*args, last) if last else args))
        return [self._row(r) for r in reversed(rows)]

    def reports(self, *, experiment: str, last: int, exclude_run_id: str | None = None,
                verdicts: Sequence[str] = ("PASS", "FAIL", "INCONCLUSIVE"),
                before: str | None = None, include_skipped: bool = False) -> list[LoadedReport]:
        """The newest ``last`` full reports of an experiment (started before ``before``, an
        ISO-8601 time, when given), oldest first."""
        marks = ",".join("?" for _ in verdicts)
        sql = (f"SELECT report_json, report_path FROM runs WHERE experiment = ? "
               f"AND run_id != ? AND verdict IN ({marks}) AND started_at < ?"
               + ("" if include_skipped else " AND skipped IS NULL")
               + " ORDER BY started_at DESC, recorded_at DESC LIMIT ?")
        rows = self._db.execute(sql, (experiment, exclude_run_id or "", *verdicts,
                                      before or "9999", last))
        out = [LoadedReport(path=Path(r[1]) if r[1] else None, data=json.loads(r[0]))
               for r in rows]
        return list(reversed(out))

    def report(self, run_id: str) -> LoadedReport | None:
        row = self._db.execute("SELECT report_json, report_path FROM runs WHERE run_id = ?",
                               (run_id,)).fetchone()
        if row is None:
            return None
        return report_from_mapping(json.loads(row[0]), path=Path(row[1]) if row[1] else None)

    def gamedays(self, *, last: int | None = None) -> list[GamedayRow]:
        sql = "SELECT * FROM gamedays ORDER BY started_at DESC" + (" LIMIT ?" if last else "")
        rows = list(self._db.execute(sql, (last,) if last else ()))
        return [GamedayRow(gameday_id=r["gameday_id"], name=r["name"], plan=r["plan"],
                           started_at=r["started_at"], duration_s=r["duration_s"],
                           verdict=r["verdict"], report_path=r["report_path"])
                for r in reversed(rows)]

    def _where(self, **filters: str | None) -> tuple[str, tuple[str, ...]]:
        parts = [(f"{k} = ?", v) for k, v in filters.items() if v is not None]
        if not parts:
            return "", ()
        return "WHERE " + " AND ".join(p for p, _ in parts), tuple(v for _, v in parts if v)

    def _row(self, r: sqlite3.Row) -> RunRow:
        rep = LoadedReport(path=None, data=json.loads(r["report_json"]))
        return RunRow(
            run_id=r["run_id"], experiment=r["experiment"], started_at=r["started_at"],
            duration_s=r["duration_s"], verdict=r["verdict"],
            budget_consumed=r["budget_consumed"], total=r["total"], bad=r["bad"],
            latency_p99_ms=r["latency_p99_ms"], skipped=r["skipped"],
            report_path=r["report_path"], gameday_id=r["gameday_id"],
            failover_s=metric_value(rep, "failover_s"), recover_s=metric_value(rep, "recover_s"),
            detect_s=metric_value(rep, "detect_s"))

    def __iter__(self) -> Iterator[RunRow]:
        return iter(self.runs())


def record_run(report: str | Path, *, history: str | Path | None = None,
               gameday_id: str | None = None) -> Path:
    """Record one report.json (or run folder) in the history; returns the database path.

    For commands outside game days (``chaos-harness run``) that want every run in the history.
    """
    from harness.gate.reports import load_report

    with HistoryStore(history) as store:
        store.record_report(load_report(report), gameday_id=gameday_id)
        return store.path
