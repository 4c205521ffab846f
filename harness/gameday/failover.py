"""Game-day view of issue #11: failover milestone medians per fault family, and the episode
view over every report of the plan (pure: no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from harness.analysis.episodes import EpisodeSample, episode_views
from harness.analysis.milestones import MILESTONES
from harness.analysis.trials import summarise
from harness.gate.reports import LoadedReport

__all__ = ["episode_summary", "failover_html", "failover_markdown", "milestone_medians"]


def milestone_medians(reports: Sequence[LoadedReport]) -> dict[str, dict[str, Any]]:
    """``{family: {milestone: {"median", "min", "max", "n", "missing", "signals"}}}`` over
    every landed fault of every report (``signals``: the decision kinds that set it)."""
    acc: dict[str, dict[str, list[float | None]]] = {}
    kinds: dict[str, dict[str, set[str]]] = {}
    for r in reports:
        for f in r.faults:
            if not f.get("landed") or not f.get("milestones"):
                continue
            fam = str(f.get("family") or "?")
            per = acc.setdefault(fam, {m: [] for m in MILESTONES})
            for m in f["milestones"]:
                if m.get("name") in per:
                    per[m["name"]].append(m.get("at_s"))
                    if m.get("at_s") is not None:
                        kind = str(m.get("signal", "")).split(":", 1)[0]
                        kinds.setdefault(fam, {}).setdefault(m["name"], set()).add(kind)
    out: dict[str, dict[str, Any]] = {}
    for fam, per in acc.items():
        out[fam] = {}
        for name, values in per.items():
            d = summarise(values).to_json()
            d["signals"] = sorted(kinds.get(fam, {}).get(name, ()))
            out[fam][name] = d
    return out


def episode_summary(reports: Sequence[LoadedReport],
                    confidence: float = 0.95) -> dict[str, dict[str, Any]]:
    """The episode view over the whole game day: every incident of every report is a draw."""
    samples = []
    for r in reports:
        budget = r.data.get("budget")
        if not isinstance(budget, Mapping):
            continue
        for c in budget.get("incidents") or []:
            samples.append(EpisodeSample(name=str(c["name"]), family=str(c.get("family", "")),
                                         bad_requests=int(c.get("bad_requests") or 0),
                                         error_seconds=c.get("error_seconds"),
                                         share=c.get("share")))
    return {n: v.to_json() for n, v in episode_views(samples, confidence=confidence).items()}


def _s(v: Any) -> str:
    return "-" if v is None else f"{float(v):.2f}"


def _pct(v: Any) -> str:
    return "-" if v is None else f"{float(v) * 100:.3g}%"


def _rows(reports: Sequence[LoadedReport]) -> tuple[list[list[str]], list[list[str]]]:
    med = milestone_medians(reports)
    mrows = [[fam, *(f"{_s(ms[m]['median'])} (n={ms[m]['n']})" for m in MILESTONES),
              ", ".join(ms["decided"]["signals"]) or "-"] for fam, ms in sorted(med.items())]
    erows = [[name, str(v["episodes"]), str(v["hurt"]),
              f"{_pct(v['p_hurt_lower'])} .. {_pct(v['p_hurt_upper'])}",
              _pct((v.get("share") or {}).get("median")), _pct((v.get("share") or {}).get("max"))]
             for name, v in sorted(episode_summary(reports).items())]
    return mrows, erows


_MHEAD = ["family", *(f"{m} s (median)" for m in MILESTONES), "decided by"]
_EHEAD = ["fault", "episodes", "with bad requests", "P(episode hurts), 95% bounds",
          "budget share median", "budget share max"]


def failover_markdown(reports: Sequence[LoadedReport]) -> list[str]:
    mrows, erows = _rows(reports)
    out: list[str] = []
    if mrows:
        out += ["", "## Failover milestones (median seconds since injection, per fault family)",
                "", "| " + " | ".join(_MHEAD) + " |", "|" + "---|" * len(_MHEAD),
                *("| " + " | ".join(r) + " |" for r in mrows)]
    if erows:
        out += ["", "## Episodes (one fault occurrence = one draw)", "",
                "| " + " | ".join(_EHEAD) + " |", "|" + "---|" * len(_EHEAD),
                *("| " + " | ".join(r) + " |" for r in erows)]
    return out


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return ("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>"
                      for r in rows) + "</table>")


def failover_html(reports: Sequence[LoadedReport]) -> str:
    mrows, erows = _rows(reports)
    out = ""
    if mrows:
        out += ("<h2>Failover milestones (median seconds since injection, per fault family)</h2>"
                + _table(_MHEAD, mrows))
    if erows:
        out += "<h2>Episodes (one fault occurrence = one draw)</h2>" + _table(_EHEAD, erows)
    return out
