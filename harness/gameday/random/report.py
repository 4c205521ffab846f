"""The randomised game day's report (Markdown + self-contained HTML)."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from harness.gameday.random.search import RandomConfig, RandomOutcome

__all__ = ["render_random_html", "render_random_markdown"]


def _schedule(ex_schedule: tuple) -> str:
    return "; ".join(f"{d.fault}{' ' + d.target if d.target else ''}"
                     f"{' ' + str(dict(d.params)) if d.params else ''} at {d.start_s:g}s "
                     f"for {d.duration_s:g}s" for d in ex_schedule)


def render_random_markdown(outcome: RandomOutcome, cfg: RandomConfig, *, base: Path,
                           replay: Path | None) -> str:
    verdict = "FAILURE FOUND" if outcome.found else "no invariant broken"
    out = [f"# Randomised game day — {verdict}", "",
           f"- seed {cfg.seed}; knobs {dict(cfg.knobs) or 'defaults'}; invariants "
           f"{', '.join(cfg.invariants)}",
           f"- {len(outcome.examples)} schedules run (window {cfg.window_s:g} s, up to "
           f"{cfg.max_faults} faults, {cfg.rate:g} req/s)"
           + ("; time budget exhausted" if outcome.budget_exhausted else "")]
    if outcome.skipped_faults:
        out.append("- not drawn (unsupported here): " + ", ".join(outcome.skipped_faults))
    m = outcome.minimal
    if m is not None and m.violation is not None:
        out += ["", "## Minimal failing schedule", "",
                f"- broken invariant **{m.violation.invariant}**: {m.violation.message}",
                f"- schedule: {_schedule(m.schedule)}",
                f"- replay: `chaos-harness run {replay}`" if replay else "- replay: -"]
        if outcome.first_failure and outcome.first_failure is not m:
            out.append(f"- shrunk from example {outcome.first_failure.n}: "
                       f"{_schedule(outcome.first_failure.schedule)}")
    out += ["", "## Examples", "", "| # | schedule | verdict | invariant broken | report |",
            "|---|---|---|---|---|"]
    for e in outcome.examples:
        link = (os.path.relpath(Path(e.report_dir) / "report.html", base) if e.report_dir
                else "")
        broken = (f"{e.violation.invariant}: {e.violation.message}" if e.violation else "-")
        out.append(f"| {e.n} | {_schedule(e.schedule)} | {e.verdict} | "
                   f"{broken.replace('|', '/')} | " + (f"[report]({link})" if link else "-")
                   + " |")
    return "\n".join(out) + "\n"


def render_random_html(markdown: str) -> str:
    """A minimal faithful HTML rendering of the Markdown above (headings, lists, one table)."""
    body, in_table = [], False
    for line in markdown.splitlines():
        if line.startswith("|---"):
            continue
        if line.startswith("| "):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not in_table:
                body.append("<table><tr>" + "".join(f"<th>{escape(c)}</th>" for c in cells)
                            + "</tr>")
                in_table = True
                continue
            body.append("<tr>" + "".join(f"<td>{_link(c)}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("# "):
            body.append(f"<h1>{escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{escape(line[3:])}</h2>")
        elif line.startswith("- "):
            body.append(f"<li>{_inline(line[2:])}</li>")
    if in_table:
        body.append("</table>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Randomised "
            "game day</title><style>body{font-family:system-ui,sans-serif;margin:2em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;"
            "font-size:13px}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def _inline(text: str) -> str:
    parts = escape(text).split("**")
    text = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _link(cell: str) -> str:
    if cell.startswith("[report](") and cell.endswith(")"):
        return f'<a href="{escape(cell[9:-1])}">report</a>'
    return escape(cell)
