"""Synthetic timelines with known ground truth, for calibration tests and benchmarks.

A test helper (not part of the product).

Pure: the caller gives the time origin and the seed; nothing reads the clock. A synthetic run is
open-loop load at a fixed rate (constant or Poisson arrivals) against a service that answers in
``service_ms``, plus :class:`Outage` periods (what clients see) and :class:`SyntheticFault` /
observer events (what the harness and the observers would have written).

Outage modes (each hits a ``fraction`` of the requests due in ``[start_s, end_s)``):

* ``stall`` -- the service is paused: requests due (or still in flight) during the outage are
  answered ``service_ms`` after it ends (200 OK, late);
* ``error`` -- connection refused: outcome ERROR, no status, 1 ms after the intended time;
* ``http500`` -- a 500 response after ``service_ms``;
* ``degraded`` -- a 200 marked degraded;
* ``slow`` -- answered ``extra_ms`` late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from harness.timeline import Outcome, Timeline

__all__ = ["Observation", "Outage", "SyntheticFault", "synthetic_timeline"]

S = 1_000_000_000
MS = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Outage:
    start_s: float
    end_s: float
    mode: Literal["stall", "error", "http500", "degraded", "slow"] = "stall"
    fraction: float = 1.0
    extra_ms: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticFault:
    fault_id: str
    name: str
    inject_s: float
    revert_s: float | None
    family: str = "process"
    target: str | None = None
    landed: bool | None = True  # None: no fault.verified event
    reverted_ok: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    #: upstream calls the exercise samples show while the fault was on (None: no samples)
    exercise_calls: int | None = 100
    #: how long the revert took to be confirmed (``fault.reverted`` after ``fault.revert``)
    settle_s: float = 0.001


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    t_s: float
    subject: str
    healthy: bool
    state: str = ""


def _schedule(n: int, rate: float, poisson: bool, rng: np.random.Generator) -> np.ndarray:
    if poisson:
        return np.cumsum(rng.exponential(S / rate, size=n)).astype(np.int64)
    return (np.arange(n, dtype=np.int64) * S) // round(rate) if float(rate).is_integer() \
        else np.round(np.arange(n) * (S / rate)).astype(np.int64)


def _apply(o: Outage, intended: np.ndarray, end: np.ndarray, cols: dict[str, np.ndarray],
           service_ns: int, origin_ns: int, rng: np.random.Generator) -> None:
    lo, hi = origin_ns + round(o.start_s * S), origin_ns + round(o.end_s * S)
    if o.mode == "stall":  # due during the outage, or in flight when it began
        hit = (intended < hi) & (intended + service_ns > lo)
    else:
        hit = (intended >= lo) & (intended < hi)
    if o.fraction < 1.0:
        hit &= rng.random(intended.shape[0]) < o.fraction
    if o.mode == "stall":
        end[hit] = np.maximum(end[hit], hi + service_ns)
    elif o.mode == "error":
        end[hit] = intended[hit] + MS
        cols["outcome"][hit], cols["status"][hit] = int(Outcome.ERROR), 0
    elif o.mode == "http500":
        cols["outcome"][hit], cols["status"][hit] = int(Outcome.ERROR), 500
    elif o.mode == "degraded":
        cols["degraded"][hit] = 1
    elif o.mode == "slow":
        end[hit] += round(o.extra_ms * MS)


def _fault_events(tl: Timeline, f: SyntheticFault, origin_ns: int) -> None:
    t = origin_ns + round(f.inject_s * S)
    tl.add_event("fault.inject", "fault", t_ns=t, fault_id=f.fault_id, name=f.name,
                 family=f.family, target=f.target, params=dict(f.params), services=[])
    if f.landed is not None:
        tl.add_event("fault.verified", "fault", t_ns=t + MS, fault_id=f.fault_id, ok=f.landed,
                     detail="active" if f.landed else "the fault had no visible effect")
    counter = "haproxy.app.app-az-a.stot"
    if f.exercise_calls is not None:
        tl.add_event("exercise.sample", "runner", t_ns=t + 2 * MS, fault_id=f.fault_id,
                     phase="inject", counters={counter: 1000.0}, rule="gated",
                     wanted=[counter], errors={}, probes={})
    if f.revert_s is not None:
        r = origin_ns + round(f.revert_s * S)
        if f.exercise_calls is not None:
            tl.add_event("exercise.sample", "runner", t_ns=r - MS, fault_id=f.fault_id,
                         phase="revert", counters={counter: 1000.0 + f.exercise_calls},
                         rule="gated", wanted=[counter], errors={}, probes={})
        tl.add_event("fault.revert", "fault", t_ns=r, fault_id=f.fault_id)
        tl.add_event("fault.reverted", "fault", t_ns=r + round(f.settle_s * S),
                     fault_id=f.fault_id,
                     ok=f.reverted_ok, detail="" if f.reverted_ok else "still active")


def synthetic_timeline(*, duration_s: float, rate: float, origin_ns: int = 1_000 * S,
                       service_ms: float = 20.0, outages: Sequence[Outage] = (),
                       faults: Sequence[SyntheticFault] = (),
                       observations: Sequence[Observation] = (), poisson: bool = False,
                       lateness_ms: float = 0.0, seed: int = 0,
                       fell_behind: bool = False) -> Timeline:
    """A finished run: ``run.start`` at ``origin_ns``, load from 0 to ``duration_s``."""
    rng = np.random.default_rng(seed)
    n = max(0, int(duration_s * rate))
    intended = origin_ns + _schedule(n, rate, poisson, rng)
    intended = intended[intended < origin_ns + round(duration_s * S)]
    n = intended.shape[0]
    service_ns = round(service_ms * MS)
    end = intended + service_ns
    cols: dict[str, np.ndarray] = {"outcome": np.zeros(n, np.uint8), "status": np.full(n, 200, np.uint16),
            "degraded": np.zeros(n, np.uint8)}
    for o in outages:
        _apply(o, intended, end, cols, service_ns, origin_ns, rng)
    tl = Timeline(meta={"synthetic": True, "seed": seed})
    tl.add_event("run.start", "runner", t_ns=origin_ns, experiment="synthetic", seed=seed,
                 trial=1)
    tl.add_event("load.start", "load", t_ns=origin_ns, generator="open-loop", rate=rate,
                 arrivals="poisson" if poisson else "constant", target="synthetic")
    tl.add_request_columns(intended_ns=intended, start_ns=intended + round(lateness_ms * MS),
                           end_ns=end, outcome=cols["outcome"], status=cols["status"],
                           degraded=cols["degraded"])
    for f in faults:
        _fault_events(tl, f, origin_ns)
    for ob in observations:
        tl.add_event("obs.state", "observer", t_ns=origin_ns + round(ob.t_s * S),
                     subject=ob.subject, state=ob.state or ("UP" if ob.healthy else "DOWN"),
                     healthy=ob.healthy, detail="")
    stop = origin_ns + round(duration_s * S) + service_ns
    tl.add_event("load.stop", "load", t_ns=stop, sent=n, dropped=0, fell_behind=fell_behind,
                 lateness_p99_ms=lateness_ms, max_lateness_ms=lateness_ms)
    tl.add_event("run.end", "runner", t_ns=stop + MS, reason="completed")
    return tl
