"""``chaos-harness gate --policy POLICY report.json...``: apply a CI policy to reports.

Prints a table of every rule (measured value, limit, result). Exit 0 pass, 1 fail,
2 inconclusive (policy ``inconclusive: warn``), 3 bad policy/option/report, 6 other errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.gate import evaluate, load_policy, load_report, render_table
from harness.history.store import ENV_VAR, HistoryStore, default_history_path

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "gate", help="apply a CI policy to report.json files (exit 0 pass, 1 fail, "
                     "2 inconclusive, 3 bad input)",
        description="Evaluate a gate policy (docs/gate-policy.md) against one or more "
                    "report.json files or run folders, and exit by the outcome.")
    p.add_argument("reports", nargs="+", metavar="REPORT",
                   help="report.json files or reports/<run-id>/ folders")
    p.add_argument("--policy", required=True, metavar="POLICY", help="policy YAML file")
    p.add_argument("--baseline", metavar="REPORT",
                   help="baseline report for regression limits (overrides the policy's)")
    p.add_argument("--history", metavar="PATH",
                   help=f"history database for regression limits (default ${ENV_VAR} or "
                        "reports/history.sqlite)")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead")
    p.add_argument("--hide-skipped", action="store_true",
                   help="leave SKIP rows out of the table (they are still counted)")
    p.add_argument("--output", metavar="FILE", help="also write the JSON result to FILE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    reports = [load_report(r) for r in args.reports]
    baseline = load_report(args.baseline) if args.baseline else None
    needs_history = bool(policy.regression and policy.regression.history)
    history_path = default_history_path(args.history)
    store = (HistoryStore(history_path)
             if needs_history and (args.history or history_path.exists()) else None)
    try:
        result = evaluate(policy, reports, history=store, baseline=baseline)
    finally:
        if store is not None:
            store.close()
    if args.output:
        Path(args.output).write_text(json.dumps(result.to_json(), indent=2) + "\n",
                                     encoding="utf-8")
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        render_table(result, Console(file=sys.stdout, width=max(160, Console().width)),
                     show_skipped=not args.hide_skipped)
    return result.exit_code
