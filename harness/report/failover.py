"""Report sections of issue #11: failover milestones, the judged window, each incident's cost
against the real budget, and the episode view (Markdown and HTML, from report.json)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from harness.report.series import Marker

__all__ = ["failover_html", "failover_markdown", "milestone_markers"]


def _s(v: Any, digits: int = 2) -> str:
    return "-" if v is None else f"{float(v):.{digits}f}"


def _pct(v: Any) -> str:
    if v is None:
        return "-"
    v = float(v) * 100
    return f"{v:.3g}%" if v and abs(v) < 0.01 else f"{v:.2f}%"


def _fault_label(f: Mapping[str, Any]) -> str:
    return f"{f['name']} {f.get('target') or ''}".strip()


def milestone_markers(rep: Mapping[str, Any]) -> tuple[Marker, ...]:
    """Chart ticks: each reached milestone at inject + at_s (seconds from the run start)."""
    out = []
    for f in rep.get("faults") or []:
        t0 = f.get("injected_at_s")
        if t0 is None:
            continue
        for m in f.get("milestones") or []:
            if m.get("at_s") is not None:
                out.append(Marker(t_s=float(t0) + float(m["at_s"]), healthy=None,
                                  label=f"{m['name']} +{float(m['at_s']):.2f} s: {m['signal']}"))
    return tuple(out)


def _milestone_rows(rep: Mapping[str, Any]) -> list[list[str]]:
    return [[str(f.get("trial", 1)), _fault_label(f), m["name"], _s(m.get("at_s")),
             str(m.get("signal", ""))]
            for f in rep.get("faults") or [] for m in f.get("milestones") or []]


def _budget_head(b: Mapping[str, Any]) -> str:
    return (f"Budget of a {b['window_s'] / 86400:g}-day window at {b['objective'] * 100:g} % and "
            f"{b['production_rate']:,.0f} req/s in production ({b.get('rate_source', '')}): "
            f"{b.get('budget_requests', 0):,.0f} bad requests = {b.get('budget_seconds', 0):,.1f} "
            f"error-seconds = {b.get('budget_slices', 0):.2f} bad {b.get('timeslice_s', 60):g} s "
            f"slices; charged by {b['method']}.")


def _budget_rows(b: Mapping[str, Any]) -> list[list[str]]:
    return [[str(c.get("trial", 1)), str(c["name"]), f"{c.get('bad_requests', 0):,}",
             _s(c.get("error_seconds")),
             "-" if c.get("production_bad_requests") is None
             else f"{c['production_bad_requests']:,.0f}",
             _pct(c.get("share_requests")), _pct(c.get("share_time")),
             "-" if c.get("bad_slices") is None else str(c["bad_slices"]),
             _pct(c.get("share_timeslices")), _pct(c.get("share"))]
            for c in b.get("incidents") or []]


_BUDGET_HEAD = ["trial", "fault", "bad req (run)", "error-s", "bad req (production)",
                "share (requests)", "share (time)", "bad slices", "share (slices)",
                "charged share"]


def _episode_rows(b: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for name, v in (b.get("episodes") or {}).items():
        br, sh = v.get("bad_requests") or {}, v.get("share") or {}
        rows.append([name, str(v["episodes"]), str(v["hurt"]),
                     f"{_pct(v.get('p_hurt_lower'))} .. {_pct(v.get('p_hurt_upper'))}",
                     f"{_s(br.get('median'), 0)} / {_s(br.get('max'), 0)}",
                     f"{_pct(sh.get('median'))} / {_pct(sh.get('max'))}"])
    return rows


_EPISODE_HEAD = ["fault", "episodes", "with bad requests", "P(episode hurts), "
                 "one-sided bounds", "bad req median / max", "share median / max"]


def _judged_line(jw: Mapping[str, Any]) -> str:
    spans = ", ".join(f"trial {t['trial']} {t['start_s']:.1f}-{t['end_s']:.1f} s "
                      f"({t['requests']:,})" for t in jw.get("trials") or [])
    rec = "the end of the trial" if jw.get("recovery_s") is None else \
        f"{jw['recovery_s']:g} s after the last revert"
    return (f"The SLO verdict counts the {jw['requests']:,} requests due from {jw['lead_s']:g} s "
            f"before each trial's first inject to {rec}: {spans}. Clean traffic outside these "
            "windows cannot change it.")


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    cell = [[c.replace("|", "\\|") for c in r] for r in rows]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(r) + " |" for r in cell), ""]


def failover_markdown(rep: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    if rep.get("judged_window"):
        out += ["## Judged window", "", _judged_line(rep["judged_window"]), ""]
    rows = _milestone_rows(rep)
    if rows:
        out += ["## Failover milestones (seconds since the injection)", ""]
        out += _md_table(["trial", "fault", "milestone", "at s", "signal"], rows)
    b = rep.get("budget")
    if b and b.get("incidents"):
        out += ["## Cost against the real error budget", "", _budget_head(b), ""]
        out += _md_table(_BUDGET_HEAD, _budget_rows(b))
        out += ["Per episode (one fault occurrence is one draw; the bound is exact "
                f"Clopper-Pearson at {int(100 * _confidence(b))} %):", ""]
        out += _md_table(_EPISODE_HEAD, _episode_rows(b))
    return out


def _confidence(b: Mapping[str, Any]) -> float:
    views: list[Mapping[str, Any]] = list((b.get("episodes") or {}).values())
    return float(views[0].get("confidence", 0.95)) if views else 0.95


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def failover_html(rep: Mapping[str, Any]) -> str:
    parts = []
    rows = _milestone_rows(rep)
    if rows:
        parts.append("<section><h2>Failover milestones</h2><p class=\"muted\">Seconds since the "
                     "injection, set by the stack's own signals (ticks on the charts).</p>"
                     + _html_table(["trial", "fault", "milestone", "at s", "signal"], rows)
                     + "</section>")
    jw = rep.get("judged_window")
    b = rep.get("budget")
    if jw or (b and b.get("incidents")):
        inner = f"<p>{escape(_judged_line(jw))}</p>" if jw else ""
        if b and b.get("incidents"):
            inner += (f"<p>{escape(_budget_head(b))}</p>"
                      + _html_table(_BUDGET_HEAD, _budget_rows(b))
                      + "<p class=\"muted\">Per episode (one fault occurrence is one draw; exact "
                      f"Clopper-Pearson bounds at {int(100 * _confidence(b))} %):</p>"
                      + _html_table(_EPISODE_HEAD, _episode_rows(b)))
        parts.append(f"<section><h2>Judged window and cost against the real budget</h2>"
                     f"{inner}</section>")
    return "".join(parts)
