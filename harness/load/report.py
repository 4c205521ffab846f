"""What a load generator reports about itself: counters, its own lateness, whether it kept up.

*Lateness* is ``actual send time - intended send time`` per request: how late the generator
itself was, not the service. Latency is always measured from the intended time (open loop), so
lateness never hides a stall of the service; but a generator that is late is not offering the
load it claims, and a run whose generator fell behind is INCONCLUSIVE (MEASUREMENT.md).

The open-loop generator flags ``fell_behind`` when its lateness p99 exceeds
:data:`LATENESS_P99_BOUND_MS` (50 ms) or its maximum exceeds :data:`LATENESS_MAX_BOUND_MS`
(500 ms); both can be set per generator. Why these: the service's latencies are tens of ms to
seconds (LLM calls) and SLO thresholds are in seconds, so lateness under 50 ms at p99 changes
neither the offered load nor the latency percentiles materially; it is what a generator
sharing a busy 2-core CI machine (and its process's GIL) with observers shows when the service
stalls and a few hundred connections open at once (measured: p99 1-25 ms). A generator starved
of CPU for a quarter of a second, or one that blocked on the service, exceeds them. Analysis
applies its own bound as well (``AnalysisSpec.max_lateness_p99_ms``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "LATENESS_MAX_BOUND_MS",
    "LATENESS_P99_BOUND_MS",
    "GeneratorReport",
    "LiveStats",
    "fell_behind",
    "percentile_ms",
]

#: Default bound on the p99 of send lateness (ms) before a run is flagged ``fell_behind``.
LATENESS_P99_BOUND_MS = 50.0
#: Default bound on the maximum send lateness (ms) before a run is flagged ``fell_behind``.
LATENESS_MAX_BOUND_MS = 500.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveStats:
    """Counters while the generator runs (for a progress display and stop conditions)."""

    elapsed_s: float
    scheduled: int  # due so far (sent + dropped)
    sent: int
    completed: int  # a response arrived (any status)
    ok: int  # 2xx
    errors: int  # error or timeout outcome (incl. 4xx/5xx responses)
    dropped: int
    in_flight: int
    connections: int
    max_lateness_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratorReport:
    """Summary of one generator run (``stop()``); every request itself is in the timeline."""

    kind: str  # "open-loop" | "locust"
    rate: float  # target rate (req/s); 0 for an unpaced Locust run
    arrivals: str
    duration_s: float  # from the first due time to the end of scheduling
    scheduled: int
    sent: int
    completed: int
    errors: int
    timeouts: int
    dropped: int
    fell_behind: bool
    fell_behind_reason: str  # "" when it kept up
    lateness_p50_ms: float
    lateness_p99_ms: float
    max_lateness_ms: float
    achieved_rate: float  # sent / duration_s
    connections: int  # connections opened (open loop) or users (Locust)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentile_ms(sorted_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100) of sorted nanosecond values, in ms (0 if empty)."""
    if not sorted_ns:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_ns)))
    return sorted_ns[min(rank, len(sorted_ns)) - 1] / 1e6


def fell_behind(p99_ms: float, max_ms: float, *, p99_bound_ms: float = LATENESS_P99_BOUND_MS,
                max_bound_ms: float = LATENESS_MAX_BOUND_MS) -> str:
    """The reason the generator fell behind, or "" if it kept up."""
    reasons = []
    if p99_ms > p99_bound_ms:
        reasons.append(f"send lateness p99 {p99_ms:.1f} ms > {p99_bound_ms:g} ms")
    if max_ms > max_bound_ms:
        reasons.append(f"max send lateness {max_ms:.1f} ms > {max_bound_ms:g} ms")
    return "; ".join(reasons)
