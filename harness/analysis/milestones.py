"""Failover milestones: the failover as the stack did it, from its own signals.

Each fault gets four milestones, each with its time since the injection (``at_s``) and the
signal that set it (docs/MEASUREMENT.md, "Milestones"):

* **detected** -- the first sign that the stack noticed: an unhealthy ``obs.state`` from a stack
  signal (not the harness's probe) or a detection ``obs.event`` (``+sdown``, ``+odown``, ...),
  in ``[inject, active end + grace]``. Same rule as ``detect_s``.
* **decided** -- the stack's decision to route around the loss, by the fault's rule
  (:data:`DECISION_RULES`): the first signal of the most preferred kind that occurred in
  ``[inject, active end + grace]``. A Redis master loss is decided by Sentinel's
  ``+switch-master`` (else ``+odown``); an app replica or zone loss by HAProxy marking a server
  DOWN; a provider fault by a breaker opening; a Qdrant node loss by a shard replica that is no
  longer ``Active``.
* **served** -- clients are served again: the end of the first client-visible impact episode
  (``failover_s``), 0.0 when no request was bad. This one is the clients' view by definition.
* **redundant** -- full redundancy back: every subject that went unhealthy while the fault was
  active or within the grace after its revert (HAProxy server, replication link, breaker, shard
  replica, ...) is healthy again: the first such moment at or after the revert (and after the
  last loss), before the next fault's injection (else the end of the timeline). Later flaps (a
  replica timing out under machine load a minute after the revert) are not this fault's. ``at_s`` is when the last of
  them came back (never before the revert); ``None`` if one is still unhealthy at that limit, or
  if no observed subject ever went unhealthy (nothing to restore: the signal says so).

``at_s`` is ``None`` when the milestone was not reached while observed; ``signal`` then says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.analysis.impact import FaultRecord
from harness.analysis.observe import HARNESS_SUBJECT, first_detection
from harness.timeline import Event

__all__ = ["DECISION_KINDS", "DECISION_RULES", "MILESTONES", "Milestone", "decision_rule",
           "fault_milestones"]

MILESTONES: tuple[str, ...] = ("detected", "decided", "served", "redundant")


def _event(name: str) -> Callable[[Event], bool]:
    return lambda e: e.kind == "obs.event" and e.get("event") == name


def _state(prefix: str, depth: int, bad: Callable[[str], bool]) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        subject = str(e.get("subject", ""))
        return (e.kind == "obs.state" and subject.startswith(prefix)
                and subject.count("/") == depth and e.get("healthy") is False
                and bad(str(e.get("state", ""))))
    return match


def _qdrant_replica(e: Event) -> bool:
    subject = str(e.get("subject", ""))
    return (e.kind == "obs.state" and subject.startswith("qdrant/") and "/shard/" in subject
            and e.get("healthy") is False)


#: Decision signals by kind: a predicate over timeline events.
DECISION_KINDS: Mapping[str, Callable[[Event], bool]] = {
    "sentinel +switch-master": _event("+switch-master"),
    "sentinel +odown": _event("+odown"),
    "haproxy DOWN": _state("haproxy/", 2, lambda s: s.startswith(("DOWN", "MAINT"))),
    "breaker open": _state("breaker/", 2, lambda s: s == "open"),
    "qdrant replica dropped": _qdrant_replica,
}

_ANY = tuple(DECISION_KINDS)

#: Preferred decision signals per fault name, then per family (first that occurred wins).
DECISION_RULES: Mapping[str, tuple[str, ...]] = {
    "redis-master-loss": ("sentinel +switch-master", "sentinel +odown"),
    "qdrant-node-loss": ("qdrant replica dropped", "haproxy DOWN"),
    "zone": ("haproxy DOWN", "sentinel +switch-master", "qdrant replica dropped", "breaker open"),
    "process": ("haproxy DOWN", "sentinel +switch-master", "qdrant replica dropped",
                "breaker open"),
    "provider": ("breaker open",),
    "datastore": ("sentinel +switch-master", "qdrant replica dropped", "breaker open"),
}


def decision_rule(name: str, family: str) -> tuple[str, ...]:
    """The decision signal kinds for a fault, most preferred first (any kind by default)."""
    return DECISION_RULES.get(name) or DECISION_RULES.get(family) or _ANY


@dataclass(frozen=True, slots=True, kw_only=True)
class Milestone:
    name: str  # one of MILESTONES
    at_s: float | None  # seconds since the injection; None: not reached while observed
    signal: str  # what set it (or why it is None)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "at_s": self.at_s, "signal": self.signal}


def _label(e: Event) -> str:
    subject = str(e.get("subject", ""))
    if e.kind == "obs.event":
        return f"{subject} {e.get('event')}".strip()
    return f"{subject} {e.get('state')}".strip()


def _decided(f: FaultRecord, events: Sequence[Event], end_ns: int) -> Milestone:
    rule = decision_rule(f.name, f.family)
    first: dict[str, Event] = {}
    for e in events:
        if e.t_ns < f.inject_ns:
            continue
        if e.t_ns > end_ns:
            break
        for kind in rule:
            if kind not in first and DECISION_KINDS[kind](e):
                first[kind] = e
    for kind in rule:
        if kind in first:
            e = first[kind]
            return Milestone(name="decided", at_s=(e.t_ns - f.inject_ns) / 1e9,
                             signal=f"{kind}: {_label(e)}")
    return Milestone(name="decided", at_s=None,
                     signal="not observed (expected " + " or ".join(rule) + ")")


def _subject_health(e: Event) -> bool | None:
    h = e.get("healthy")
    if e.kind != "obs.state" or not isinstance(h, bool):
        return None
    if str(e.get("subject", "")).startswith(HARNESS_SUBJECT):
        return None
    return h


def _redundant(f: FaultRecord, events: Sequence[Event], loss_end_ns: int,
               limit_ns: int) -> Milestone:
    """The first moment, at or after the revert and after the last loss, at which every subject
    that went unhealthy in ``[inject, loss_end]`` was healthy again (before ``limit_ns``)."""
    lost: set[str] = set()
    last_loss = f.inject_ns
    for e in events:
        if e.t_ns > loss_end_ns:
            break
        if e.t_ns >= f.inject_ns and _subject_health(e) is False:
            lost.add(str(e.get("subject")))
            last_loss = e.t_ns
    if not lost:
        return Milestone(name="redundant", at_s=None,
                         signal="never lost: no observed subject went unhealthy")
    ready_ns = max(last_loss, f.revert_ns if f.revert_ns is not None else limit_ns)
    state: dict[str, bool] = {}
    last_back: Event | None = None
    for e in events:
        if e.t_ns >= limit_ns:
            break
        subject = str(e.get("subject", ""))
        h = _subject_health(e)
        if h is None or subject not in lost:
            continue
        if e.t_ns > ready_ns and all(state.get(s, False) for s in lost):
            break  # every lost subject was back before this event
        state[subject] = h
        if h:
            last_back = e
    if last_back is None or not all(state.get(s, False) for s in lost):
        still = sorted(s for s in lost if not state.get(s, False))
        return Milestone(name="redundant", at_s=None,
                         signal=f"not restored: {', '.join(still[:3])}"
                                + (f" and {len(still) - 3} more" if len(still) > 3 else ""))
    at_ns = max(last_back.t_ns, f.revert_ns if f.revert_ns is not None else last_back.t_ns)
    return Milestone(name="redundant", at_s=(at_ns - f.inject_ns) / 1e9,
                     signal=f"last back: {_label(last_back)}")


def fault_milestones(f: FaultRecord, events: Sequence[Event], *, decide_end_ns: int,
                     limit_ns: int, failover_s: float, bad_requests: int,
                     detection_events: frozenset[str]) -> tuple[Milestone, ...]:
    """The four milestones of fault ``f`` (see the module doc).

    ``decide_end_ns``: the end of the span where detection/decision signals count (active end
    + grace); ``limit_ns``: the next fault's injection, else the end of the timeline.
    """
    found = first_detection(events, start_ns=f.inject_ns, end_ns=decide_end_ns,
                            detection_events=detection_events)
    detected = (Milestone(name="detected", at_s=None, signal="not observed")
                if found is None else
                Milestone(name="detected", at_s=(found[0] - f.inject_ns) / 1e9, signal=found[1]))
    served = Milestone(name="served", at_s=failover_s,
                       signal="clients: end of the first impact episode" if bad_requests
                       else "clients: no request was bad")
    return (detected, _decided(f, events, decide_end_ns), served,
            _redundant(f, events, decide_end_ns, limit_ns))
