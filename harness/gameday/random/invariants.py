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

__all__ = ["INVARIANTS", "Violation", "check_reverted", "check_slo", "check_writes", "leftovers"]

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


def leftovers(stack: Any) -> list[str]:
    """Faults still in effect, looked at from outside (before any heal): open fault handles,
    recorded faults, Toxiproxy toxics or disabled proxies, provider simulator faults, services
    not up."""
    from harness.faults import ToxiproxyClient, active_handles, load_records
    from harness.simulators.control import ProviderControlClient
    from harness.stack.base import ProviderControl, Proxied

    out = [f"fault handle {h.fault_id} still open" for h in active_handles()]
    out += [f"recorded fault {r.get('name')} {r.get('id')}" for r in load_records(stack)]
    if isinstance(stack, Proxied):
        with ToxiproxyClient(stack.toxiproxy_url) as tp:
            for name, proxy in tp.proxies().items():
                if not proxy.enabled:
                    out.append(f"toxiproxy proxy {name} disabled")
                out += [f"toxiproxy {name}: toxic {t.name}" for t in proxy.toxics]
    if isinstance(stack, ProviderControl):
        for provider in ("primary", "fallback"):
            url, token = stack.provider_control(provider)
            with ProviderControlClient(url, token) as ctl:
                out += [f"provider {provider}: fault {kind}" for kind in ctl.faults()]
    out += [f"{s.name} is {s.health}" for s in stack.status().services if s.health != "up"]
    return out


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
        problems.append(f"still in effect after the run: {', '.join(healed)}")
    if ready_error:
        problems.append(f"stack not ready after heal: {ready_error}")
    if problems:
        return Violation(invariant="reverted", message="; ".join(problems))
    return None
