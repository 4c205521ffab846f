"""Arrival schedules: when each request of an open-loop run is due. Pure and seeded.

The schedule is a pure function of ``(arrivals, rate, seed)``: request ``i`` is due at
``offset_ns(i)`` after the generator's start, whatever happens to the service. A seeded run
therefore replays exactly the same send times (and, with :class:`~harness.load.mix.RequestMix`,
the same questions), so two runs differ only in what the system under test did.

* ``constant``: request ``i`` at ``i / rate`` seconds.
* ``poisson``: exponential gaps with mean ``1 / rate`` (a memoryless arrival process, the usual
  model of many independent clients), drawn from ``random.Random(seed)``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from harness.errors import ConfigError

__all__ = ["ARRIVALS", "Schedule"]

ARRIVALS: tuple[str, ...] = ("constant", "poisson")

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """Due times (ns offsets from the start) of an open-loop arrival process."""

    rate: float  # requests per second
    arrivals: str = "poisson"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.arrivals not in ARRIVALS:
            raise ConfigError("unknown arrival process", field="load.arrivals",
                              value=self.arrivals, allowed=ARRIVALS)
        if not (self.rate > 0 and self.rate <= 1e6):
            raise ConfigError("the request rate must be in (0, 1e6] requests per second",
                              field="load.rate", value=self.rate)

    def offsets(self) -> Iterator[int]:
        """Endless iterator of due times in ns after the start, non-decreasing."""
        if self.arrivals == "constant":
            period = _NS / self.rate
            i = 0
            while True:
                yield round(i * period)
                i += 1
        rng = random.Random(self.seed)
        t = 0.0
        mean_ns = _NS / self.rate
        while True:
            yield round(t)
            t += rng.expovariate(1.0) * mean_ns

    def within(self, duration_s: float) -> list[int]:
        """All due times strictly before ``duration_s`` (for tests and planning)."""
        end = duration_s * _NS
        out = []
        for off in self.offsets():
            if off >= end:
                break
            out.append(off)
        return out

    def expected_count(self, duration_s: float) -> float:
        """Expected number of requests in ``duration_s`` (exact for ``constant``)."""
        return self.rate * duration_s
