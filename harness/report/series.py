"""Time series for the report charts, binned from a timeline (numbers only, no rendering).

Times are seconds relative to the run start (the ``run.start`` event, else the first request).
A request is *bad* for the charts by the report's first SLO: no 2xx, slower than the latency
threshold from the intended send time, or degraded when degraded answers do not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.timeline import Outcome, Timeline

__all__ = ["Marker", "Series", "Window", "build_series", "run_start_ns"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    start_s: float
    end_s: float
    label: str
    kind: str = "fault"  # "fault" | "phase"


@dataclass(frozen=True, slots=True, kw_only=True)
class Marker:
    t_s: float
    label: str
    healthy: bool | None  # None: a point event


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    bin_s: float
    t_s: tuple[float, ...]  # bin starts
    sent_per_s: tuple[float, ...]
    good_per_s: tuple[float, ...]
    bad_per_s: tuple[float, ...]
    error_rate: tuple[float, ...]  # bad / completed in the bin (0..1)
    p50_ms: tuple[float | None, ...]
    p99_ms: tuple[float | None, ...]
    faults: tuple[Window, ...]
    phases: tuple[Window, ...]
    markers: tuple[Marker, ...]
    duration_s: float
    milestones: tuple[Marker, ...] = ()  # failover milestones (ticks along the top)


def run_start_ns(tl: Timeline) -> int:
    starts = tl.events_of("run.start")
    if starts:
        return starts[0].t_ns
    reqs = tl.requests
    if len(reqs):
        return int(min(reqs.intended_ns))
    evs = tl.events
    return evs[0].t_ns if evs else 0


def _bad_mask(tl: Timeline, threshold_ms: float | None, degraded_is_good: bool) -> np.ndarray:
    r = tl.requests
    outcome = np.frombuffer(r.outcome, dtype=np.uint8)
    status = np.frombuffer(r.status, dtype=np.uint16)
    ok = (outcome == int(Outcome.OK)) & (status >= 200) & (status < 300)
    if threshold_ms is not None:
        lat = (np.frombuffer(r.end_ns, dtype=np.int64)
               - np.frombuffer(r.intended_ns, dtype=np.int64)) / 1e6
        ok &= lat <= threshold_ms
    if not degraded_is_good:
        ok &= np.frombuffer(r.degraded, dtype=np.uint8) == 0
    return ~ok


def _windows(tl: Timeline, t0: int) -> tuple[tuple[Window, ...], tuple[Window, ...]]:
    evs = tl.events
    end_ns = max((e.t_ns for e in evs), default=t0)
    open_faults: dict[str, tuple[int, str]] = {}
    faults = []
    for e in evs:
        fid = str(e.get("fault_id", ""))
        if e.kind == "fault.inject":
            open_faults[fid] = (e.t_ns, f"{e.get('name', fid)} {e.get('target') or ''}".strip())
        elif e.kind == "fault.revert" and fid in open_faults:
            start, label = open_faults.pop(fid)
            faults.append(Window(start_s=(start - t0) / 1e9, end_s=(e.t_ns - t0) / 1e9,
                                 label=label))
    for start, label in open_faults.values():
        faults.append(Window(start_s=(start - t0) / 1e9, end_s=(end_ns - t0) / 1e9, label=label))
    phases = []
    phase_events = [e for e in evs if e.kind == "phase"]
    for a, b in zip(phase_events, [*phase_events[1:], None], strict=True):
        stop = b.t_ns if b is not None else end_ns
        name = str(a.get("name", ""))
        if name != "done":
            trial = a.get("trial")
            label = f"{name} {trial}" if name in ("method", "recovery") and trial else name
            phases.append(Window(start_s=(a.t_ns - t0) / 1e9, end_s=(stop - t0) / 1e9,
                                 label=label, kind="phase"))
    return tuple(faults), tuple(phases)


def _markers(tl: Timeline, t0: int, limit: int = 200) -> tuple[Marker, ...]:
    out = []
    for e in tl.events:
        if e.kind == "obs.state":
            out.append(Marker(t_s=(e.t_ns - t0) / 1e9, healthy=bool(e.get("healthy")),
                              label=f"{e.get('subject')}: {e.get('state')}"))
        elif e.kind in ("obs.event", "stop_condition", "harness.error"):
            what = e.get("event") or e.get("condition") or e.get("error") or e.kind
            out.append(Marker(t_s=(e.t_ns - t0) / 1e9, healthy=None,
                              label=f"{e.get('subject') or e.kind}: {what}"))
    return tuple(out[:limit])


def _percentile_per_bin(bins: np.ndarray, lat: np.ndarray, n: int, q: float
                        ) -> list[float | None]:
    out: list[float | None] = [None] * n
    if not len(lat):
        return out
    order = np.argsort(bins, kind="stable")
    b_sorted, l_sorted = bins[order], lat[order]
    edges = np.searchsorted(b_sorted, np.arange(n + 1))
    for i in range(n):
        chunk = l_sorted[edges[i]:edges[i + 1]]
        if len(chunk):
            out[i] = round(float(np.percentile(chunk, q)), 3)
    return out


def build_series(tl: Timeline, *, threshold_ms: float | None = 2000.0,
                 degraded_is_good: bool = True, max_bins: int = 600,
                 t0_ns: int | None = None) -> Series:
    """Bin the timeline into at most ``max_bins`` bins of whole or half seconds."""
    t0 = run_start_ns(tl) if t0_ns is None else t0_ns
    r = tl.requests
    intended = (np.frombuffer(r.intended_ns, dtype=np.int64) - t0) / 1e9
    end_evt = max((e.t_ns for e in tl.events), default=t0)
    duration = max(float(intended.max()) if len(intended) else 0.0, (end_evt - t0) / 1e9, 1.0)
    bin_s = 1.0
    while duration / bin_s > max_bins:
        bin_s *= 2
    n = int(np.ceil(duration / bin_s)) or 1
    bins = np.clip((intended // bin_s).astype(np.int64), 0, n - 1) if len(intended) else \
        np.zeros(0, dtype=np.int64)
    bad = _bad_mask(tl, threshold_ms, degraded_is_good) if len(intended) else np.zeros(0, bool)
    sent = np.bincount(bins, minlength=n)[:n].astype(float)
    nbad = np.bincount(bins, weights=bad.astype(float), minlength=n)[:n]
    lat = (np.frombuffer(r.end_ns, dtype=np.int64)
           - np.frombuffer(r.intended_ns, dtype=np.int64)) / 1e6
    answered = np.frombuffer(r.outcome, dtype=np.uint8) != int(Outcome.DROPPED)
    rate = np.divide(nbad, sent, out=np.zeros(n), where=sent > 0)
    faults, phases = _windows(tl, t0)
    return Series(
        bin_s=bin_s,
        t_s=tuple(float(i * bin_s) for i in range(n)),
        sent_per_s=_r(sent / bin_s),
        good_per_s=_r((sent - nbad) / bin_s),
        bad_per_s=_r(nbad / bin_s),
        error_rate=_r(rate, 6),
        p50_ms=tuple(_percentile_per_bin(bins[answered], lat[answered], n, 50)),
        p99_ms=tuple(_percentile_per_bin(bins[answered], lat[answered], n, 99)),
        faults=faults, phases=phases, markers=_markers(tl, t0), duration_s=round(duration, 3),
    )


def _r(a: Sequence[float] | np.ndarray, nd: int = 3) -> tuple[float, ...]:
    return tuple(round(float(x), nd) for x in a)
