"""What every substrate offers, and the small capability Protocols faults ask for.

A substrate (``local``: processes in network namespaces; ``docker``: compose + Docker SDK) brings
a :class:`~harness.topology.Topology` up and down. Faults check capabilities with
``isinstance(stack, Pausable)`` and raise :class:`~harness.errors.UnsupportedFault` naming the
capability and the substrates that have it (:data:`CAPABILITY_SUBSTRATES`).
"""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from harness.topology import Endpoint, Topology

__all__ = [
    "CAPABILITY_SUBSTRATES",
    "HAProxyRuntime",
    "Killable",
    "NetworkFaults",
    "Pausable",
    "PeerAddressed",
    "ProcessProbe",
    "ProcessState",
    "ProviderControl",
    "Proxied",
    "QdrantCluster",
    "RedisAdmin",
    "ServiceStatus",
    "Stack",
    "StackStatus",
    "ZoneIsolatable",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceStatus:
    name: str
    kind: str
    zone: str
    address: str
    role: str  # dynamic role where it has one ("master", "replica"), else the kind
    pid: int | None
    health: str  # "up" | "down" | "paused" | "stopped" | "unknown"
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "zone": self.zone, "address": self.address,
                "role": self.role, "pid": self.pid, "health": self.health, "detail": self.detail}


@dataclass(frozen=True, slots=True, kw_only=True)
class StackStatus:
    run_id: str
    substrate: str
    vector_mode: str
    zone_isolation: bool
    front_door: str
    api_key: str
    state_dir: str
    services: tuple[ServiceStatus, ...]
    notes: tuple[str, ...] = field(default=())  # e.g. why the vector tier is embedded

    @property
    def healthy(self) -> bool:
        return all(s.health == "up" for s in self.services)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "substrate": self.substrate, "vector_mode": self.vector_mode,
            "zone_isolation": self.zone_isolation, "front_door": self.front_door,
            "api_key": self.api_key, "state_dir": self.state_dir, "healthy": self.healthy,
            "notes": list(self.notes), "services": [s.to_json() for s in self.services],
        }


@runtime_checkable
class Stack(Protocol):
    """A running reference stack. Use the substrate's context manager to bring one up."""

    name: str  # substrate name: "local" | "docker"
    topology: Topology
    state_dir: Path
    knobs: Mapping[str, Any]

    def status(self) -> StackStatus: ...

    def roles(self, role: str) -> Sequence[str]:
        """Services holding a dynamic role now (``redis-master`` asks Sentinel)."""
        ...

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the stack is fully ready (raises StackError with log tails)."""
        ...

    def undo_substrate_faults(self) -> list[str]:
        """Undo what only this substrate knows how to undo (cut links and iptables rules,
        paused and stopped processes, drained HAProxy servers); returns what was done, empty
        when nothing was needed. A primitive: callers heal with ``harness.faults.heal_all``,
        which calls this and also reverts faults, Toxiproxy and the provider simulators."""
        ...

    def reachable(self, src: str, dst: Endpoint, timeout: float = 1.0) -> bool:
        """Whether a TCP connect from place ``src`` (zone, 'edge', 'external') to ``dst`` works."""
        ...

    def log_tail(self, service: str, lines: int = 20) -> list[str]: ...

    def down(self) -> None: ...


@runtime_checkable
class Killable(Protocol):
    def kill(self, service: str, sig: int = signal.SIGKILL) -> None: ...

    def start(self, service: str) -> None:
        """(Re)start a stopped service with its original configuration."""
        ...

    def is_running(self, service: str) -> bool: ...

    def pid(self, service: str) -> int | None: ...


@runtime_checkable
class Pausable(Protocol):
    def pause(self, service: str) -> None: ...

    def resume(self, service: str) -> None: ...

    def is_paused(self, service: str) -> bool: ...


@runtime_checkable
class PeerAddressed(Protocol):
    """Where the stack's own servers reach each other, when that differs from where the harness
    reaches them (docker: the service name and container port, not the published host port).
    Substrates without it: the Topology's endpoints are the same for both."""

    def peer_address(self, service: str) -> tuple[str, int]: ...


#: how a service's process looks to its substrate: ``paused`` = frozen (SIGSTOP on a host, the
#: cgroup freezer in a container): alive, holding its connections, answering nothing
ProcessState = Literal["running", "paused", "gone"]


@runtime_checkable
class ProcessProbe(Protocol):
    """Process state as the substrate sees it. Faults verify through this, never through the
    harness host's ``/proc``: a container's processes may live in a VM (Docker Desktop), and a
    frozen container shows state ``D``, not ``T``."""

    def process_state(self, service: str, pid: int | None = None) -> ProcessState:
        """The state of the service's process now; with ``pid`` (an earlier ``Killable.pid``),
        of that very instance: ``gone`` once it no longer runs, even if the service was
        restarted since (a new instance has a new PID)."""
        ...


@runtime_checkable
class ZoneIsolatable(Protocol):
    def isolate_zone(self, zone: str) -> None:
        """Cut the zone from the edge and the other zones; its processes keep running."""
        ...

    def rejoin_zone(self, zone: str) -> None: ...

    def is_isolated(self, zone: str) -> bool: ...


@runtime_checkable
class NetworkFaults(Protocol):
    def partition(self, side_a: Sequence[str], side_b: Sequence[str]) -> str:
        """Drop traffic between two groups of places; returns a handle for heal_partition."""
        ...

    def heal_partition(self, handle: str) -> None: ...

    def packet_loss(self, place: str, rate: float) -> str:
        """Drop a fraction of the place's packets; returns a handle for clear_packet_loss."""
        ...

    def clear_packet_loss(self, handle: str) -> None: ...


@runtime_checkable
class Proxied(Protocol):
    """Toxiproxy in front of dependencies."""

    toxiproxy_url: str  # API base URL, e.g. http://10.213.7.1:8474

    def proxies(self) -> Mapping[str, str]:
        """Proxy name -> what it fronts (e.g. 'provider-primary' -> 'provider-primary')."""
        ...


@runtime_checkable
class ProviderControl(Protocol):
    def provider_control(self, provider: str) -> tuple[str, str]:
        """(control API base URL, bearer token) of the simulator ``primary`` or ``fallback``."""
        ...


@runtime_checkable
class QdrantCluster(Protocol):
    """Present only when the vector tier runs as a real 3-node Qdrant cluster."""

    qdrant_collection: str

    def qdrant_url(self, service: str) -> str: ...


@runtime_checkable
class HAProxyRuntime(Protocol):
    """HAProxy's runtime API is reachable: server drain and maintenance, ``show stat``."""

    haproxy_socket: str  # a UNIX socket path, or tcp://HOST:PORT


@runtime_checkable
class RedisAdmin(Protocol):
    """The harness may send admin commands to Sentinel and Redis (``SENTINEL FAILOVER``,
    ``CLIENT PAUSE``)."""

    redis_admin: bool
    sentinel_master: str


#: capability -> substrates that offer it (for UnsupportedFault messages)
CAPABILITY_SUBSTRATES: Mapping[str, tuple[str, ...]] = {
    "Killable": ("local", "docker"),
    "Pausable": ("local", "docker"),
    "ProcessProbe": ("local", "docker"),
    "ZoneIsolatable": ("local (root, network namespaces)", "docker"),
    "NetworkFaults": ("local (root, network namespaces)",),
    "Proxied": ("local", "docker", "external with 'toxiproxy:' in the topology file"),
    "ProviderControl": ("local", "docker",
                        "external with 'providers:' (the harness's simulator) in the file"),
    "QdrantCluster": ("local with a qdrant binary on PATH or in QDRANT_BIN", "docker",
                      "external with 'qdrant:' in the topology file"),
    "HAProxyRuntime": ("local", "docker", "external with 'haproxy: {runtime_api: ...}'"),
    "RedisAdmin": ("local", "docker", "external with 'redis: {admin: true, ...}'"),
}
