"""The docker substrate's shape: services, networks, ports. Pure data, no Docker calls.

``docker-compose.ha.yml`` (at the repository root) is written by hand for people to read; this
module is the same shape as data for the harness, and ``tests/unit/test_docker_compose.py``
keeps the two in step.

Networks (one Docker bridge per zone, plus the edge and the interzone backbone):

* ``az-a``, ``az-b``, ``az-c``: a zone's own network, holding only that zone's containers
  (intra-zone traffic, and their host-published ports). Never disconnected.
* ``interzone``: the backbone every cross-zone and edge-to-zone link runs over (Redis replication,
  Sentinel gossip, Qdrant peer traffic, HAProxy and Toxiproxy reaching a zone). Docker bridges do
  not route to each other and Docker DNS only answers for containers on a shared network, so
  these links need one shared network; this is it.
* ``edge``: HAProxy, Toxiproxy and the simulated providers ("external" sits behind the edge), and
  the edge tier's host-published ports (the front door). Never disconnected.

Isolating zone ``az-b`` disconnects its four containers from ``interzone``: the zone is cut from
the edge and from the other zones, its containers keep running and still reach each other over
``az-b`` (the same cut as the local substrate's link-down of a zone namespace). No container's
gateway network is ever disconnected (``az-*`` and ``edge`` sort before ``interzone``, which
is how Docker picks the gateway among equals), so host-published ports never move during a cut.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from harness.topology import EDGE, EXTERNAL, ZONES, Endpoint, Kind, Service, Topology

__all__ = [
    "COMPOSE_FILE",
    "CONTAINER_PORTS",
    "DEFAULT_PORT_BASE",
    "EDGE_NETWORK",
    "EDGE_SERVICES",
    "INTERZONE_NETWORK",
    "NETWORKS",
    "PORT_RANGE",
    "PROXIES",
    "SENTINEL_MASTER",
    "SERVICES",
    "DockerService",
    "PortSpec",
    "allocate_port_base",
    "build_topology",
    "port_variable",
    "project_name",
    "run_services",
]

COMPOSE_FILE = "docker-compose.ha.yml"
SENTINEL_MASTER = "mymaster"
EDGE_NETWORK = "edge"
INTERZONE_NETWORK = "interzone"
NETWORKS: tuple[str, ...] = (*ZONES, INTERZONE_NETWORK, EDGE_NETWORK)

#: Host ports are published on 127.0.0.1 from a block of consecutive ports in this range
#: (below the Linux ephemeral range 32768-60999, so an outgoing connection never holds one).
PORT_RANGE: tuple[int, int] = (21000, 31000)
DEFAULT_PORT_BASE = 21000  # what docker-compose.ha.yml uses when run by hand


@dataclass(frozen=True, slots=True, kw_only=True)
class PortSpec:
    """One published endpoint: its container port and its offset in the run's host port block."""

    endpoint: str
    container_port: int
    scheme: str
    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerService:
    name: str
    kind: Kind
    zone: str  # a zone, EDGE or EXTERNAL
    networks: tuple[str, ...]
    ports: tuple[PortSpec, ...] = field(default=())


def _zone_services(zone: str, o: int) -> tuple[DockerService, ...]:
    """A zone's four services; host port offsets ``o`` .. ``o + 5``."""
    nets = (zone, INTERZONE_NETWORK)

    def one(kind: Kind, *ports: PortSpec) -> DockerService:
        return DockerService(name=f"{kind.value}-{zone}", kind=kind, zone=zone, networks=nets,
                             ports=ports)

    return (
        one(Kind.APP, PortSpec(endpoint="main", container_port=8000, scheme="http", offset=o)),
        one(Kind.REDIS, PortSpec(endpoint="main", container_port=6379, scheme="redis",
                                 offset=o + 1)),
        one(Kind.SENTINEL, PortSpec(endpoint="main", container_port=26379, scheme="redis",
                                    offset=o + 2)),
        one(Kind.QDRANT,
            PortSpec(endpoint="main", container_port=6333, scheme="http", offset=o + 3),
            PortSpec(endpoint="grpc", container_port=6334, scheme="tcp", offset=o + 4),
            PortSpec(endpoint="p2p", container_port=6335, scheme="http", offset=o + 5)),
    )


#: Toxiproxy proxies: name -> (listen port inside the toxiproxy container, upstream host:port).
PROXIES: Mapping[str, tuple[int, str]] = {
    "provider-primary": (9101, "provider-primary:8000"),
    "provider-fallback": (9102, "provider-fallback:8000"),
    "qdrant": (9103, "haproxy:6333"),  # HAProxy balances the three Qdrant nodes (/readyz check)
    "redis-az-a": (9111, "redis-az-a:6379"),
    "redis-az-b": (9112, "redis-az-b:6379"),
    "redis-az-c": (9113, "redis-az-c:6379"),
}

_EDGE_NETS = (EDGE_NETWORK, INTERZONE_NETWORK)


def _provider(name: str, o: int) -> DockerService:
    return DockerService(name=f"provider-{name}", kind=Kind.PROVIDER, zone=EXTERNAL,
                         networks=(EDGE_NETWORK,), ports=(
        PortSpec(endpoint="main", container_port=8000, scheme="http", offset=o),
        PortSpec(endpoint="control", container_port=8001, scheme="http", offset=o + 1),
    ))


SERVICES: tuple[DockerService, ...] = (
    *_zone_services("az-a", 10),
    *_zone_services("az-b", 20),
    *_zone_services("az-c", 30),
    DockerService(name="haproxy", kind=Kind.HAPROXY, zone=EDGE, networks=_EDGE_NETS, ports=(
        PortSpec(endpoint="main", container_port=8080, scheme="http", offset=0),
        PortSpec(endpoint="stats", container_port=8404, scheme="http", offset=1),
        PortSpec(endpoint="runtime", container_port=9999, scheme="tcp", offset=2),
        PortSpec(endpoint="qdrant", container_port=6333, scheme="http", offset=8),
    )),
    DockerService(name="toxiproxy", kind=Kind.TOXIPROXY, zone=EDGE, networks=_EDGE_NETS, ports=(
        PortSpec(endpoint="main", container_port=8474, scheme="http", offset=3),
        *(PortSpec(endpoint=name, container_port=listen, scheme="tcp", offset=40 + i)
          for i, (name, (listen, _)) in enumerate(PROXIES.items())),
    )),
    _provider("primary", 4),
    _provider("fallback", 6),
)
PORT_BLOCK = 50  # offsets 0..49

#: The edge tier: reaches the zones over ``interzone`` (and so loses a zone that is cut off).
EDGE_SERVICES: tuple[str, ...] = ("haproxy", "toxiproxy")

#: Container ports inside the Docker networks (what containers use to reach each other).
CONTAINER_PORTS: Mapping[str, int] = {
    "app": 8000, "redis": 6379, "sentinel": 26379, "qdrant-http": 6333, "qdrant-grpc": 6334,
    "qdrant-p2p": 6335, "haproxy-front": 8080, "haproxy-stats": 8404, "haproxy-runtime": 9999,
    "haproxy-qdrant": 6333, "toxiproxy-api": 8474, "provider": 8000, "provider-control": 8001,
}



def port_variable(service: str, endpoint: str) -> str:
    """The compose variable holding a published host port: ``CHAOS_PORT_APP_AZ_A_MAIN``."""
    return "CHAOS_PORT_" + f"{service}_{endpoint}".upper().replace("-", "_")


def project_name(run_id: str) -> str:
    """A compose project name unique to the run (lower case, ``[a-z0-9_-]``)."""
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in run_id.lower()).strip("-_")
    return f"chaos-{slug or 'run'}"[:63]


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def allocate_port_base(run_id: str, *, is_free: Callable[[int], bool] = _port_free) -> int:
    """A block of ``PORT_BLOCK`` free host ports for the run, below the ephemeral range.

    Starts at a slot derived from the run id (so concurrent runs spread out) and walks the range
    until every port of a block is free. Raises RuntimeError when none is.
    """
    lo, hi = PORT_RANGE
    slots = (hi - lo) // PORT_BLOCK
    first = int(hashlib.sha256(run_id.encode()).hexdigest(), 16) % slots
    for i in range(slots):
        base = lo + ((first + i) % slots) * PORT_BLOCK
        if all(is_free(base + p.offset) for s in SERVICES for p in s.ports):
            return base
    raise RuntimeError(f"no block of {PORT_BLOCK} free ports on 127.0.0.1 in {lo}-{hi}; "
                       "stop other stacks (chaos-harness down) and try again")


def port_environment(base: int) -> dict[str, str]:
    """Compose variables for every published port of a block starting at ``base``."""
    return {port_variable(s.name, p.endpoint): str(base + p.offset)
            for s in SERVICES for p in s.ports}


def run_services(*, cluster: bool) -> tuple[DockerService, ...]:
    """The services a run starts: without the Qdrant nodes when the vector tier is embedded."""
    return SERVICES if cluster else tuple(s for s in SERVICES if s.kind is not Kind.QDRANT)


def build_topology(*, run_id: str, port_base: int, api_key: str, cluster: bool = True,
                   host: str = "127.0.0.1") -> Topology:
    """The Topology of a docker stack: same names as the local substrate, host-published ends."""
    services = tuple(
        Service(name=s.name, kind=s.kind, zone=s.zone,
                endpoints={p.endpoint: Endpoint(host=host, port=port_base + p.offset,
                                                scheme=p.scheme) for p in s.ports})
        for s in run_services(cluster=cluster)
    )
    front = next(s for s in SERVICES if s.name == "haproxy").ports[0]
    return Topology(
        run_id=run_id, substrate="docker", services=services,
        front_door=Endpoint(host=host, port=port_base + front.offset, scheme="http"),
        api_key=api_key, vector_mode="cluster" if cluster else "embedded", zone_isolation=True,
    )


def service(name: str) -> DockerService:
    for s in SERVICES:
        if s.name == name:
            return s
    raise KeyError(f"no docker service {name!r}; services are {[s.name for s in SERVICES]}")
