"""Invariants a randomised game day checks after every drawn schedule.

* ``slo``: the availability SLO did not FAIL (its lower confidence bound stayed within budget);
* ``writes``: no acknowledged write to Redis (through Sentinel) was lost;
* ``reverted``: every fault was verified reverted, ``heal_all`` found nothing left to undo and
  the stack got ready again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.gameday.random.writer import WriteCheck
from harness.timeline import Timeline

__all__ = ["INVARIANTS", "Violation", "check_reverted", "check_slo", "check_writes"]

INVARIANTS = ("slo", "writes", "reverted")


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    invariant: str  # one of INVARIANTS
    message: str

    def to_json(self) -> dict[str, str]:
        return {"invariant": self.invariant, "message": self.message}


def check_slo(report: Mapping[str, Any]) -> Violation | None:
    for slo in report.get("slos") or []:
        if slo.get("verdict") == "FAIL":
            return Violation(invariant="slo", message=(
                f"SLO {slo['name']} ({slo['objective'] * 100:g}%) broken: {slo['bad']} bad of "
                f"{slo['total']} requests (bad fraction lower bound {slo['lower']:.3g} > "
                f"{1 - slo['objective']:.3g})"))
    return None


def check_writes(check: WriteCheck | None) -> Violation | None:
    if check is None or check.ok:
        return None
    shown = ", ".join(str(s) for s in check.lost[:10]) + (" ..." if len(check.lost) > 10 else "")
    return Violation(invariant="writes", message=(
        f"{len(check.lost)} of {check.acked} acknowledged Redis writes lost after heal "
        f"(sequence numbers {shown})"))


def check_reverted(timeline_path: Path | None, healed: Sequence[str],
                   ready_error: str | None) -> Violation | None:
    problems = []
    if timeline_path is not None and timeline_path.is_file():
        tl = Timeline.load(timeline_path)
        injected = {e.get("fault_id") for e in tl.events_of("fault.inject")}
        reverted = {e.get("fault_id") for e in tl.events_of("fault.reverted") if e.get("ok")}
        missing = sorted(str(f) for f in injected - reverted)
        if missing:
            problems.append(f"not verified reverted: {', '.join(missing)}")
    if healed:
        problems.append(f"heal_all still had to undo: {', '.join(healed)}")
    if ready_error:
        problems.append(f"stack not ready after heal: {ready_error}")
    if problems:
        return Violation(invariant="reverted", message="; ".join(problems))
    return None
