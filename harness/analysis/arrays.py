"""A numpy view of a timeline's requests, and the run's time origin.

Kept in analysis (not in ``harness.timeline``, which stays standard library only). Columns are
``numpy.frombuffer`` views over the ``array.array`` copies that ``Timeline.requests`` returns, so
a million requests cost ~24 MB of int64 plus a few MB of small columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.timeline import Event, Outcome, Timeline

__all__ = ["RequestArrays", "run_origin_ns"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestArrays:
    intended: np.ndarray  # int64 ns
    start: np.ndarray  # int64 ns
    end: np.ndarray  # int64 ns
    outcome: np.ndarray  # uint8 (Outcome)
    status: np.ndarray  # uint16
    degraded: np.ndarray  # bool

    def __len__(self) -> int:
        return int(self.intended.shape[0])

    @classmethod
    def from_timeline(cls, timeline: Timeline,
                      window: tuple[int, int] | None = None) -> RequestArrays:
        """Requests whose intended send time is in ``[window[0], window[1])`` (all if None)."""
        cols = timeline.requests
        arrays = cls(
            intended=np.frombuffer(cols.intended_ns, dtype=np.int64),
            start=np.frombuffer(cols.start_ns, dtype=np.int64),
            end=np.frombuffer(cols.end_ns, dtype=np.int64),
            outcome=np.frombuffer(cols.outcome, dtype=np.uint8),
            status=np.frombuffer(cols.status, dtype=np.uint16),
            degraded=np.frombuffer(cols.degraded, dtype=np.uint8).astype(bool),
        )
        return arrays if window is None else arrays.select(
            (arrays.intended >= window[0]) & (arrays.intended < window[1]))

    def select(self, mask: np.ndarray) -> RequestArrays:
        return RequestArrays(intended=self.intended[mask], start=self.start[mask],
                             end=self.end[mask], outcome=self.outcome[mask],
                             status=self.status[mask], degraded=self.degraded[mask])

    @property
    def sent(self) -> np.ndarray:
        """Mask of requests that were sent (outcome is not DROPPED)."""
        return self.outcome != Outcome.DROPPED

    def offered_rate(self) -> float | None:
        """Requests per second of the open-loop schedule: ``(n - 1) / (last - first intended)``."""
        n = len(self)
        if n < 2:
            return None
        span = int(self.intended.max()) - int(self.intended.min())
        return None if span <= 0 else (n - 1) * 1e9 / span


def run_origin_ns(events: Sequence[Event], arrays: RequestArrays,
                  window: tuple[int, int] | None) -> int:
    """Time zero of the report (all ``*_at_s`` are relative to it).

    The run's start: the last ``run.start`` event at or before the window start (the first
    ``run.start`` when there is no window), so per-trial analyses share the run's clock. Without
    a ``run.start``: the window start, else the earliest event or intended send time; 0 for an
    empty timeline. ``events`` are all the timeline's events, sorted by time.
    """
    starts = [e.t_ns for e in events if e.kind == "run.start"]
    if window is not None:
        before = [t for t in starts if t <= window[0]]
        return before[-1] if before else window[0]
    if starts:
        return starts[0]
    candidates = [e.t_ns for e in events[:1]]
    if len(arrays):
        candidates.append(int(arrays.intended.min()))
    return min(candidates) if candidates else 0
