"""Is the run itself trustworthy? Generator health and harness-level checks.

Any of these makes a run INCONCLUSIVE (never PASS):

* the generator fell behind: a ``load.stop`` event says ``fell_behind``, or the measured lateness
  (``start - intended`` of sent requests) has p99 above ``AnalysisSpec.max_lateness_p99_ms``;
* no requests in the analysed window;
* a ``harness.error`` event; a ``heal`` event whose ``failed`` list is not empty (a heal step
  failed); a ``stop_condition`` event (the run was aborted); a ``run.end``
  whose reason is ``interrupted`` or ``error``;
* a ``steady_state`` event with ``ok`` false: ``phase='before'`` (the stack was not healthy
  before the method, so the method proves nothing) or ``phase='after'`` (it did not settle);
* a fault that never landed (``fault.verified ok=false``, or no ``fault.verified`` at all), or
  whose revert was not verified (``fault.reverted ok=false``), or that was never reverted.

What the method did to the SLOs is judged by the SLO verdicts themselves (FAIL beats all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis.arrays import RequestArrays
from harness.analysis.impact import FaultRecord
from harness.analysis.latency import nearest_rank
from harness.analysis.verdict import Verdict, VerdictCheck
from harness.timeline import Event

__all__ = ["GeneratorHealth", "fault_checks", "generator_health", "run_checks"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratorHealth:
    kind: str | None
    rate: float | None  # configured (load.start), summed over generators
    achieved_rate: float | None  # measured from intended send times
    sent: int
    dropped: int
    fell_behind: bool  # reported by the generator OR measured lateness over the bound
    reported_fell_behind: bool
    lateness_p99_ms: float | None  # measured
    max_lateness_ms: float | None  # measured
    lateness_bound_ms: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "rate": self.rate, "achieved_rate": self.achieved_rate,
                "sent": self.sent, "dropped": self.dropped, "fell_behind": self.fell_behind,
                "reported_fell_behind": self.reported_fell_behind,
                "lateness_p99_ms": self.lateness_p99_ms, "max_lateness_ms": self.max_lateness_ms,
                "lateness_bound_ms": self.lateness_bound_ms}

    def check(self) -> VerdictCheck:
        if not self.fell_behind:
            return VerdictCheck(verdict=Verdict.PASS, reason=(
                f"generator kept up (lateness p99 {_fmt(self.lateness_p99_ms)} ms <= "
                f"{self.lateness_bound_ms:g} ms)"))
        why = ("the generator reported fell_behind=true" if self.reported_fell_behind else
               f"measured lateness p99 {_fmt(self.lateness_p99_ms)} ms exceeds the bound "
               f"{self.lateness_bound_ms:g} ms")
        return VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
            f"load generator fell behind ({why}): latency and availability are not trustworthy; "
            f"lower the rate or give the generator more CPU"))


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def generator_health(req: RequestArrays, events: Sequence[Event], *,
                     bound_ms: float) -> GeneratorHealth:
    starts = [e for e in events if e.kind == "load.start"]
    stops = [e for e in events if e.kind == "load.stop"]
    sent_mask = req.sent
    lateness = np.maximum(req.start[sent_mask] - req.intended[sent_mask], 0)
    p99 = nearest_rank(lateness, 99.0)
    p99_ms = None if p99 is None else p99 / 1e6
    reported = any(bool(e.get("fell_behind", False)) for e in stops)
    kinds = sorted({str(e.get("generator")) for e in starts if e.get("generator") is not None})
    rates = [float(e.get("rate")) for e in starts if isinstance(e.get("rate"), int | float)]
    sent = int(np.count_nonzero(sent_mask))
    return GeneratorHealth(
        kind=",".join(kinds) or None, rate=sum(rates) if rates else None,
        achieved_rate=req.offered_rate(), sent=sent, dropped=len(req) - sent,
        fell_behind=reported or (p99_ms is not None and p99_ms > bound_ms),
        reported_fell_behind=reported, lateness_p99_ms=p99_ms,
        max_lateness_ms=None if lateness.shape[0] == 0 else float(lateness.max()) / 1e6,
        lateness_bound_ms=bound_ms,
    )


def _event_check(e: Event) -> VerdictCheck | None:
    if e.kind == "harness.error":
        return VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
            f"harness error from {e.source}: {e.get('error', '')} {e.get('detail', '')}".strip()))
    if e.kind == "stop_condition":
        return VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
            f"run aborted by stop condition {e.get('condition')!r} (bad fraction "
            f"{e.get('bad_fraction')} over {e.get('window_s')} s)"))
    if e.kind == "heal" and e.get("failed"):
        return VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
            f"healing the stack after the method failed ({'; '.join(map(str, e.get('failed')))}"
            f"): the stack may still carry a fault; run 'chaos-harness heal' and check "
            f"'chaos-harness status' before trusting another run on it"))
    if e.kind == "run.end" and e.get("reason") in ("interrupted", "error"):
        return VerdictCheck(verdict=Verdict.INCONCLUSIVE,
                            reason=f"run ended early (reason {e.get('reason')!r})")
    if e.kind == "steady_state" and e.get("ok") is False:
        if e.get("phase") == "after":
            return VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
                f"steady state not restored after the method ({e.get('detail', '')}): the "
                f"stack did not settle, so later measurements are unreliable"))
        return VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
            f"steady-state check failed before the method ({e.get('detail', '')}): the stack "
            f"was not healthy, so the method proves nothing; fix the stack and re-run"))
    return None


def run_checks(events: Sequence[Event], n_requests: int) -> list[VerdictCheck]:
    checks = [c for c in (_event_check(e) for e in events) if c is not None]
    if n_requests == 0:
        checks.append(VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
            "no requests in the analysed window: nothing was measured; check that the load "
            "generator ran and that the window covers it")))
    return checks


def fault_checks(faults: Sequence[FaultRecord]) -> list[VerdictCheck]:
    checks = []
    for f in faults:
        label = f"fault {f.fault_id} ({f.name})"
        if f.verified_ok is None:
            checks.append(VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
                f"{label} was never verified from outside (no fault.verified event), so it is "
                f"unknown whether it took effect")))
        elif not f.verified_ok:
            checks.append(VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
                f"{label} never took effect: {f.verification or 'verification failed'}")))
        if f.revert_ns is None:
            checks.append(VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
                f"{label} was never reverted (no fault.revert event)")))
        elif f.reverted_ok is False:
            checks.append(VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
                f"{label} revert was not verified: {f.reverted_detail or 'check failed'}")))
    return checks
