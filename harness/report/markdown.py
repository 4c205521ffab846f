"""``report.md``: the same report as text, for pull requests, tickets and terminals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.report.cache import cache_hit_markdown
from harness.report.exercise import exercise_markdown
from harness.report.failover import failover_markdown
from harness.report.writes import writes_markdown

__all__ = ["render_markdown"]


def _n(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if v and abs(v) < 1e-3 else f"{v:,.{digits}f}"
    return str(v).replace("|", "\\|")


def _pct(v: float | None, digits: int = 4) -> str:
    return "-" if v is None else f"{v * 100:.{digits}f}%"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return [*out, ""]


def render_markdown(rep: Mapping[str, Any]) -> str:
    exp = rep["experiment"]
    verdict = "SKIPPED" if rep.get("skipped") else rep["verdict"]
    out = [f"# {verdict}: {exp['name']}", ""]
    if exp.get("description"):
        out += [exp["description"], ""]
    out += [f"**Hypothesis.** {exp['hypothesis']}", ""]
    out += [f"Run `{rep['run_id']}`, seed `{rep['seed']}`, substrate `{rep['substrate']}` "
            f"(vector tier `{rep['vector_mode']}`), started {rep['started_at']}, "
            f"{rep['duration_s']:.1f} s.", ""]
    if rep.get("skipped"):
        return "\n".join([*out, f"**Skipped:** {rep['skipped']['reason']}", ""])
    out += ["## Verdict", ""]
    out += [f"- {r}" for r in rep.get("verdict_reasons") or ["every check passed"]] + [""]
    out += ["## SLOs", ""]
    out += _table(
        ["SLO", "objective", "latency", "degraded good", "requests", "bad", "bad fraction",
         "CI", "more needed", "verdict"],
        [[s["name"], _pct(s["objective"], 3), _n(s["latency_threshold_ms"], 0),
          _n(s["degraded_is_good"]), _n(s["total"]), _n(s["bad"]), _pct(s["bad_fraction"]),
          f"{_pct(s['lower'])} .. {_pct(s['upper'])} ({s['confidence']:.0%})",
          _n(s["needed_requests"]), f"**{s['verdict']}**"] for s in rep["slos"]])
    b = rep["error_budget"]
    lat = rep["latency_ms"]
    gen = rep["generator"]
    out += [f"Error budget: {_n(b['bad'])} bad of {_n(b['allowed_bad'])} allowed "
            f"({_pct(b['consumed'], 1)} consumed). Latency p50 {_n(lat['p50'], 1)} ms, "
            f"p99 {_n(lat['p99'], 1)} ms, p99.9 {_n(lat['p999'], 1)} ms, max "
            f"{_n(lat['max'], 1)} ms.", ""]
    out += [f"Load: {gen['kind']} at {_n(gen['rate'], 1)} req/s; sent {_n(gen['sent'])}, "
            f"dropped {_n(gen['dropped'])}, lateness p99 {_n(gen['lateness_p99_ms'], 1)} ms"
            + (" **(the generator fell behind)**" if gen["fell_behind"] else "") + ".", ""]
    out += cache_hit_markdown(rep)
    fired = [a["name"] for a in rep["burn"].get("alerts", []) if a.get("fired")]
    if rep["burn"].get("alerts"):
        out += [f"Burn-rate alerts that would have fired: {', '.join(fired) or 'none'}.", ""]
    if rep["faults"]:
        out += ["## Faults", ""]
        out += _table(
            ["trial", "fault", "target", "services", "injected s", "reverted s", "landed",
             "detect s", "failover s", "recover s", "bad req", "error-s"],
            [[str(f.get("trial", 1)), f"`{f['name']}`", _n(f["target"]),
              ", ".join(f["services"]), _n(f["injected_at_s"]), _n(f["reverted_at_s"]),
              _n(f["landed"]), _n(f["detect_s"]), _n(f["failover_s"]), _n(f["recover_s"]),
              _n(f["bad_requests"]), _n(f["error_seconds"])] for f in rep["faults"]])
    out += exercise_markdown(rep)
    out += failover_markdown(rep)
    out += writes_markdown(rep)
    if (rep.get("projection") or {}).get("answer"):
        out += [f"Projection (default incident frequencies): {rep['projection']['answer']}.", ""]
    if len(rep.get("trials") or []) > 1 and rep.get("distributions"):
        out += [f"## Over {len(rep['trials'])} trials", ""]
        out += _table(["fault", "metric", "min", "median", "p95", "max"],
                      [[f"`{fault}`", m, _n(d["min"]), _n(d["median"]), _n(d["p95"]),
                        _n(d["max"])] for fault, ms in rep["distributions"].items()
                       for m, d in ms.items()])
    if rep.get("knob_overrides"):
        out += ["## Knob overrides", ""]
        out += [f"- `{k} = {v}`" for k, v in rep["knob_overrides"].items()] + [""]
    out += ["Files: " + ", ".join(f"`{v}`" for v in rep["files"].values() if v), ""]
    return "\n".join(out)
