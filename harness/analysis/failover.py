"""Per-fault results: what each fault did to clients and how the stack handled it.

Combines :mod:`impact` (windows and their owners) with :mod:`observe` (detection and recovery).
Times are seconds; ``injected_at_s`` / ``reverted_at_s`` are relative to the run's time zero,
the other ``*_s`` are durations from the inject (``detect_s``, ``failover_s``) or from the revert
(``recover_s``, ``failback_s``). ``None`` means "could not be measured" (not "zero").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis.exercise import Exercise
from harness.analysis.impact import FaultRecord, ImpactWindows
from harness.analysis.milestones import Milestone, fault_milestones
from harness.analysis.observe import first_detection, recovery_time
from harness.analysis.spec import AnalysisSpec
from harness.timeline import Event

__all__ = ["FaultImpact", "fault_impacts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultImpact:
    fault: FaultRecord
    injected_at_s: float
    reverted_at_s: float | None
    detect_s: float | None
    detected_by: str | None
    failover_s: float
    failback_s: float | None
    recover_s: float | None
    bad_requests: int
    impact_s: float
    error_seconds: float | None
    windows_s: tuple[tuple[float, float, int], ...]  # (start_s, end_s, bad) relative to time 0
    overlaps: tuple[str, ...]  # ids of faults whose active spans overlap this one's
    exercise: Exercise | None = None  # traffic through the faulted part (analysis.exercise)
    milestones: tuple[Milestone, ...] = ()  # detected / decided / served / redundant

    def to_json(self) -> dict[str, Any]:
        f = self.fault
        return {
            "id": f.fault_id, "name": f.name, "family": f.family, "target": f.target,
            "params": dict(f.params), "services": list(f.services),
            "injected_at_s": self.injected_at_s, "reverted_at_s": self.reverted_at_s,
            "landed": f.landed, "verification": f.verification,
            "revert_verified": f.reverted_ok, "revert_detail": f.reverted_detail,
            "detect_s": self.detect_s, "detected_by": self.detected_by,
            "failover_s": self.failover_s, "failback_s": self.failback_s,
            "recover_s": self.recover_s, "bad_requests": self.bad_requests,
            "error_seconds": self.error_seconds, "impact_s": self.impact_s,
            "impact_windows": [list(w) for w in self.windows_s],
            "overlaps": list(self.overlaps),
            "exercise": None if self.exercise is None else self.exercise.to_json(),
            "milestones": [m.to_json() for m in self.milestones],
        }


def _overlaps(i: int, faults: Sequence[FaultRecord], end_ns: int) -> tuple[str, ...]:
    f = faults[i]
    return tuple(g.fault_id for j, g in enumerate(faults) if j != i
                 and g.inject_ns <= f.active_end(end_ns) and f.inject_ns <= g.active_end(end_ns))


def _episode_end(starts: np.ndarray, ends: np.ndarray, hold_ns: int) -> int | None:
    """End of the first episode: windows (sorted by start) chained while the clean gap between
    one's end and the next's start is shorter than ``hold_ns``."""
    if starts.shape[0] == 0:
        return None
    end = int(ends[0])
    for s, e in zip(starts[1:].tolist(), ends[1:].tolist(), strict=True):
        if s - end >= hold_ns:
            break
        end = max(end, e)
    return end


def _client_times(f: FaultRecord, w: ImpactWindows, mine: np.ndarray,
                  hold_ns: int) -> tuple[float, float | None]:
    starts, ends = w.start[mine], w.end[mine]
    cut = f.revert_ns if f.revert_ns is not None else np.iinfo(np.int64).max
    during = starts < cut
    over = _episode_end(starts[during], ends[during], hold_ns)
    failover = 0.0 if over is None else max(0.0, (over - f.inject_ns) / 1e9)
    if f.revert_ns is None:
        return failover, None
    back = _episode_end(starts[~during], ends[~during], hold_ns)
    return failover, 0.0 if back is None else max(0.0, (back - f.revert_ns) / 1e9)


def _recover_s(f: FaultRecord, faults: Sequence[FaultRecord],
               events: Sequence[Event]) -> float | None:
    if f.revert_ns is None:
        return None
    later = [g.inject_ns for g in faults if g.inject_ns > f.revert_ns]
    recovered = recovery_time(events, revert_ns=f.revert_ns, limit_ns=min(later, default=None))
    return None if recovered is None else (recovered - f.revert_ns) / 1e9


def _one(i: int, faults: Sequence[FaultRecord], events: Sequence[Event], w: ImpactWindows,
         owner: np.ndarray, *, spec: AnalysisSpec, origin_ns: int, end_ns: int,
         rate: float | None) -> FaultImpact:
    f = faults[i]
    grace_ns = round(spec.impact_grace_s * 1e9)
    detection = first_detection(events, start_ns=f.inject_ns,
                                end_ns=f.active_end(end_ns) + grace_ns,
                                detection_events=spec.detection_events)
    recover_s = _recover_s(f, faults, events)
    mine = owner == i
    failover, failback = _client_times(f, w, mine, round(spec.failover_hold_s * 1e9))
    bad = int(w.count[mine].sum())
    later = [g.inject_ns for g in faults if f.revert_ns is not None and g.inject_ns > f.revert_ns]
    milestones = fault_milestones(f, events, decide_end_ns=f.active_end(end_ns) + grace_ns,
                                  limit_ns=min(later, default=end_ns), failover_s=failover,
                                  bad_requests=bad, detection_events=spec.detection_events)
    return FaultImpact(
        fault=f, injected_at_s=(f.inject_ns - origin_ns) / 1e9,
        reverted_at_s=None if f.revert_ns is None else (f.revert_ns - origin_ns) / 1e9,
        detect_s=None if detection is None else (detection[0] - f.inject_ns) / 1e9,
        detected_by=None if detection is None else detection[1],
        failover_s=failover, failback_s=failback,
        recover_s=recover_s,
        bad_requests=bad, impact_s=float((w.end[mine] - w.start[mine]).sum()) / 1e9,
        error_seconds=None if not rate else bad / rate,
        windows_s=tuple(((int(s) - origin_ns) / 1e9, (int(e) - origin_ns) / 1e9, int(c))
                        for s, e, c in zip(w.start[mine], w.end[mine], w.count[mine],
                                           strict=True)),
        overlaps=_overlaps(i, faults, end_ns), milestones=milestones,
    )


def fault_impacts(faults: Sequence[FaultRecord], events: Sequence[Event], windows: ImpactWindows,
                  owner: np.ndarray, *, spec: AnalysisSpec, origin_ns: int, end_ns: int,
                  rate: float | None) -> tuple[FaultImpact, ...]:
    return tuple(_one(i, faults, events, windows, owner, spec=spec, origin_ns=origin_ns,
                      end_ns=end_ns, rate=rate) for i in range(len(faults)))
