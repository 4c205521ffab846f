"""Per-fault impact: impact windows, attribution, detect / fail-over / recover times.

Definitions (docs/MEASUREMENT.md, "Failover and recovery times"):

* Each bad request covers the interval ``[intended, bad_at]`` (see :func:`slo.bad_at`): from when
  it was due to when it had failed. **Impact windows** are the union of these intervals, with
  intervals less than ``impact_gap_s`` apart merged. Under open-loop load, a total outage of
  length ``D`` with a latency threshold ``L`` makes the requests due in ``[t0, t0 + D - L)`` bad,
  at ``intended + L``, so the window is ``[t0, t0 + D]``: its length is ``D`` to within about two
  inter-arrival gaps (calibration: 2.0 s pause -> 2.0 s window).
* A fault's **active span** is ``[fault.inject, fault.revert]`` (``fault.reverted`` if no revert
  event; the end of the timeline if neither). Its **settled end** is when the revert was
  confirmed (``fault.reverted``: e.g. the restarted process answers again), never before the
  revert: a revert that takes 9 s (a replica restarting) is still the fault's doing. A window
  belongs to a fault when it overlaps ``[inject, settled end + grace]``, where the grace is
  ``AnalysisSpec.attribution_grace_s``: ``impact_grace_s`` (5 s), or the experiment's recovery
  wait when longer (``recovery_attribution_s``): what goes wrong while the stack recovers from a
  fault is that fault's cost. With several candidates (overlapping faults), the window
  goes to the fault with the most recent *transition* (inject or revert) at or before the
  window's start + ``impact_gap_s``; if none, to the earliest injected candidate. Each window, and
  so each bad request, belongs to at most one fault; other bad requests are *unattributed*.
* **failover_s** = end of the first *episode* of owned windows that started before the revert,
  minus the inject time (0.0 with no impact); an episode chains windows while the clean gap
  between them is shorter than ``failover_hold_s``, so a stray error long after the stack had
  failed over does not stretch it (it still counts in bad_requests). **failback_s** = the same
  for owned windows that started at or after the revert, from the revert time (0.0 if none).
* **bad_requests** = bad requests in owned windows; **impact_s** = total length of owned windows;
  **error_seconds** = bad_requests / offered rate (seconds of *full* outage with the same cost).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.timeline import Event

__all__ = ["FaultRecord", "ImpactWindows", "attribute_windows", "impact_windows", "parse_faults"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultRecord:
    """One fault as the timeline recorded it (``fault.*`` events grouped by ``fault_id``)."""

    fault_id: str
    name: str
    family: str
    target: str | None
    params: Mapping[str, Any] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    inject_ns: int
    verified_ok: bool | None = None  # None: no fault.verified event
    verification: str = ""
    revert_ns: int | None = None
    reverted_ns: int | None = None  # when the revert was confirmed (fault.reverted)
    reverted_ok: bool | None = None
    reverted_detail: str = ""

    @property
    def landed(self) -> bool:
        return self.verified_ok is True

    def active_end(self, timeline_end_ns: int) -> int:
        return timeline_end_ns if self.revert_ns is None else self.revert_ns

    def settled_end(self, timeline_end_ns: int) -> int:
        """When the revert was confirmed (not before the active end); impact up to a grace
        after this still belongs to the fault."""
        end = self.active_end(timeline_end_ns)
        return end if self.reverted_ns is None else max(end, self.reverted_ns)


def _fault_fields(inject: Event) -> dict[str, Any]:
    services = inject.get("services") or ()
    return {
        "name": str(inject.get("name", "")),
        "family": str(inject.get("family", "") or ""),
        "target": None if inject.get("target") is None else str(inject.get("target")),
        "params": dict(inject.get("params") or {}),
        "services": tuple(str(s) for s in services),
        "inject_ns": inject.t_ns,
    }


def parse_faults(events: Sequence[Event],
                 window: tuple[int, int] | None = None) -> tuple[FaultRecord, ...]:
    """Faults injected (inside ``window`` if given), in injection order."""
    found: dict[str, dict[str, Any]] = {}
    for e in events:
        if not e.kind.startswith("fault."):
            continue
        fid = str(e.get("fault_id", ""))
        if e.kind == "fault.inject":
            if window is None or window[0] <= e.t_ns < window[1]:
                found.setdefault(fid, {"fault_id": fid, **_fault_fields(e)})
            continue
        rec = found.get(fid)
        if rec is None:
            continue
        if e.kind == "fault.verified" and "verified_ok" not in rec:
            rec["verified_ok"] = bool(e.get("ok", False))
            rec["verification"] = str(e.get("detail", ""))
        elif e.kind == "fault.revert" and rec.get("revert_kind") != "revert":
            rec["revert_ns"], rec["revert_kind"] = e.t_ns, "revert"
        elif e.kind == "fault.reverted":
            rec["reverted_ok"] = bool(e.get("ok", False))
            rec["reverted_detail"] = str(e.get("detail", ""))
            rec["reverted_ns"] = e.t_ns
            rec.setdefault("revert_ns", e.t_ns)
            rec.setdefault("revert_kind", "reverted")
    out = []
    for rec in found.values():
        rec.pop("revert_kind", None)
        out.append(FaultRecord(**rec))
    return tuple(sorted(out, key=lambda f: f.inject_ns))


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactWindows:
    start: np.ndarray  # int64 ns
    end: np.ndarray  # int64 ns
    count: np.ndarray  # bad requests per window

    def __len__(self) -> int:
        return int(self.start.shape[0])


def impact_windows(intended_ns: np.ndarray, bad_at_ns: np.ndarray, *,
                   gap_ns: int) -> ImpactWindows:
    """Merge the bad requests' ``[intended, bad_at]`` intervals (gaps <= ``gap_ns`` bridged)."""
    if intended_ns.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ImpactWindows(start=empty, end=empty, count=empty)
    order = np.argsort(intended_ns, kind="stable")
    starts, ends = intended_ns[order], np.maximum.accumulate(bad_at_ns[order])
    breaks = np.flatnonzero(starts[1:] > ends[:-1] + gap_ns) + 1
    first = np.concatenate(([0], breaks))
    last = np.concatenate((breaks - 1, [starts.shape[0] - 1]))
    return ImpactWindows(start=starts[first], end=ends[last], count=last - first + 1)


def _owner(w_start: int, w_end: int, faults: Sequence[FaultRecord], spans: Sequence[tuple],
           gap_ns: int) -> int:
    candidates = [i for i, (s, e) in enumerate(spans) if w_start <= e and w_end >= s]
    if not candidates:
        return -1
    best, best_t = -1, None
    for i in candidates:
        f = faults[i]
        times = [t for t in (f.inject_ns, f.revert_ns) if t is not None and t <= w_start + gap_ns]
        if times and (best_t is None or max(times) > best_t):
            best, best_t = i, max(times)
    if best >= 0:
        return best
    return min(candidates, key=lambda i: faults[i].inject_ns)


def attribute_windows(windows: ImpactWindows, faults: Sequence[FaultRecord], *, gap_ns: int,
                      grace_ns: int, timeline_end_ns: int) -> np.ndarray:
    """Index into ``faults`` of each window's owner, -1 when unattributed."""
    owner = np.full(len(windows), -1, dtype=np.int64)
    if not faults or not len(windows):
        return owner
    spans = [(f.inject_ns, f.settled_end(timeline_end_ns) + grace_ns) for f in faults]
    near = np.zeros(len(windows), dtype=bool)
    for s, e in spans:
        near |= (windows.start <= e) & (windows.end >= s)
    for i in np.flatnonzero(near).tolist():
        owner[i] = _owner(int(windows.start[i]), int(windows.end[i]), faults, spans, gap_ns)
    return owner
