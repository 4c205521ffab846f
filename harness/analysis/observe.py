"""Detection and recovery from observer events (``obs.state`` / ``obs.event``), observer-agnostic.

* **detected** -- the first event in ``[inject, active end + grace]`` that says the *stack*
  noticed: an ``obs.state`` with ``healthy`` false (HAProxy server DOWN, breaker open, replica
  Dead, ...) whose ``signal`` is not ``probe`` (a harness probe noticing a refused connection is
  not the stack noticing), or an ``obs.event`` whose ``event`` is in
  ``AnalysisSpec.detection_events`` (``+sdown``, ``+odown``, ``+switch-master``, ...).
* Subjects ``observer/...`` (an observer's own health) are the harness, not the stack: they count
  for neither detection nor recovery.
* **recovered** -- every subject's latest ``obs.state`` is healthy. Scanning from the revert up
  to a limit (the next fault's injection, else the end of the timeline), the recovery time is the
  last moment the set became all-healthy, provided it is still all-healthy at the limit (so a
  subject that goes DOWN only after the revert -- late detection -- and back UP counts); the
  revert time itself if nothing was unhealthy throughout; ``None`` if not all healthy at the limit.
  Recovery uses every signal, the harness's probes included (a process still refusing
  connections is not redundancy restored).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from harness.timeline import Event

__all__ = ["HARNESS_SUBJECT", "first_detection", "recovery_time"]

#: Subjects under this prefix describe the harness's observers themselves, not the stack.
HARNESS_SUBJECT = "observer/"


def _healthy(e: Event) -> bool | None:
    """The ``healthy`` flag of an ``obs.state`` about the stack (None for anything else)."""
    h = e.get("healthy")
    if not isinstance(h, bool) or str(e.get("subject", "")).startswith(HARNESS_SUBJECT):
        return None
    return h


def _stack_signal(e: Event) -> bool:
    """True unless the state is the harness's own probe's conclusion (``signal: probe``)."""
    return e.get("signal", "stack") != "probe"


def first_detection(events: Sequence[Event], *, start_ns: int, end_ns: int,
                    detection_events: Iterable[str]) -> tuple[int, str] | None:
    """(time, subject) of the first detection signal in ``[start_ns, end_ns]``."""
    names = frozenset(detection_events)
    for e in events:
        if e.t_ns < start_ns:
            continue
        if e.t_ns > end_ns:
            break
        if e.kind == "obs.state" and _healthy(e) is False and _stack_signal(e):
            return e.t_ns, str(e.get("subject", ""))
        if e.kind == "obs.event" and e.get("event") in names:
            return e.t_ns, f"{e.get('subject', '')} {e.get('event')}".strip()
    return None


def recovery_time(events: Sequence[Event], *, revert_ns: int, limit_ns: int | None) -> int | None:
    """When all observed subjects were healthy again after ``revert_ns`` (see module doc)."""
    state: dict[str, bool] = {}
    unhealthy = 0
    recovered: int | None = None
    crossed = False
    for e in events:
        if limit_ns is not None and e.t_ns >= limit_ns:
            break
        healthy = _healthy(e) if e.kind == "obs.state" else None
        if healthy is None:
            continue
        if not crossed and e.t_ns > revert_ns:
            crossed = True
            recovered = revert_ns if unhealthy == 0 else None
        previous = unhealthy
        subject = str(e.get("subject", ""))
        unhealthy += int(state.get(subject, True)) - int(healthy)
        state[subject] = healthy
        if crossed and unhealthy == 0 and previous > 0:
            recovered = e.t_ns
    if unhealthy > 0:
        return None
    return recovered if crossed else revert_ns
