"""The game-day report: Markdown and one self-contained HTML file (inline CSS and SVG, no
external references), summarising every experiment with links to its own report, the annual
projection for the whole plan, and the history trend charts."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from harness.gameday.failover import failover_html, failover_markdown
from harness.gameday.summary import ExperimentOutcome, GamedayResult
from harness.history.chart import trend_svg
from harness.history.trends import TREND_METRICS, ExperimentTrend, trend_points
from harness.report.cache import cache_hit_cell
from harness.report.exercise import exercise_cell

__all__ = ["render_html", "render_markdown", "trend_charts"]

COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INCONCLUSIVE": "#9a6700"}


def _f(v: float | None, unit: str = "", digits: int = 3) -> str:
    if v is None:
        return "-"
    if unit == "%":
        pct = v * 100
        return f"{pct:.0f}%" if abs(pct) >= 100 else f"{pct:.{digits}g}%"
    return f"{v:.{digits}g}{unit}"


def _availability(o: ExperimentOutcome) -> str:
    if o.report is None or not o.report.data.get("slos"):
        return "-"
    s = o.report.data["slos"][0]
    if s.get("upper") is None or s.get("lower") is None:
        return "-"
    lo, hi = 1 - float(s["upper"]), 1 - float(s["lower"])
    return f"{lo * 100:.4f}% .. {hi * 100:.4f}% (n={s['total']})"


def _row(o: ExperimentOutcome, base: Path) -> dict[str, str]:
    r = o.report
    link = os.path.relpath(o.html, base) if o.html else ""
    j = o.to_json()
    return {
        "#": str(o.index + 1), "experiment": o.name, "verdict": o.verdict if o.status == "ran"
        else f"{o.verdict} ({o.status})",
        "trials": str(len(r.data.get("trials") or [])) if r else "-",
        "availability (interval)": _availability(o),
        "budget consumed": _f(j["budget_consumed"], "%"),
        "exercise": exercise_cell(r.data) if r else "-",
        "cache hits": cache_hit_cell(r.data if r else None),
        "failover (median)": _f(j["failover_s"], "s"),
        "recover (median)": _f(j["recover_s"], "s"),
        "wall time": f"{o.wall_s:.0f}s / planned {o.planned_s:.0f}s",
        "report": link, "note": o.reason or ("own stack (different knobs)"
                                            if o.dedicated_stack else ""),
    }


COLUMNS = ("#", "experiment", "verdict", "trials", "availability (interval)", "budget consumed",
           "exercise", "cache hits", "failover (median)", "recover (median)", "wall time",
           "report", "note")


def _projection_lines(result: GamedayResult) -> list[str]:
    p = result.projection
    if p is None:
        return ["No projection: no experiment measured any request."]
    lines = [f"**{p.answer}**", "",
             f"Error budget at {p.objective * 100:g}%: {p.budget_s / 60:.1f} min/year. "
             f"Projected bad time: {p.annual_bad_s.median / 60:.2f} min/year "
             f"(best {p.annual_bad_s.best / 60:.2f}, worst {p.annual_bad_s.worst / 60:.2f}).", "",
             "| fault | assumed per year | per incident (median) | bad min/year (median) |",
             "|---|---|---|---|"]
    for k in p.kinds:
        lines.append(f"| {k.name} ({k.family}) | {k.frequency_per_year:g} | "
                     f"{_f(k.per_incident_s.median, 's')} | {k.annual_bad_s.median / 60:.3f} |")
    lines.append(f"| background (no fault) | - | - | {p.background_s.median / 60:.3f} |")
    if p.unprojected:
        lines += ["", "Not projected (no assumed frequency): " + ", ".join(p.unprojected)]
    return lines


def render_markdown(result: GamedayResult, *, base: Path) -> str:
    plan = result.plan
    c = result.counts()
    out = [f"# Game day `{plan['name']}` — {result.verdict}", "",
           f"- id: `{result.gameday_id}`, started {result.started_at}, "
           f"took {result.duration_s:.0f} s"
           + (f" of a {plan['budget_s']:.0f} s budget" if plan.get("budget_s") else ""),
           f"- plan: `{plan.get('file') or '-'}`, substrate `{plan.get('substrate')}`, "
           f"on failure: {plan.get('on_failure')}",
           f"- experiments: {c['PASS']} PASS, {c['FAIL']} FAIL, {c['INCONCLUSIVE']} "
           f"INCONCLUSIVE, {c['skipped']} skipped, {c['error']} errors"]
    if result.stopped_early:
        out.append(f"- stopped early: {result.stopped_early}")
    out += [f"- note: {n}" for n in result.notes]
    out += ["", "## Experiments", "", "| " + " | ".join(COLUMNS) + " |",
            "|" + "---|" * len(COLUMNS)]
    for o in result.outcomes:
        row = _row(o, base)
        row["report"] = f"[report]({row['report']})" if row["report"] else "-"
        out.append("| " + " | ".join(row[k].replace("|", "\\|") for k in COLUMNS) + " |")
    out += failover_markdown([o.report for o in result.outcomes if o.report is not None])
    out += ["", "## Annual availability projection (whole plan)", "", *_projection_lines(result),
            "", "## Trends", "", "Trend charts over the run history are in the HTML report "
            "(`chaos-harness history --trends` prints them as a table)."]
    return "\n".join(out) + "\n"


def trend_charts(trends: Sequence[ExperimentTrend],
                 metrics: Sequence[str] = ("failover_s", "budget_consumed")) -> dict[str, str]:
    """metric -> inline SVG with one line per experiment (markers coloured by verdict)."""
    out = {}
    for m in metrics:
        series = {t.experiment: trend_points(t, m) for t in trends if t.runs}
        out[m] = trend_svg(series, title=TREND_METRICS[m][2], unit=TREND_METRICS[m][1])
    return out


CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#1f2328}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #d0d7de;padding:4px 8px;
font-size:13px;text-align:left}th{background:#f6f8fa}.v{font-weight:bold}
.charts svg{margin:0 1em 1em 0;border:1px solid #eee}code{background:#f6f8fa;padding:1px 4px}"""


def _md_inline(text: str) -> str:
    """Escape, then render the Markdown emphasis we use (**bold**)."""
    parts = escape(text).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def _projection_html(result: GamedayResult) -> str:
    """The projection section: paragraphs and the per-kind table of the Markdown, as HTML."""
    out: list[str] = []
    table: list[str] = []
    for line in _projection_lines(result):
        if line.startswith("|---"):
            continue
        if line.startswith("| "):
            cells = [c.strip() for c in line.strip("|").split("|")]
            tag = "td" if table else "th"
            table.append("<tr>" + "".join(f"<{tag}>{escape(c)}</{tag}>" for c in cells)
                         + "</tr>")
        elif line:
            out.append(f"<p>{_md_inline(line)}</p>")
    if table:
        out.insert(min(len(out), 2), "<table>" + "".join(table) + "</table>")
    return "".join(out)


def render_html(result: GamedayResult, *, base: Path, charts: Mapping[str, str]) -> str:
    plan = result.plan
    colour = COLOURS.get(result.verdict, "#000")
    md = render_markdown(result, base=base).splitlines()
    summary = [line[2:] for line in md if line.startswith("- ")]
    rows = []
    for o in result.outcomes:
        row = _row(o, base)
        cells = []
        for k in COLUMNS:
            v = row[k]
            if k == "report":
                cells.append(f'<td><a href="{escape(v)}">report</a></td>' if v else "<td>-</td>")
            elif k == "verdict":
                cells.append(f'<td class="v" style="color:{COLOURS.get(o.verdict, "#000")}">'
                             f"{escape(v)}</td>")
            else:
                cells.append(f"<td>{escape(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    proj_html = _projection_html(result)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Game day {escape(plan['name'])}: {result.verdict}</title><style>{CSS}</style></head>
<body><h1>Game day <code>{escape(plan['name'])}</code>:
<span style="color:{colour}">{result.verdict}</span></h1>
<ul>{''.join(f'<li>{escape(s.replace("`", ""))}</li>' for s in summary)}</ul>
<h2>Experiments</h2>
<table><tr>{''.join(f'<th>{escape(c)}</th>' for c in COLUMNS)}</tr>{''.join(rows)}</table>
{failover_html([o.report for o in result.outcomes if o.report is not None])}
<h2>Annual availability projection (whole plan)</h2>{proj_html}
<h2>Trends (run history)</h2><div class="charts">{''.join(charts.values())}</div>
<p>Markers: green PASS, red FAIL, amber INCONCLUSIVE; newest run on the right.</p>
</body></html>
"""
