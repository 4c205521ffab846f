"""The LLM cache's share of the answers: a stated, measured figure in every report.

A provider fault is exercised only by the requests the cache does not answer (issue 10: a Zipf
mix over 672 questions let the cache answer ~99.7 % of requests, so a 30 s primary outage
reached the provider 24 times). Each answered request says who answered in its ``X-Provider``
header (``primary``, ``fallback``, ``cache``, or ``none`` for a degraded answer built from the
passages); the **measured cache-hit ratio** is the ``cache`` share of the answered (2xx)
requests in the analysed window. The **target** is what the load mix was built for (the
``load.mix`` event: ``cache_hit_target`` of a generated mix, 0 for ``unique``, null for a
Zipf or uniform mix whose hit share is not controlled).

Pure: a function of the timeline and a window (no I/O, no clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.timeline import Outcome, Provider, Timeline

__all__ = ["CacheHitRatio", "cache_hit_ratio", "mix_target", "provider_counts"]

_NAMES = {Provider.PRIMARY: "primary", Provider.FALLBACK: "fallback", Provider.CACHE: "cache",
          Provider.NONE: "none"}


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheHitRatio:
    """``measured`` is None only when no request was answered (``requests == 0``)."""

    measured: float | None
    target: float | None
    requests: int  # answered (2xx) requests in the window
    providers: Mapping[str, int] = field(default_factory=dict)  # answered requests by provider

    def to_json(self) -> dict[str, Any]:
        return {"measured": None if self.measured is None else round(self.measured, 6),
                "target": self.target, "requests": self.requests,
                "providers": dict(self.providers)}


def mix_target(timeline: Timeline) -> float | None:
    """The cache-hit share the run's load mix was built for (its last ``load.mix`` event)."""
    events = timeline.events_of("load.mix")
    if not events:
        return None
    t = events[-1].get("target")
    return None if t is None else float(t)


def provider_counts(timeline: Timeline, window: tuple[int, int] | None = None,
                    *, answered_only: bool = True) -> dict[str, int]:
    """Requests (intended time in ``[window)``) by the provider that answered them.

    With ``answered_only`` only 2xx answers count; otherwise every sent request does (a
    failed request has provider ``none``).
    """
    cols = timeline.requests
    intended = np.frombuffer(cols.intended_ns, dtype=np.int64)
    outcome = np.frombuffer(cols.outcome, dtype=np.uint8)
    status = np.frombuffer(cols.status, dtype=np.uint16)
    provider = np.frombuffer(cols.provider, dtype=np.uint8)
    mask = np.ones(intended.shape, dtype=bool)
    if window is not None:
        mask &= (intended >= window[0]) & (intended < window[1])
    if answered_only:
        mask &= (outcome == Outcome.OK) & (status >= 200) & (status < 300)
    else:
        mask &= outcome != Outcome.DROPPED
    counts = np.bincount(provider[mask], minlength=4)
    return {name: int(counts[p]) for p, name in _NAMES.items()}


def cache_hit_ratio(timeline: Timeline, window: tuple[int, int] | None = None,
                    *, target: float | None = None) -> CacheHitRatio:
    """The cache share of the answered requests whose intended time is in ``[window)``;
    ``target`` defaults to :func:`mix_target`."""
    counts = provider_counts(timeline, window)
    answered = sum(counts.values())
    return CacheHitRatio(
        measured=counts["cache"] / answered if answered else None,
        target=target if target is not None else mix_target(timeline),
        requests=answered, providers=counts)
