"""The cache-hit ratio section of every report format (``report.json`` ``cache_hit_ratio``).

A provider fault is exercised only by the requests the LLM cache does not answer, so every
report states the measured cache share of the answers next to the mix's target, and who answered
the rest. Each renderer calls one function here.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = ["cache_hit_cell", "cache_hit_html", "cache_hit_markdown", "cache_hit_summary"]

_ORDER = ("cache", "primary", "fallback", "none")


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{float(v) * 100:.1f} %"


def cache_hit_summary(rep: Mapping[str, Any]) -> str:
    """One sentence: measured vs target and who answered the rest ("" when the report has no
    cache_hit_ratio, e.g. one written before it existed)."""
    c = rep.get("cache_hit_ratio")
    if not c:
        return ""
    target = c.get("target")
    stated = ("not controlled by the mix" if target is None else f"target {_pct(target)}")
    providers = c.get("providers") or {}
    who = ", ".join(f"{k} {int(providers[k]):,}" for k in _ORDER if k in providers)
    return (f"Cache-hit ratio: {_pct(c.get('measured'))} measured ({stated}) over "
            f"{int(c.get('requests') or 0):,} answered requests"
            + (f"; answered by {who}" if who else "") + ".")


def cache_hit_markdown(rep: Mapping[str, Any]) -> list[str]:
    """Markdown lines (a paragraph and a blank line), or none."""
    line = cache_hit_summary(rep)
    return [line, ""] if line else []


def cache_hit_html(rep: Mapping[str, Any]) -> str:
    """An HTML section, or ""."""
    line = cache_hit_summary(rep)
    if not line:
        return ""
    return (f'<section><h2>Cache hits</h2><p id="cache-hit-ratio">{escape(line)} A provider '
            "fault is exercised only by the requests the cache does not answer.</p></section>")


def cache_hit_cell(rep: Mapping[str, Any] | None) -> str:
    """A table cell for the game-day summary: ``"49.8 % (target 50.0 %)"``, or ``"-"``."""
    c = (rep or {}).get("cache_hit_ratio")
    if not c:
        return "-"
    target = c.get("target")
    return _pct(c.get("measured")) + ("" if target is None else f" (target {_pct(target)})")
