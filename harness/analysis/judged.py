"""The judged window: the span of a trial the SLO verdict is taken over, anchored to its faults.

Per trial (docs/MEASUREMENT.md, "Which window a verdict judges"): from ``lead_s`` before the
first injection to ``recovery_s`` after the last revert, clipped to the trial (its method phase
through the end of its recovery phase). The window depends only on when the faults were injected
and reverted, never on how long the load ran, so clean traffic added before or after it (a longer
warm-up, a longer ``load.duration``) cannot change the verdict: padding cannot turn a FAIL into a
PASS. A trial without any fault is judged whole (there is nothing to anchor to).

The last revert is the fault's ``fault.revert`` event (else ``fault.reverted``); a fault never
reverted keeps the window open to the end of the trial.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.analysis.impact import parse_faults
from harness.timeline import Event

__all__ = ["JudgedWindow", "judged_window", "judged_windows_json"]


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgedWindow:
    trial: int
    start_ns: int
    end_ns: int
    anchored: bool  # False: no fault in the trial, judged whole
    first_inject_ns: int | None
    last_revert_ns: int | None

    @property
    def span(self) -> tuple[int, int]:
        return self.start_ns, self.end_ns


def judged_window(events: Sequence[Event], *, trial: int, start_ns: int, end_ns: int,
                  lead_s: float, recovery_s: float | None) -> JudgedWindow:
    """The judged window of the trial spanning ``[start_ns, end_ns)``.

    ``recovery_s`` None: up to the end of the trial (its recovery phase).
    """
    if not (math.isfinite(lead_s) and lead_s >= 0):
        raise ValueError(f"lead_s must be >= 0, got {lead_s!r}")
    faults = parse_faults(events, (start_ns, end_ns))
    if not faults:
        return JudgedWindow(trial=trial, start_ns=start_ns, end_ns=end_ns, anchored=False,
                            first_inject_ns=None, last_revert_ns=None)
    first = min(f.inject_ns for f in faults)
    open_ended = any(f.revert_ns is None for f in faults)
    last = None if open_ended else max(f.revert_ns or 0 for f in faults)
    lo = max(start_ns, first - round(lead_s * 1e9))
    hi = end_ns if last is None or recovery_s is None else \
        min(end_ns, last + round(recovery_s * 1e9))
    return JudgedWindow(trial=trial, start_ns=lo, end_ns=max(lo, hi), anchored=True,
                        first_inject_ns=first, last_revert_ns=last)


def judged_windows_json(windows: Sequence[JudgedWindow], *, origin_ns: int, lead_s: float,
                        recovery_s: float | None, requests: Sequence[int]) -> dict[str, Any]:
    """report.json ``judged_window``: the rule and each trial's window (seconds from time 0)."""
    return {
        "lead_s": lead_s, "recovery_s": recovery_s,
        "rule": "per trial: lead_s before the first inject to recovery_s after the last revert "
                "(clipped to the trial); the SLO verdict counts only these requests",
        "requests": int(sum(requests)),
        "trials": [{"trial": w.trial, "start_s": (w.start_ns - origin_ns) / 1e9,
                    "end_s": (w.end_ns - origin_ns) / 1e9, "anchored": w.anchored,
                    "requests": int(n)} for w, n in zip(windows, requests, strict=True)],
    }
