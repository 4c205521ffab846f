"""Datastore faults: ``redis-master-loss`` (the master Sentinel names now, killed or its zone
isolated), ``qdrant-node-loss`` (a node of the Qdrant cluster killed or isolated) and
``qdrant-leader-partition`` (the raft leader's zone cut off the other zones).

Revert brings the node back: a lost Redis master rejoins as a replica of whichever server
Sentinel promoted; a Qdrant node restarts and its shards must return to ``Active``.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from harness.errors import FaultError
from harness.faults.base import Fault, Injection
from harness.faults.checks import Check, main_endpoint, process_gone, service_pid
from harness.faults.params import Param
from harness.faults.registry import register
from harness.faults.restore import all_answering, rejoin_redis, restart_services
from harness.faults.sentinel import current_master
from harness.stack.base import Killable, NetworkFaults, QdrantCluster, Stack, ZoneIsolatable

__all__ = ["QdrantLeaderPartition", "QdrantNodeLoss", "RedisMasterLoss", "qdrant_leader"]

_MODE = Param(name="mode", type="str", choices=("kill", "isolate"), default="kill",
              help="kill: SIGKILL the process; isolate: cut its zone off the network "
                   "(the zone's other services are cut too)")


@dataclass(frozen=True, slots=True, kw_only=True)
class _NodeLoss(Fault):
    """Kill or isolate one node; revert restarts or rejoins it."""

    FAMILY: ClassVar[str] = "datastore"
    RECOVER_TIMEOUT_S: ClassVar[float] = 90.0

    mode: str = "kill"

    def required_capabilities(self) -> tuple[str, ...]:
        return (*self.CAPABILITIES, "Killable" if self.mode == "kill" else "ZoneIsolatable")

    @classmethod
    def possible_capabilities(cls) -> tuple[str, ...]:
        return (*cls.CAPABILITIES, "Killable", "ZoneIsolatable")

    def _node(self, injection: Injection) -> str:
        return injection.services[0]

    def inject(self, stack: Stack, injection: Injection) -> None:
        node = self._node(injection)
        zone = stack.topology.service(node).zone
        pid = service_pid(stack, node)
        if pid is None or process_gone(stack, node, pid):
            raise FaultError(f"{node} is not running; nothing to lose")
        injection.data.update(node=node, zone=zone, pid=pid, mode=self.mode)
        if self.mode == "kill":
            assert isinstance(stack, Killable)
            stack.kill(node, signal.SIGKILL)
        else:
            assert isinstance(stack, ZoneIsolatable)
            stack.isolate_zone(zone)

    def _unreachable(self, stack: Stack, injection: Injection) -> Check:
        node, zone = injection.data["node"], injection.data["zone"]
        ep = main_endpoint(stack.topology.service(node))
        if self.mode == "kill":
            if not process_gone(stack, node, injection.data["pid"]):
                return Check(False, f"{node} pid {injection.data['pid']} still running")
            if stack.reachable("edge", ep, timeout=0.5):
                return Check(False, f"{node} killed but {ep.address} still accepts connections")
            return Check(True, f"{node} pid {injection.data['pid']} gone; "
                               f"{ep.address} refuses connections from the edge")
        others = [z for z in stack.topology.zones if z != zone]
        for src in ("edge", *others):
            if stack.reachable(src, ep, timeout=0.5):
                return Check(False, f"{node} at {ep.address} still reachable from {src}")
        if process_gone(stack, node, injection.data["pid"]):
            return Check(False, f"{node} should keep running while isolated, but it died")
        return Check(True, f"{node} ({zone}) running but unreachable from edge and "
                           f"{', '.join(others)}")

    def verify(self, stack: Stack, injection: Injection) -> Check:
        return self._unreachable(stack, injection)

    def revert(self, stack: Stack, injection: Injection) -> None:
        node = self._node(injection)
        if injection.data.get("mode", self.mode) == "kill":
            restart_services(stack, (node,))
            return
        assert isinstance(stack, ZoneIsolatable)
        stack.rejoin_zone(injection.data.get("zone", stack.topology.service(node).zone))
        rejoin_redis(stack, (node,))


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class RedisMasterLoss(_NodeLoss):
    NAME: ClassVar[str] = "redis-master-loss"
    SUMMARY: ClassVar[str] = ("lose the Redis master Sentinel names now (kill it or isolate "
                              "its zone); revert brings it back as a replica of the new master")
    TARGET_HELP: ClassVar[str] = "none: the master is found through Sentinel at injection"
    PARAMS: ClassVar[tuple[Param, ...]] = (_MODE,)

    def resolve(self, stack: Stack) -> tuple[str, ...]:
        master = current_master(stack)
        if master is None:
            raise FaultError("no master is named by a majority of the sentinels; the stack is "
                             "not in a state where a master can be lost (check "
                             "'chaos-harness status')")
        return (master,)

    def verify(self, stack: Stack, injection: Injection) -> Check:
        check = self._unreachable(stack, injection)
        if check.ok:
            return Check(True, f"master {check.detail}")
        return check

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        node = self._node(injection)
        services = (node,) if injection.data.get("mode") == "kill" else tuple(
            s.name for s in stack.topology.in_zone(injection.data.get("zone", "")))
        return all_answering(stack, services or (node,))


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class QdrantNodeLoss(_NodeLoss):
    NAME: ClassVar[str] = "qdrant-node-loss"
    SUMMARY: ClassVar[str] = ("lose one Qdrant cluster node (kill or isolate); revert restarts "
                              "it and waits for its shards to be Active again")
    TARGET: ClassVar[str] = "optional"
    TARGET_HELP: ClassVar[str] = "the node, e.g. service=qdrant-az-b (default: the first node)"
    TARGET_KINDS: ClassVar[tuple[str, ...]] = ("qdrant",)
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("QdrantCluster",)
    PARAMS: ClassVar[tuple[Param, ...]] = (_MODE,)

    def resolve(self, stack: Stack) -> tuple[str, ...]:
        nodes = sorted(s.name for s in stack.topology.services if s.kind.value == "qdrant")
        if self.target is not None:
            chosen = [n for n in (s.name for s in self.target.resolve(stack.topology,
                                                                      stack.roles))
                      if n in nodes]
        else:
            chosen = nodes[:1]
        if not chosen:
            raise FaultError(f"target {self.target} selects no Qdrant node; nodes: {nodes}")
        return (chosen[0],)

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        assert isinstance(stack, QdrantCluster)
        node = self._node(injection)
        base = all_answering(stack, (node,), replication=False)
        if not base.ok:
            return base
        url = stack.qdrant_url(node).rstrip("/")
        coll = stack.qdrant_collection
        try:
            r = httpx.get(f"{url}/collections/{coll}/cluster", timeout=1.0)
            r.raise_for_status()
            info: dict[str, Any] = r.json()["result"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            return Check(False, f"{node}: GET /collections/{coll}/cluster failed: {exc}")
        shards = [*info.get("local_shards", ()), *info.get("remote_shards", ())]
        bad = [f"shard {s.get('shard_id')}@{s.get('peer_id', 'local')}={s.get('state')}"
               for s in shards if s.get("state") != "Active"]
        if bad or not shards:
            return Check(False, f"{node}: replicas not all Active: {bad or 'no shards listed'}")
        return Check(True, f"{node} ready; {len(shards)} shard replicas of {coll} Active")


def qdrant_leader(stack: Any) -> tuple[str, str]:
    """(node service, zone) of the Qdrant raft leader, asking each node until one knows."""
    nodes = {s.name: s for s in stack.topology.services if s.kind.value == "qdrant"}
    errors = []
    for name in sorted(nodes):
        try:
            r = httpx.get(f"{stack.qdrant_url(name).rstrip('/')}/cluster", timeout=1.0)
            r.raise_for_status()
            res: dict[str, Any] = r.json()["result"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            errors.append(f"{name}: {type(exc).__name__}")
            continue
        leader = (res.get("raft_info") or {}).get("leader")
        uri = str(((res.get("peers") or {}).get(str(leader)) or {}).get("uri", ""))
        host = httpx.URL(uri).host if uri else ""
        for svc in nodes.values():
            if any(ep.host == host for ep in svc.endpoints.values()):
                return svc.name, svc.zone
        errors.append(f"{name}: leader {leader} at {uri or '?'} is no node of this stack")
    raise FaultError("no Qdrant node names a raft leader: " + "; ".join(errors))


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class QdrantLeaderPartition(Fault):
    """Partition the raft leader's zone from the other zones (the edge still reaches every
    zone): the leader is in the minority, the majority must elect a new one."""

    NAME: ClassVar[str] = "qdrant-leader-partition"
    FAMILY: ClassVar[str] = "datastore"
    SUMMARY: ClassVar[str] = ("cut the Qdrant raft leader's zone off the other zones (the edge "
                              "still reaches it): the leader ends up in the minority")
    TARGET_HELP: ClassVar[str] = "none: the leader is found through GET /cluster at injection"
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("QdrantCluster", "NetworkFaults")
    RECOVER_TIMEOUT_S: ClassVar[float] = 90.0

    def resolve(self, stack: Stack) -> tuple[str, ...]:
        return (qdrant_leader(stack)[0],)

    def prepare(self, stack: Stack, injection: Injection) -> None:
        from harness.faults.network import _pairs, _reach

        node = injection.services[0]
        zone = stack.topology.service(node).zone
        others = tuple(z for z in stack.topology.zones if z != zone)
        injection.data.update(node=node, zone=zone, others=list(others))
        injection.data["pairs"] = [[s, d] for s, d in _pairs(stack, (zone,), others)
                                   if _reach(stack, s, d)]

    def inject(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, NetworkFaults)
        injection.data["handle"] = stack.partition([injection.data["zone"]],
                                                   list(injection.data["others"]))

    def verify(self, stack: Stack, injection: Injection) -> Check:
        from harness.faults.network import _reach

        pairs = injection.data["pairs"]
        if not pairs:
            return Check(False, "nothing to verify: the leader's zone reached no other zone "
                                "before the partition")
        leaks = [f"{s}->{d}" for s, d in pairs if _reach(stack, s, d)]
        if leaks:
            return Check(False, f"traffic still crosses the partition: {', '.join(leaks)}")
        return Check(True, f"raft leader {injection.data['node']} ({injection.data['zone']}) "
                           f"cut from {', '.join(injection.data['others'])}: "
                           f"{len(pairs)} directions fail")

    def revert(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, NetworkFaults)
        handle = injection.data.get("handle")
        if handle is not None:
            stack.heal_partition(handle)

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        return QdrantNodeLoss.verify_reverted(  # same bar: the node ready, every replica Active
            QdrantNodeLoss(), stack, injection)
