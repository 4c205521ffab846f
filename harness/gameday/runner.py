"""Run a game-day plan: one shared stack, experiments in order, heal and ready-check between
them, a time budget, continue-or-stop on failure; every run recorded in the history; one
game-day report (Markdown, self-contained HTML, JSON) at the end, also after Ctrl-C."""

from __future__ import annotations

import json
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, StackError
from harness.gameday.plan import OVERHEAD_S, Plan, PlanEntry
from harness.gameday.render import render_html, render_markdown, trend_charts
from harness.gameday.summary import (
    ExperimentOutcome,
    GamedayResult,
    project_reports,
    truncated_runs,
)
from harness.gate.reports import load_report
from harness.history.store import HistoryStore
from harness.history.trends import trends

__all__ = ["GamedayFiles", "make_gameday_id", "run_gameday", "write_gameday_report"]

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class GamedayFiles:
    directory: Path
    markdown: Path
    html: Path
    json: Path
    result: GamedayResult
    stack_error: str | None = None  # the shared stack would not start


def make_gameday_id(name: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"gameday-{stamp}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())[:30]}-" \
           f"{secrets.token_hex(2)}"


def _stderr(text: str) -> None:
    print(f"[gameday] {text}", file=sys.stderr, flush=True)


class _SharedStack:
    """The plan's shared stack: opened lazily, restarted once if it will not get ready."""

    def __init__(self, plan: Plan, gameday_id: str, say: Say) -> None:
        self.plan, self.gameday_id, self.say = plan, gameday_id, say
        self._es: ExitStack | None = None
        self.stack: Any = None
        self.restarts = 0

    def get(self) -> Any:
        if self.stack is None:
            self._open()
        return self.stack

    def _open(self) -> None:
        from harness.stack import open_stack

        self.say(f"bringing up the shared {self.plan.substrate} stack")
        es = ExitStack()
        try:
            self.stack = es.enter_context(open_stack(
                substrate=self.plan.substrate, knobs=self.plan.knobs,
                run_id=f"{self.gameday_id}-s{self.restarts}",
                ready_timeout=self.plan.ready_timeout_s))
        except BaseException:
            es.close()
            raise
        self._es = es

    def heal_and_check(self) -> str | None:
        """heal_all + wait_ready; on failure restart the stack once. Returns a note."""
        from harness.faults import heal_all

        if self.stack is None:
            return None
        try:
            healed = heal_all(self.stack, None)
            self.stack.wait_ready(timeout=self.plan.ready_timeout_s)
            return f"healed: {', '.join(healed)}" if healed else None
        except HarnessError as exc:
            if self.restarts:
                raise
            self.say(f"stack not ready after heal ({exc}); restarting it once")
            self.close()
            self.restarts += 1
            self._open()
            return f"shared stack restarted: not ready after heal ({exc})"

    def close(self) -> None:
        es, self._es, self.stack = self._es, None, None
        if es is not None:
            es.close()


def _skip(entry: PlanEntry, reason: str) -> ExperimentOutcome:
    return ExperimentOutcome(index=entry.index, name=entry.name, file=str(entry.file),
                             status="skipped", verdict="INCONCLUSIVE", reason=reason,
                             planned_s=entry.planned_s,
                             dedicated_stack=entry.dedicated_knobs is not None)


def _run_one(entry: PlanEntry, shared: _SharedStack, *, report_dir: Path,
             history: HistoryStore, gameday_id: str) -> ExperimentOutcome:
    from harness.experiment import run_experiment

    t0 = time.monotonic()
    dedicated = entry.dedicated_knobs is not None
    try:
        stack = None if dedicated else shared.get()
        result = run_experiment(entry.experiment, file=str(entry.file), stack=stack,
                                substrate=shared.plan.substrate, report_dir=report_dir)
    except StackError:
        raise
    except Exception as exc:  # one broken experiment must not end the game day
        reason = str(exc) if isinstance(exc, HarnessError) else (
            f"internal error (a harness bug, please report it): {type(exc).__name__}: {exc}")
        return ExperimentOutcome(index=entry.index, name=entry.name, file=str(entry.file),
                                 status="error", verdict="INCONCLUSIVE", reason=reason,
                                 wall_s=time.monotonic() - t0, planned_s=entry.planned_s,
                                 dedicated_stack=dedicated)
    report = load_report(result.directory / "report.json")
    history.record_report(report, gameday_id=gameday_id)
    return ExperimentOutcome(
        index=entry.index, name=entry.name, file=str(entry.file),
        status="skipped" if report.skipped_reason else "ran", verdict=report.verdict,
        reason=report.skipped_reason or "", report=report, report_dir=result.directory,
        wall_s=time.monotonic() - t0, planned_s=entry.planned_s, dedicated_stack=dedicated)


def _budget_reason(plan: Plan, entry: PlanEntry, elapsed: float) -> str | None:
    if plan.budget_s is None:
        return None
    need = entry.planned_s + OVERHEAD_S
    if elapsed + need <= plan.budget_s:
        return None
    return (f"time budget: {elapsed:.0f} s of {plan.budget_s:.0f} s used, this experiment "
            f"plans {need:.0f} s")


@contextmanager
def _always(callback: Callable[[], None]) -> Iterator[None]:
    try:
        yield
    finally:
        callback()


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (CI cancelling the job) unwinds like Ctrl-C: faults healed, stack torn down,
    the partial report written."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Gameday:
    """The state of one game day while it runs (outcomes so far, why the rest is skipped)."""

    def __init__(self, plan: Plan, *, report_dir: Path, store: HistoryStore, gameday_id: str,
                 say: Say) -> None:
        self.plan, self.report_dir, self.store, self.say = plan, report_dir, store, say
        self.gameday_id = gameday_id
        self.started_at, self.t0 = datetime.now(UTC), time.monotonic()
        self.outcomes: list[ExperimentOutcome] = []
        self.notes: list[str] = []
        self.stopped: str | None = None
        self.stack_error: str | None = None
        self.shared = _SharedStack(plan, gameday_id, say)

    def _tag(self, entry: PlanEntry) -> str:
        return f"{entry.index + 1}/{len(self.plan.entries)} {entry.name}"

    def step(self, entry: PlanEntry) -> None:
        reason = (_budget_reason(self.plan, entry, time.monotonic() - self.t0)
                  or (self.stopped and f"not run: {self.stopped}") or self.stack_error)
        if reason:
            self.outcomes.append(_skip(entry, reason))
            self.say(f"{self._tag(entry)}: skipped ({reason})")
            return
        try:
            if self.outcomes and entry.dedicated_knobs is None:
                note = self.shared.heal_and_check()
                if note:
                    self.notes.append(f"before {entry.name}: {note}")
            self.say(f"{self._tag(entry)}: running (planned {entry.planned_s:.0f} s, "
                     f"{entry.planned_requests} requests)")
            out = _run_one(entry, self.shared, report_dir=self.report_dir, history=self.store,
                           gameday_id=self.gameday_id)
        except StackError as exc:
            reason = f"the stack would not start or get ready: {exc}"
            out = ExperimentOutcome(index=entry.index, name=entry.name, file=str(entry.file),
                                    status="error", verdict="INCONCLUSIVE", reason=reason,
                                    planned_s=entry.planned_s)
            self.stack_error = reason.splitlines()[0]
        self.outcomes.append(out)
        status = f" ({out.status})" if out.status != "ran" else ""
        self.say(f"{self._tag(entry)}: {out.verdict}{status} in {out.wall_s:.0f} s"
                 + (f" -> {out.html}" if out.html else ""))
        if self.plan.on_failure == "stop" and (out.verdict == "FAIL" or out.status == "error"):
            what = out.verdict if out.status == "ran" else "errored"
            self.stopped = f"{entry.name} {what} and the plan says on_failure: stop"

    def interrupted(self) -> None:
        done = {o.index for o in self.outcomes}
        self.outcomes += [_skip(e, "interrupted (Ctrl-C / SIGTERM)") for e in self.plan.entries
                          if e.index not in done]
        self.notes.append("interrupted: the remaining experiments were not run")

    def write(self) -> GamedayFiles:
        return write_gameday_report(
            self.plan, self.outcomes, store=self.store, report_dir=self.report_dir,
            gameday_id=self.gameday_id, started_at=self.started_at,
            duration_s=time.monotonic() - self.t0, notes=self.notes, stopped=self.stopped,
            stack_error=self.stack_error)


def run_gameday(plan: Plan, *, report_dir: str | Path = "reports",
                history: str | Path | None = None, say: Say = _stderr,
                gameday_id: str | None = None) -> GamedayFiles:
    """Run every experiment of ``plan`` and write the game-day report (see module doc)."""
    with HistoryStore(history) as store, _sigterm_interrupts():
        day = _Gameday(plan, report_dir=Path(report_dir), store=store, say=say,
                       gameday_id=gameday_id or make_gameday_id(plan.name))
        try:
            with _always(day.shared.close):
                for entry in plan.entries:
                    day.step(entry)
        except KeyboardInterrupt:
            day.interrupted()
            files = day.write()
            say(f"interrupted; partial game-day report: {files.html}")
            raise
        return day.write()


def write_gameday_report(plan: Plan, outcomes: list[ExperimentOutcome], *, store: HistoryStore,
                         report_dir: Path, gameday_id: str, started_at: datetime,
                         duration_s: float, notes: list[str], stopped: str | None,
                         stack_error: str | None = None, trend_runs: int = 20) -> GamedayFiles:
    reports = [o.report for o in outcomes if o.report is not None]
    cut = truncated_runs(reports)
    if cut:
        notes = [*notes, "projection: impact of " + ", ".join(cut) + " is cut off where the run "
                 "ended early (a lower bound), so the projection cannot answer 'yes'"]
    result = GamedayResult(
        gameday_id=gameday_id, plan=plan.to_json(), started_at=started_at.isoformat(),
        duration_s=duration_s, outcomes=tuple(outcomes), notes=tuple(notes),
        projection=project_reports(reports, frequencies=plan.frequencies),
        stopped_early=stopped)
    directory = report_dir / gameday_id
    directory.mkdir(parents=True, exist_ok=True)
    charts = trend_charts(trends(store, experiments=[e.name for e in plan.entries],
                                 last=trend_runs))
    md, html, js = directory / "gameday.md", directory / "gameday.html", directory / "gameday.json"
    md.write_text(render_markdown(result, base=directory), encoding="utf-8")
    html.write_text(render_html(result, base=directory, charts=charts), encoding="utf-8")
    js.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    store.record_gameday(gameday_id=gameday_id, name=plan.name, plan=plan.file,
                         started_at=result.started_at, duration_s=duration_s,
                         verdict=result.verdict, report_path=str(html),
                         summary=result.to_json())
    return GamedayFiles(directory=directory, markdown=md, html=html, json=js, result=result,
                        stack_error=stack_error)
