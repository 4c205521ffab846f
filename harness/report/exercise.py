"""The exercise of each fault and the steady state after recovery, in every report format.

One function per format, each called once by its renderer: "exercised by N requests, M upstream
calls" per fault (docs/MEASUREMENT.md, "Exercise"), and whether the stack came back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = ["exercise_cell", "exercise_html", "exercise_junit", "exercise_line",
           "exercise_markdown"]


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:,}"


def exercise_line(ex: Mapping[str, Any] | None) -> str:
    """``exercised by 1,204 requests, 1,188 upstream calls`` (+ bytes), or why it is unknown."""
    if not ex:
        return "exercise not measured"
    text = f"exercised by {_num(ex.get('requests'))} requests, " \
           f"{_num(ex.get('upstream_calls'))} upstream calls"
    if ex.get("bytes") is not None:
        text += f", {_num(ex['bytes'])} bytes"
    return text


def exercise_cell(rep: Mapping[str, Any] | None) -> str:
    """One cell for a summary table: ``kill: 2,990 req / 41 calls; ...`` (NOT when short)."""
    cells = []
    for f, ex in _rows(rep or {}):
        if ex is None:
            cells.append(f"{f['name']}: not measured")
            continue
        text = f"{f['name']}: {_num(ex.get('requests'))} req / " \
               f"{_num(ex.get('upstream_calls'))} calls"
        cells.append(text + ("" if ex.get("ok") else " (NOT exercised)"))
    return "; ".join(cells) or "-"


def _minimum(ex: Mapping[str, Any]) -> str:
    m = ex.get("minimum") or {}
    parts = [f"{k.replace('_', ' ')} >= {v:,}" for k, v in m.items() if v]
    return ", ".join(parts) or "none"


def _rows(rep: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any] | None]]:
    """Faults with their exercise (reports written before exercise accounting have no key)."""
    return [(f, f.get("exercise")) for f in rep.get("faults") or [] if "exercise" in f]


def _after(rep: Mapping[str, Any]) -> str | None:
    s = rep.get("steady_state_after")
    if not s:
        return None
    state = "came back" if s.get("ok") else "did NOT come back"
    return f"Steady state after recovery ({s.get('window_s', 0):.1f} s): the stack {state} " \
           f"({s.get('detail', '')})."


def exercise_markdown(rep: Mapping[str, Any]) -> list[str]:
    """Lines of the "Exercise" section (empty when the run had no fault and no after-check)."""
    out: list[str] = []
    rows = _rows(rep)
    if rows:
        out += ["## Exercise", "",
                "| trial | fault | exercise | minimum | exercised | detail |",
                "|---|---|---|---|---|---|"]
        for f, ex in rows:
            ok = "-" if ex is None else ("yes" if ex.get("ok") else "**no**")
            detail = "" if ex is None else str(ex.get("detail", ""))
            if ex and ex.get("advice"):
                detail += f"; to fix: {ex['advice']}"
            out.append(f"| {f.get('trial', 1)} | `{f['name']}` | {exercise_line(ex)} | "
                       f"{'-' if ex is None else _minimum(ex)} | {ok} | "
                       f"{detail.replace('|', '/')} |")
        out.append("")
    after = _after(rep)
    if after:
        out += [after, ""]
    return out


def exercise_html(rep: Mapping[str, Any]) -> str:
    """The "Exercise" section as HTML ("" when there is nothing to show)."""
    body = []
    rows = _rows(rep)
    if rows:
        trs = "".join(
            f"<tr><td>{f.get('trial', 1)}</td><td><code>{escape(f['name'])}</code></td>"
            f"<td>{escape(exercise_line(ex))}</td>"
            f"<td>{escape('-' if ex is None else _minimum(ex))}</td>"
            f"<td>{'-' if ex is None else ('yes' if ex.get('ok') else '<b>no</b>')}</td>"
            f"<td>{escape('' if ex is None else str(ex.get('detail', '')))}"
            f"{escape('; to fix: ' + ex['advice']) if ex and ex.get('advice') else ''}</td></tr>"
            for f, ex in rows)
        body.append("<table><thead><tr><th>trial</th><th>fault</th><th>exercise</th>"
                    "<th>minimum</th><th>exercised</th><th>detail</th></tr></thead>"
                    f"<tbody>{trs}</tbody></table>")
    after = _after(rep)
    if after:
        body.append(f"<p>{escape(after)}</p>")
    return f"<section><h2>Exercise</h2>{''.join(body)}</section>" if body else ""


def exercise_junit(suite: ET.Element, rep: Mapping[str, Any], cls: str) -> None:
    """Properties and one test case per fault's exercise, and ``steady-state-after``."""
    props = suite.find("properties")
    for f, ex in _rows(rep):
        name = f"exercise:{f['id']}"
        if props is not None and ex:
            for key in ("requests", "upstream_calls", "bytes"):
                if ex.get(key) is not None:
                    ET.SubElement(props, "property", {"name": f"fault.{f['id']}.exercise.{key}",
                                                      "value": str(ex[key])})
        case = ET.SubElement(suite, "testcase", {"name": name, "classname": cls, "time": "0.000"})
        if ex is None or not ex.get("ok"):
            why = "exercise not measured" if ex is None else (
                f"not exercised: {ex.get('detail', '')}"
                + (f"; to fix: {ex['advice']}" if ex.get("advice") else ""))
            ET.SubElement(case, "skipped", {"message": why})
        else:
            ET.SubElement(case, "system-out").text = exercise_line(ex)
    s = rep.get("steady_state_after")
    if s:
        case = ET.SubElement(suite, "testcase", {"name": "steady-state-after", "classname": cls,
                                                 "time": f"{float(s.get('window_s', 0)):.3f}"})
        if not s.get("ok"):
            ET.SubElement(case, "skipped", {"message": f"the stack did not come back: "
                                                       f"{s.get('detail', '')}"})
