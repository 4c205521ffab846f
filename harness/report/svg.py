"""Inline SVG time-series charts: no JavaScript, no external assets, readable when printed.

One function, :func:`time_chart`: lines over time, fault windows shaded, observer events as
ticks along the bottom (red: something went unhealthy, green: healthy again, grey: a point
event), failover milestones as blue ticks along the top, phase starts (warm-up, steady state, method, recovery) as dashed lines, each with a
hover ``<title>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from harness.report.series import Marker, Window

__all__ = ["Line", "nice_ticks", "time_chart"]

_PAD_L, _PAD_R, _PAD_T, _PAD_B = 64, 16, 26, 40


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    label: str
    ys: Sequence[float | None]
    color: str
    width: float = 1.6
    dash: str | None = None
    fill: bool = False


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not math.isfinite(hi) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks: list[float] = []
    v = start
    while v <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v / 1000:g}k"
    if abs(v) < 0.01:
        return f"{v:.0e}"
    return f"{v:g}"


def _path(xs: Sequence[float], ys: Sequence[float | None], sx: Callable[[float], float],
          sy: Callable[[float], float]) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    for x, y in zip(xs, ys, strict=False):
        if y is None or not math.isfinite(y):
            if cur:
                parts.append("M" + " L".join(cur))
                cur = []
            continue
        cur.append(f"{sx(x):.1f},{sy(y):.1f}")
    if cur:
        parts.append("M" + " L".join(cur))
    return parts


def time_chart(*, title: str, xs: Sequence[float], lines: Sequence[Line], unit: str,
               faults: Sequence[Window] = (), markers: Sequence[Marker] = (),
               phases: Sequence[Window] = (), milestones: Sequence[Marker] = (),
               x_max: float | None = None, y_max: float | None = None,
               width: int = 960, height: int = 230) -> str:
    """An SVG chart of ``lines`` over ``xs`` (seconds from the run start)."""
    values = [y for ln in lines for y in ln.ys if y is not None and math.isfinite(y)]
    top = y_max if y_max is not None else max(values, default=1.0) * 1.1 or 1.0
    x_hi = x_max if x_max is not None else (max(xs) if xs else 1.0) or 1.0
    yt = nice_ticks(0.0, top)
    top = yt[-1]
    w, h = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B

    def sx(x: float) -> float:
        return _PAD_L + w * min(max(x / x_hi, 0.0), 1.0)

    def sy(y: float) -> float:
        return _PAD_T + h * (1 - min(max(y / top, 0.0), 1.0))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{escape(title)}" class="chart">',
           f'<text x="{_PAD_L}" y="16" class="ct">{escape(title)}</text>']
    for f in faults:
        x0, x1 = sx(f.start_s), sx(f.end_s)
        out.append(f'<rect x="{x0:.1f}" y="{_PAD_T}" width="{max(x1 - x0, 1.5):.1f}" '
                   f'height="{h}" class="fw"><title>{escape(f.label)}: '
                   f'{f.start_s:.1f}-{f.end_s:.1f} s</title></rect>')
    for p in phases:
        x = sx(p.start_s)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_PAD_T}" y2="{_PAD_T + h}" class="ph"/>'
                   f'<text x="{x + 3:.1f}" y="{_PAD_T + 10}" class="pl">{escape(p.label)}</text>')
    for v in yt:
        y = sy(v)
        out.append(f'<line x1="{_PAD_L}" x2="{_PAD_L + w}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>'
                   f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" class="yl">{_fmt(v)}</text>')
    for v in nice_ticks(0.0, x_hi, 10):
        if v > x_hi:
            break
        x = sx(v)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_PAD_T + h}" y2="{_PAD_T + h + 4}" '
                   f'class="ax"/><text x="{x:.1f}" y="{_PAD_T + h + 16}" class="xl">{_fmt(v)}'
                   f'</text>')
    out.append(f'<text x="{_PAD_L + w}" y="{height - 4}" class="xl" text-anchor="end">'
               f'seconds from run start</text>')
    out.append(f'<text x="12" y="{_PAD_T + h / 2:.0f}" class="yl" transform="rotate(-90 12 '
               f'{_PAD_T + h / 2:.0f})" text-anchor="middle">{escape(unit)}</text>')
    for ln in lines:
        for d in _path(xs, ln.ys, sx, sy):
            if ln.fill:
                first, last = d[1:].split(" L")[0], d.split(" L")[-1].lstrip("M")
                x_first, x_last = first.split(",")[0], last.split(",")[0]
                out.append(f'<path d="{d} L{x_last},{_PAD_T + h} L{x_first},{_PAD_T + h} Z" '
                           f'fill="{ln.color}" fill-opacity="0.18" stroke="none"/>')
            dash = f' stroke-dasharray="{ln.dash}"' if ln.dash else ""
            out.append(f'<path d="{d}" fill="none" stroke="{ln.color}" '
                       f'stroke-width="{ln.width}"{dash}/>')
    for m in markers:
        x = sx(m.t_s)
        cls = "mu" if m.healthy is True else "md" if m.healthy is False else "mp"
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_PAD_T + h - 10}" y2="{_PAD_T + h}" '
                   f'class="{cls}"><title>{m.t_s:.2f} s {escape(m.label)}</title></line>')
    for m in milestones:
        x = sx(m.t_s)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_PAD_T}" y2="{_PAD_T + 10}" '
                   f'class="ms"><title>{m.t_s:.2f} s {escape(m.label)}</title></line>')
    out.append(f'<rect x="{_PAD_L}" y="{_PAD_T}" width="{w}" height="{h}" class="fr"/>')
    lx = _PAD_L + w
    for ln in reversed(lines):
        label = escape(ln.label)
        lx -= 14 + 7 * len(ln.label)
        out.append(f'<rect x="{lx}" y="8" width="10" height="10" fill="{ln.color}"/>'
                   f'<text x="{lx + 13}" y="17" class="lg">{label}</text>')
    out.append("</svg>")
    return "\n".join(out)
