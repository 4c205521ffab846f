"""``report.html``: one self-contained page (inline CSS and SVG; no scripts, no CDNs).

Verdict banner first, then the hypothesis, the headline numbers, three charts on one time axis
(throughput, error rate, latency; fault windows shaded, observer events ticked), the SLO table,
the per-fault table, distributions over trials, observer events and the run's settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from harness.report.cache import cache_hit_html
from harness.report.exercise import exercise_html
from harness.report.failover import failover_html
from harness.report.series import Series
from harness.report.svg import Line, time_chart
from harness.report.writes import writes_html

__all__ = ["render_html"]

_COLORS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INCONCLUSIVE": "#9a6700", "SKIPPED": "#57606a"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}
main{max-width:1000px;margin:0 auto;padding:0 16px 48px}
.banner{color:#fff;padding:18px 24px;margin:0 0 16px}
.banner h1{margin:0;font-size:26px}.banner p{margin:4px 0 0;opacity:.92}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;
margin:12px 0}
h2{font-size:16px;margin:4px 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{flex:1 1 140px;border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;background:#fff}
.card b{display:block;font-size:20px}.card span{color:#57606a;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.v{font-weight:600;padding:1px 6px;border-radius:10px;color:#fff;font-size:12px}
.chart{width:100%;height:auto;display:block;margin:6px 0}
.chart .ct{font-weight:600;font-size:13px}.chart .g{stroke:#eaeef2}
.chart .ax{stroke:#57606a}.chart .yl{font-size:11px;fill:#57606a;text-anchor:end}
.chart .xl{font-size:11px;fill:#57606a;text-anchor:middle}.chart .lg{font-size:11px}
.chart .fw{fill:#cf222e;fill-opacity:.12}.chart .fr{fill:none;stroke:#d0d7de}
.chart .md{stroke:#cf222e;stroke-width:2}.chart .mu{stroke:#1a7f37;stroke-width:2}
.chart .mp{stroke:#8250df;stroke-width:2}.chart .ms{stroke:#0969da;stroke-width:2}
.chart .ph{stroke:#8c959f;stroke-dasharray:2 3}.chart .pl{font-size:10px;fill:#57606a}
.muted{color:#57606a}code{font-size:12px}ul{margin:4px 0;padding-left:20px}
"""


def _v(verdict: str) -> str:
    return f'<span class="v" style="background:{_COLORS.get(verdict, "#57606a")}">' \
           f'{escape(verdict)}</span>'


def _n(v: Any, digits: int = 3, unit: str = "") -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    if isinstance(v, float):
        return f"{v:.{digits}g}{unit}" if abs(v) < 1e-3 and v else f"{v:,.{digits}f}{unit}"
    return escape(str(v))


def _pct(v: float | None, digits: int = 4) -> str:
    return "&ndash;" if v is None else f"{v * 100:.{digits}f}%"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _cards(rep: Mapping[str, Any]) -> str:
    slo = (rep.get("slos") or [None])[0]
    lat = rep.get("latency_ms") or {}
    budget = rep.get("error_budget") or {}
    faults = rep.get("faults") or []
    failovers = [f["failover_s"] for f in faults if f.get("failover_s") is not None]
    cards = [
        (_n(slo["total"]) if slo else "&ndash;", "requests judged"),
        (_n(slo["bad"]) if slo else "&ndash;", "bad requests"),
        (_pct(1 - slo["bad_fraction"]) if slo and slo["bad_fraction"] is not None else
         "&ndash;", "measured availability"),
        (_pct(1 - slo["upper"], 3) if slo and slo["upper"] is not None else "&ndash;",
         f"availability, {int((slo or {}).get('confidence', 0.95) * 100)}% lower bound"),
        (_pct(budget.get("consumed"), 1), "error budget consumed"),
        (_n(lat.get("p99"), 1, " ms"), "p99 latency"),
        (_n(max(failovers), 2, " s") if failovers else "&ndash;", "worst failover"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{a}</b><span>{escape(b)}</span></div>' for a, b in cards) + "</div>"


def _charts(s: Series, rep: Mapping[str, Any]) -> str:
    slo = (rep.get("slos") or [{}])[0]
    xs = s.t_s
    kw: dict[str, Any] = {"faults": s.faults, "markers": s.markers, "x_max": s.duration_s,
                          "phases": s.phases, "milestones": s.milestones}
    threshold = slo.get("latency_threshold_ms")
    lat_lines = [Line(label="p50", ys=s.p50_ms, color="#0969da"),
                 Line(label="p99", ys=s.p99_ms, color="#bf3989")]
    if threshold:
        lat_lines.append(Line(label=f"SLO {threshold:g} ms", ys=[threshold] * len(xs),
                              color="#cf222e", dash="4 3", width=1))
    charts = [
        time_chart(title=f"Throughput (per {s.bin_s:g} s bin)", xs=xs, unit="requests/s",
                   lines=[Line(label="sent", ys=s.sent_per_s, color="#8c959f", dash="3 2"),
                          Line(label="good", ys=s.good_per_s, color="#1a7f37", fill=True),
                          Line(label="bad", ys=s.bad_per_s, color="#cf222e", fill=True)], **kw),
        time_chart(title="Error rate (bad / sent)", xs=xs, unit="% bad",
                   lines=[Line(label="bad %", ys=[r * 100 for r in s.error_rate],
                               color="#cf222e", fill=True)], **kw),
        time_chart(title="Latency from intended send time", xs=xs, unit="ms",
                   lines=lat_lines, **kw),
    ]
    legend = ('<p class="muted">Shaded: fault active. Ticks along the bottom: observer events '
              '(<span style="color:#cf222e">unhealthy</span>, <span style="color:#1a7f37">'
              'healthy again</span>, <span style="color:#8250df">point events</span>); along the '
              'top: <span style="color:#0969da">failover milestones</span>; hover for '
              'details.</p>')
    return "".join(charts) + legend


def _slo_table(slos: Sequence[Mapping[str, Any]]) -> str:
    rows = [[escape(s["name"]), _pct(s["objective"], 3), _n(s["latency_threshold_ms"], 0, " ms"),
             "yes" if s["degraded_is_good"] else "no", _n(s["total"]), _n(s["bad"]),
             _pct(s["bad_fraction"]), f'{_pct(s["lower"])} &ndash; {_pct(s["upper"])}',
             _n(s.get("needed_requests")), _v(s["verdict"])] for s in slos]
    return _table(["SLO", "objective", "latency", "degraded good", "requests", "bad",
                   "bad fraction", f"{int(slos[0]['confidence'] * 100) if slos else 95}% CI",
                   "more needed", "verdict"], rows, {4, 5, 6, 8})


def _fault_table(faults: Sequence[Mapping[str, Any]]) -> str:
    rows = [[escape(str(f.get("trial", 1))), f"<code>{escape(f['name'])}</code>",
             escape(str(f.get("target") or "")), escape(", ".join(f.get("services") or [])),
             _n(f["injected_at_s"], 2), _n(f["reverted_at_s"], 2),
             "yes" if f["landed"] else '<b style="color:#cf222e">NO</b>',
             _n(f["detect_s"], 2), _n(f["failover_s"], 2), _n(f["recover_s"], 2),
             _n(f["bad_requests"]), _n(f["error_seconds"], 2)] for f in faults]
    return _table(["trial", "fault", "target", "services", "injected s", "reverted s", "landed",
                   "detect s", "failover s", "recover s", "bad req", "error-s"], rows,
                  {4, 5, 7, 8, 9, 10, 11})


def _dist_table(dist: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    rows = []
    for fault, metrics in dist.items():
        for metric, d in metrics.items():
            rows.append([f"<code>{escape(fault)}</code>", escape(metric), _n(d.get("n")),
                         _n(d["min"], 2), _n(d["median"], 2), _n(d["p95"], 2), _n(d["max"], 2)])
    return _table(["fault", "metric", "trials", "min", "median", "p95", "max"], rows,
                  {2, 3, 4, 5, 6})


def _events(s: Series) -> str:
    if not s.markers:
        return '<p class="muted">No observer events were recorded.</p>'
    rows = [[f"{m.t_s:.2f}", {True: "healthy", False: "unhealthy", None: "event"}[m.healthy],
             escape(m.label)] for m in s.markers]
    return _table(["t (s)", "kind", "what"], rows, {0})


def _settings(rep: Mapping[str, Any]) -> str:
    gen = rep.get("generator") or {}
    over = rep.get("knob_overrides") or {}
    knobs = "".join(f"<li><code>{escape(k)} = {escape(str(v))}</code></li>"
                    for k, v in over.items()) or "<li>defaults</li>"
    lines = [
        f"<li>run <code>{escape(rep['run_id'])}</code>, seed <code>{rep['seed']}</code>, "
        f"substrate <code>{escape(rep['substrate'])}</code>, vector tier "
        f"<code>{escape(rep['vector_mode'])}</code>, started {escape(rep['started_at'])}, "
        f"{rep['duration_s']:.1f} s</li>",
        f"<li>load: {escape(str(gen.get('kind')))} at {_n(gen.get('rate'), 1)} req/s, sent "
        f"{_n(gen.get('sent'))}, dropped {_n(gen.get('dropped'))}, generator lateness p99 "
        f"{_n(gen.get('lateness_p99_ms'), 1, ' ms')}"
        + (' <b style="color:#cf222e">(fell behind)</b>' if gen.get("fell_behind") else "")
        + "</li>",
    ]
    return f"<ul>{''.join(lines)}</ul><h2>Knob overrides</h2><ul>{knobs}</ul>"


def render_html(rep: Mapping[str, Any], series: Series | None) -> str:
    verdict = "SKIPPED" if rep.get("skipped") else rep["verdict"]
    exp = rep["experiment"]
    reasons = "".join(f"<li>{escape(r)}</li>" for r in rep.get("verdict_reasons") or [])
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{escape(verdict)}: {escape(exp['name'])}</title><style>{_CSS}</style></head>",
        f'<body><div class="banner" style="background:{_COLORS.get(verdict, "#57606a")}">'
        f"<main><h1>{escape(verdict)} &mdash; {escape(exp['name'])}</h1>"
        f"<p>{escape(exp.get('description') or '')}</p></main></div><main>",
        f"<section><h2>Hypothesis</h2><p>{escape(exp['hypothesis'])}</p>"
        f"<h2>Why this verdict</h2><ul>{reasons or '<li>every check passed</li>'}</ul>"
        "</section>",
    ]
    if rep.get("skipped"):
        parts.append(f"<section><h2>Skipped</h2><p>{escape(rep['skipped']['reason'])}</p>"
                     "</section>")
    else:
        parts.append(f"<section>{_cards(rep)}</section>")
        if series is not None:
            parts.append(f"<section><h2>Over time</h2>{_charts(series, rep)}</section>")
        parts.append(f"<section><h2>SLOs</h2>{_slo_table(rep['slos'])}</section>")
        parts.append(cache_hit_html(rep))
        if rep.get("faults"):
            parts.append(f"<section><h2>Faults</h2>{_fault_table(rep['faults'])}</section>")
        parts.append(exercise_html(rep))
        parts.append(failover_html(rep))
        parts.append(writes_html(rep))
        proj = rep.get("projection") or {}
        if proj.get("answer"):
            parts.append(f"<section><h2>A year like this</h2><p>{escape(proj['answer'])} "
                         "(default incident frequencies per fault family; see "
                         "docs/MEASUREMENT.md)</p></section>")
        if rep.get("distributions") and len(rep.get("trials") or []) > 1:
            parts.append(f"<section><h2>Over {len(rep['trials'])} trials</h2>"
                         f"{_dist_table(rep['distributions'])}</section>")
        if series is not None:
            parts.append(f"<section><h2>Observer events</h2>{_events(series)}</section>")
    parts.append(f"<section><h2>Run</h2>{_settings(rep)}</section>")
    parts.append('<p class="muted">chaos-harness report v1 &middot; the saved timeline '
                 "(timeline.zip) can be re-analysed with <code>chaos-harness recheck</code>.</p>")
    parts.append("</main></body></html>")
    return "\n".join(parts)
