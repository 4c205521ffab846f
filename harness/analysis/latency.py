"""Latency percentiles, overall and per time window, exact (no histogram approximation).

* Sample: every request that was sent (outcome is not DROPPED) -- successes, errors and
  timeouts alike -- with latency ``end - intended`` (from the *intended* send time, so a stall of
  the system shows up here instead of vanishing as coordinated omission). A timeout contributes
  the time the client gave up (a lower bound on its true latency).
* Percentile: **nearest rank** -- the ``p``-th percentile is the smallest sample with at least
  ``p`` % of samples at or below it (``sorted[ceil(p/100 * n) - 1]``; numpy's
  ``inverted_cdf``). Always an observed value, exact, no interpolation.
* Windows: fixed bins of ``latency_bin_s`` by intended send time from the run's time zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis.arrays import RequestArrays

__all__ = ["PERCENTILES", "LatencySummary", "LatencyWindow", "latency_summary",
           "latency_windows", "nearest_rank"]

#: (report key, percentile)
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))
_LAT_BITS = 40  # latencies are clamped below 2**40 ns (~18 min) when packed with the bin index


def _ranks(n: int, percentiles: np.ndarray) -> np.ndarray:
    """0-based nearest-rank indexes for ``n`` samples."""
    r = np.ceil(percentiles / 100.0 * n - 1e-9).astype(np.int64) - 1
    return np.clip(r, 0, max(n - 1, 0))


def nearest_rank(values: np.ndarray, percentile: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when empty)."""
    if values.shape[0] == 0:
        return None
    k = int(_ranks(values.shape[0], np.array([percentile]))[0])
    return float(np.partition(values, k)[k])


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencySummary:
    count: int
    values_ms: dict[str, float | None]  # p50, p90, p99, p999, max

    def to_json(self) -> dict[str, float | None]:
        return dict(self.values_ms)


def _latencies(req: RequestArrays) -> np.ndarray:
    sent = req.sent
    return np.maximum(req.end[sent] - req.intended[sent], 0)


def latency_summary(req: RequestArrays) -> LatencySummary:
    lat = _latencies(req)
    n = int(lat.shape[0])
    keys = [k for k, _ in PERCENTILES] + ["max"]
    if n == 0:
        return LatencySummary(count=0, values_ms=dict.fromkeys(keys))
    ranks = _ranks(n, np.array([p for _, p in PERCENTILES]))
    part = np.partition(lat, np.unique(np.append(ranks, n - 1)))
    vals = [float(part[r]) / 1e6 for r in ranks] + [float(part[n - 1]) / 1e6]
    return LatencySummary(count=n, values_ms=dict(zip(keys, vals, strict=True)))


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyWindow:
    start_s: float
    end_s: float
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    def to_json(self) -> dict[str, Any]:
        return {"start_s": self.start_s, "end_s": self.end_s, "count": self.count,
                "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms}


def latency_windows(req: RequestArrays, *, origin_ns: int,
                    bin_s: float) -> tuple[LatencyWindow, ...]:
    """Per-bin p50 / p99 / max (nearest rank) of sent requests; empty bins are left out."""
    sent = req.sent
    lat = np.minimum(np.maximum(req.end[sent] - req.intended[sent], 0), (1 << _LAT_BITS) - 1)
    if lat.shape[0] == 0:
        return ()
    bin_ns = round(bin_s * 1e9)
    bins = (req.intended[sent] - origin_ns) // bin_ns
    bins -= bins.min()
    keys = np.sort((bins << _LAT_BITS) | lat)
    sorted_bins = keys >> _LAT_BITS
    sorted_lat = keys & ((1 << _LAT_BITS) - 1)
    uniq, first, counts = np.unique(sorted_bins, return_index=True, return_counts=True)
    offset = int(((req.intended[sent] - origin_ns) // bin_ns).min())
    out = []
    for b, f, c in zip(uniq.tolist(), first.tolist(), counts.tolist(), strict=True):
        r50, r99 = _ranks(c, np.array([50.0, 99.0])).tolist()
        start = (b + offset) * bin_s
        out.append(LatencyWindow(
            start_s=start, end_s=start + bin_s, count=c,
            p50_ms=float(sorted_lat[f + r50]) / 1e6, p99_ms=float(sorted_lat[f + r99]) / 1e6,
            max_ms=float(sorted_lat[f + c - 1]) / 1e6))
    return tuple(out)
