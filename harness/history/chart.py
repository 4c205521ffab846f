"""A small, dependency-free inline-SVG line chart for trends across runs (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["TrendPoint", "trend_svg"]

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#d62728")
VERDICT_FILL = {"PASS": "#2ca02c", "FAIL": "#d62728", "INCONCLUSIVE": "#e6a700"}


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendPoint:
    label: str  # x label (e.g. the run's start date)
    value: float | None  # None: not measured in that run (a gap)
    verdict: str = ""
    run_id: str = ""


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    step = (hi - lo) / n
    return [lo + i * step for i in range(n + 1)]


def trend_svg(series: Mapping[str, Sequence[TrendPoint]], *, title: str, unit: str = "",
              width: int = 640, height: int = 220) -> str:
    """One line per series (x = run index within the series, newest right); markers coloured by
    verdict; hover titles name the run and value. Empty input gives a chart saying so."""
    left, right, top, bottom = 56, 150, 28, 36
    pw, ph = width - left - right, height - top - bottom
    values = [p.value for pts in series.values() for p in pts if p.value is not None]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    if not values:
        out.append(f'<text x="{left}" y="{top + ph / 2}">no measurements in history yet</text>')
        out.append("</svg>")
        return "".join(out)
    lo, hi = min(0.0, min(values)), max(values)
    hi = hi if hi > lo else lo + 1.0
    n = max(len(pts) for pts in series.values())

    def x(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
               f'stroke="#ccc"/>')
    for t in _ticks(lo, hi):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                   f'stroke="#eee"/><text x="{left - 4}" y="{y(t) + 4:.1f}" '
                   f'text-anchor="end">{t:.3g}{escape(unit)}</text>')
    out.append(f'<text x="{left}" y="{height - 8}">older</text>'
               f'<text x="{left + pw}" y="{height - 8}" text-anchor="end">newer</text>')
    for k, (name, pts) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        offset = n - len(pts)  # right-align: the newest run of every series at the right edge
        seg: list[str] = []
        for i, p in enumerate(pts):
            if p.value is None:
                if len(seg) > 1:
                    out.append(_polyline(seg, colour))
                seg = []
                continue
            seg.append(f"{x(i + offset):.1f},{y(p.value):.1f}")
        if len(seg) > 1:
            out.append(_polyline(seg, colour))
        for i, p in enumerate(pts):
            if p.value is None:
                continue
            fill = VERDICT_FILL.get(p.verdict, colour)
            tip = f"{name} {p.label} {p.run_id}: {p.value:.4g}{unit} {p.verdict}".strip()
            out.append(f'<circle cx="{x(i + offset):.1f}" cy="{y(p.value):.1f}" r="3.5" '
                       f'fill="{fill}" stroke="{colour}"><title>{escape(tip)}</title></circle>')
        ly = top + 12 + 14 * k
        out.append(f'<line x1="{left + pw + 10}" x2="{left + pw + 26}" y1="{ly - 4}" '
                   f'y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>'
                   f'<text x="{left + pw + 30}" y="{ly}">{escape(name[:20])}</text>')
    out.append("</svg>")
    return "".join(out)


def _polyline(points: list[str], colour: str) -> str:
    return (f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.5"/>')
