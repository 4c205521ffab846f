"""The gate's table (rich): every rule, its measured value, its limit and its result."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.gate.result import GateOutcome, GateResult

__all__ = ["render_table"]

STYLES = {GateOutcome.PASS: "green", GateOutcome.FAIL: "bold red",
          GateOutcome.INCONCLUSIVE: "yellow", GateOutcome.SKIP: "dim"}


def render_table(result: GateResult, console: Console, *, show_skipped: bool = True) -> None:
    table = Table(title=f"gate: policy {result.policy}", show_lines=False)
    table.add_column("report", no_wrap=True)
    for col in ("rule", "subject", "measured", "limit", "result", "detail"):
        table.add_column(col, overflow="fold")
    for r in result.rules:
        if r.outcome is GateOutcome.SKIP and not show_skipped:
            continue
        shown = str(r.outcome)
        if r.raw is not r.outcome:
            shown = f"{r.raw}->{r.outcome}"
        table.add_row(r.report, r.rule, r.subject, r.measured, r.limit,
                      f"[{STYLES[r.outcome]}]{shown}[/]", r.detail)
    console.print(table)
    c = result.counts()
    console.print(f"[{STYLES[result.outcome]}]gate {result.outcome}[/] "
                  f"({c['PASS']} pass, {c['FAIL']} fail, {c['INCONCLUSIVE']} inconclusive, "
                  f"{c['SKIP']} skipped; exit {result.exit_code})")
