"""``chaos-harness history``: list recorded runs and trends per experiment; record reports."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.gate.reports import load_report
from harness.history.store import ENV_VAR, HistoryStore
from harness.history.trends import TREND_METRICS, ExperimentTrend, trends

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "history", help="list recorded runs and trends per experiment",
        description="The run history (SQLite). Lists runs, shows trends per experiment "
                    "(failover/recover/detect times, budget consumed, verdicts), or records "
                    "report.json files into it.")
    p.add_argument("--history", metavar="PATH",
                   help=f"database (default ${ENV_VAR} or reports/history.sqlite)")
    p.add_argument("--experiment", "-e", action="append", metavar="NAME",
                   help="only this experiment (repeatable)")
    p.add_argument("--last", type=int, default=20, metavar="N", help="newest N runs (20)")
    p.add_argument("--trends", action="store_true", help="show trends per experiment")
    p.add_argument("--gamedays", action="store_true", help="list game days instead of runs")
    p.add_argument("--record", nargs="+", metavar="REPORT",
                   help="record these report.json files (or run folders) and exit")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with HistoryStore(args.history) as store:
        if args.record:
            reports = [load_report(r) for r in args.record]
            for rep in reports:
                store.record_report(rep)
            print(f"recorded {len(reports)} run(s) in {store.path}")
            return 0
        if args.gamedays:
            rows = [g.to_json() for g in store.gamedays(last=args.last)]
            return _print_rows(args, rows, ("gameday_id", "name", "started_at", "duration_s",
                                            "verdict", "report_path"), "game days")
        if args.trends:
            found = trends(store, experiments=args.experiment, last=args.last)
            if args.json:
                print(json.dumps([t.to_json() for t in found], indent=2))
            else:
                _print_trends(found)
            return 0
        runs = []
        for name in args.experiment or [None]:
            runs += [r.to_json() for r in store.runs(experiment=name, last=args.last)]
        return _print_rows(args, runs, ("started_at", "run_id", "experiment", "verdict",
                                        "budget_consumed", "failover_s", "recover_s",
                                        "detect_s", "skipped"), f"runs in {store.path}")


def _cell(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _print_rows(args: argparse.Namespace, rows: list[dict[str, Any]], cols: tuple[str, ...],
                title: str) -> int:
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=title)
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(_cell(r.get(c)) for c in cols))
    Console(file=sys.stdout, width=160).print(table)
    return 0


def _print_trends(found: list[ExperimentTrend]) -> None:
    table = Table(title="trends per experiment (latest; change vs median of earlier runs)")
    for c in ("experiment", "runs", "verdicts", *TREND_METRICS):
        table.add_column(c, overflow="fold")
    for t in found:
        latest = t.latest
        cells = []
        for m in TREND_METRICS:
            v = t.series(m)[-1] if latest else None
            ch = t.change(m)
            cells.append("-" if v is None else f"{v:.4g}" + ("" if ch is None else
                                                            f" ({ch:+.3g})"))
        verdicts = " ".join(f"{k}:{n}" for k, n in sorted(t.verdicts.items()))
        table.add_row(t.experiment, str(len(t.runs)), verdicts, *cells)
    Console(file=sys.stdout, width=160).print(table)
