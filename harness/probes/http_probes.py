"""Observers over HTTP: app replicas' ``/readyz``, Qdrant cluster state, provider simulators.

* app: ``app/<replica>`` = ``ready`` / ``not-ready`` / ``unreachable`` (GET ``/readyz``; 503
  means not ready), and for each breaker the replica reports ``breaker/<replica>/<name>`` =
  ``closed`` / ``open`` / ``half_open`` / ``disabled`` (healthy: closed or disabled).
* Qdrant (only with a real cluster): ``qdrant/<node>`` reachable, ``qdrant/<node>/raft`` (peers
  seen), and ``qdrant/<node>/shard/<id>[/peer/<peer>]`` replica states (healthy: ``Active``);
  Qdrant's own failover signals as ``obs.event`` (:mod:`harness.probes.qdrant_signals`: peer
  dropped, leader change, replica Dead / Active again).
* providers: ``provider/<name>`` = the simulator's active faults (healthy: none); its counters
  as an ``obs.event`` ``counters`` when they changed (at most every ``counters_every_s``) and
  always at the end (:meth:`ProviderObserver.final`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from harness.errors import StackError
from harness.probes.base import StateRecorder
from harness.probes.qdrant_signals import QdrantSignals

__all__ = ["AppObserver", "ProviderObserver", "QdrantObserver", "qdrant_shard_states"]


class AppObserver:
    def __init__(self, replica: str, base_url: str, recorder: StateRecorder, *,
                 timeout: float = 0.5) -> None:
        self.replica = replica
        self._rec = recorder
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def poll(self) -> None:
        try:
            resp = self._http.get("/readyz")
        except httpx.HTTPError as exc:
            self._rec.state(f"app/{self.replica}", "unreachable", False,
                            detail=type(exc).__name__, signal="probe")
            return
        body: Any = resp.json() if resp.headers.get("content-type", "").startswith(
            "application/json") else {}
        ready = resp.status_code == 200
        self._rec.state(f"app/{self.replica}", "ready" if ready else "not-ready", ready,
                        detail="" if ready else str(body.get("dependencies", ""))[:300])
        breakers = body.get("breakers", {}) if isinstance(body, dict) else {}
        for name, state in breakers.items():
            st = state.get("state", "?") if isinstance(state, dict) else str(state)
            self._rec.state(f"breaker/{self.replica}/{name}", st, st in ("closed", "disabled"))


def qdrant_shard_states(node: str, cluster: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(subject, state) for every shard replica in a ``/collections/{c}/cluster`` result."""
    result = cluster.get("result", cluster)
    out = []
    for shard in result.get("local_shards", []):
        out.append((f"qdrant/{node}/shard/{shard.get('shard_id')}", str(shard.get("state"))))
    for shard in result.get("remote_shards", []):
        out.append((f"qdrant/{node}/shard/{shard.get('shard_id')}/peer/{shard.get('peer_id')}",
                    str(shard.get("state"))))
    return out


class QdrantObserver:
    def __init__(self, node: str, base_url: str, collection: str, recorder: StateRecorder, *,
                 timeout: float = 0.5) -> None:
        self.node, self.collection = node, collection
        self._rec = recorder
        self._http = httpx.Client(base_url=base_url, timeout=timeout)
        self.signals = QdrantSignals(node, recorder)

    def close(self) -> None:
        self._http.close()

    def poll(self) -> None:
        try:
            cluster = self._http.get("/cluster")
            shards = self._http.get(f"/collections/{self.collection}/cluster")
        except httpx.HTTPError as exc:
            self._rec.state(f"qdrant/{self.node}", "unreachable", False,
                            detail=type(exc).__name__, signal="probe")
            return
        self._rec.state(f"qdrant/{self.node}", "reachable", True, signal="probe")
        if cluster.status_code == 200:
            res = cluster.json().get("result", {})
            peers = len(res.get("peers", {}))
            leader = res.get("raft_info", {}).get("leader")
            self._rec.state(f"qdrant/{self.node}/raft",
                            f"peers={peers} leader={'yes' if leader else 'none'}",
                            bool(leader))
            self.signals.cluster(res)
        if shards.status_code == 200:
            states = qdrant_shard_states(self.node, shards.json())
            for subject, state in states:
                self._rec.state(subject, state, state == "Active")
            self.signals.replicas(states)
        else:
            self._rec.state(f"qdrant/{self.node}/collection", f"HTTP {shards.status_code}",
                            False, detail=shards.text[:200])


class ProviderObserver:
    """Needs a client with ``faults()`` and ``counters()`` (ProviderControlClient)."""

    def __init__(self, name: str, control: Any, recorder: StateRecorder, *,
                 counters_every_s: float = 5.0) -> None:
        self.name = name
        self._ctl = control
        self._rec = recorder
        self._every = counters_every_s
        self._last_counters: dict[str, int] | None = None
        self._last_emit = 0.0

    def close(self) -> None:
        self._ctl.close()

    def poll(self) -> None:
        try:
            faults = self._ctl.faults()
            counters = self._ctl.counters()
        except StackError as exc:  # the control client's error; unreachable if HTTP failed
            if not isinstance(exc.__cause__, httpx.HTTPError):
                raise
            self._rec.state(f"provider/{self.name}", "unreachable", False,
                            detail=type(exc.__cause__).__name__, signal="probe")
            return
        state = "faults: " + ",".join(sorted(faults)) if faults else "no-faults"
        self._rec.state(f"provider/{self.name}", state, not faults, signal="probe")
        now = time.monotonic()
        if counters != self._last_counters and now - self._last_emit >= self._every:
            self._emit(counters)

    def final(self) -> dict[str, int] | None:
        """Record the counters now (at the end of a run); None if the simulator is gone."""
        try:
            counters = self._ctl.counters()
        except Exception:
            return None
        self._emit(counters)
        return counters

    def _emit(self, counters: dict[str, int]) -> None:
        self._last_counters = counters
        self._last_emit = time.monotonic()
        self._rec.event(f"provider/{self.name}", "counters", detail="", counters=counters)
