"""Qdrant's own failover signals, as ``obs.event`` point events (one node's view).

From what a node says about the cluster on each poll (``GET /cluster`` and ``GET
/collections/{c}/cluster``), :class:`QdrantSignals` emits, on the node's subject
``qdrant/<node>``:

* ``qdrant-peer-dropped`` (detail: the peer's URI): the node's count of failed raft messages to
  that peer (``message_send_failures``) grew -- Qdrant itself noticed it cannot reach the peer;
  ``qdrant-peer-back`` once that count stops growing for ``quiet_s`` seconds;
* ``qdrant-leader-change`` (``old`` -> ``new`` leader peer id, ``term``) and
  ``qdrant-leader-lost`` when the node knows no leader;
* ``qdrant-replica-dead`` when a shard replica the node lists turns ``Dead``, and
  ``qdrant-replica-active`` when a replica that was not ``Active`` is ``Active`` again (the
  replica subject in ``replica``: ``shard/<id>[/peer/<peer>]``).

These are ``stack`` signals (Qdrant's machinery concluded them): detection and recovery
milestones can use them. The first poll only sets the baseline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.probes.base import StateRecorder

__all__ = ["QdrantSignals"]


class QdrantSignals:
    def __init__(self, node: str, recorder: StateRecorder, *, quiet_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.node, self._rec, self.quiet_s, self._clock = node, recorder, quiet_s, clock
        self._leader: Any = None
        self._seen_leader = False
        self._failures: dict[str, int] = {}
        self._failing_since: dict[str, float] = {}  # uri -> last time the count grew
        self._replicas: dict[str, str] = {}

    def _event(self, event: str, detail: str = "", **attrs: Any) -> None:
        self._rec.event(f"qdrant/{self.node}", event, detail, signal="stack", **attrs)

    def cluster(self, result: Mapping[str, Any]) -> None:
        """One ``GET /cluster`` result."""
        raft = result.get("raft_info") or {}
        leader = raft.get("leader")
        if self._seen_leader and leader != self._leader:
            if leader is None:
                self._event("qdrant-leader-lost", f"was {self._leader}", term=raft.get("term"))
            else:
                self._event("qdrant-leader-change", f"{self._leader} -> {leader}",
                            old=self._leader, new=leader, term=raft.get("term"))
        self._leader, self._seen_leader = leader, True
        now = self._clock()
        failures = result.get("message_send_failures") or {}
        for uri, info in failures.items():
            count = int((info or {}).get("count", 0))
            before = self._failures.get(uri)
            self._failures[uri] = count
            if before is not None and count > before:
                if uri not in self._failing_since:
                    self._event("qdrant-peer-dropped", uri, peer=uri,
                                error=str((info or {}).get("latest_error", ""))[:200])
                self._failing_since[uri] = now
        for uri, since in list(self._failing_since.items()):
            if now - since >= self.quiet_s:
                del self._failing_since[uri]
                self._event("qdrant-peer-back", uri, peer=uri)

    def replicas(self, states: Sequence[tuple[str, str]]) -> None:
        """``(subject, state)`` pairs from :func:`~harness.probes.http_probes.qdrant_shard_states`."""
        prefix = f"qdrant/{self.node}/"
        for subject, state in states:
            replica = subject.removeprefix(prefix)
            before = self._replicas.get(replica)
            self._replicas[replica] = state
            if before is None or before == state:
                continue
            if state == "Dead":
                self._event("qdrant-replica-dead", f"{replica}: {before} -> Dead",
                            replica=replica)
            elif state == "Active":
                self._event("qdrant-replica-active", f"{replica}: {before} -> Active",
                            replica=replica)
