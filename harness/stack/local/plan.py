"""The address and name plan of one local run. Pure: no I/O, no clock.

A run gets a short key (the run id when it is short lowercase alphanumerics, else a hash of it)
that appears in every kernel object it creates, so two runs never collide and a stale run can be
found by name:

* network namespaces ``ch-<key>-a|b|c`` (zones) and ``ch-<key>-x`` (external);
* a bridge ``ch-<key>-br`` holding the edge address (the root namespace is the edge);
* veths ``ch-<key>-a`` ... on the bridge side (peer ``eth0`` inside the namespace);
* iptables rules with ``--comment chaos-harness:<key>[:handle]``.

Interface names stay within IFNAMSIZ (15 characters): the key is at most 8 characters.

Addresses: a /24 per run out of 10.213.0.0/16 (namespaces) that overlaps no existing route, or
per-place loopback addresses 127.0.X.Y (loopback fallback, no zone isolation). Every place gets
its own address, so the fixed ports below never clash between runs.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from harness.errors import ConfigError, StackError
from harness.stack.ports import (
    APP_PORT,
    FRONT_PORT,
    QDRANT_FRONT_PORT,
    QDRANT_GRPC_PORT,
    QDRANT_HTTP_PORT,
    QDRANT_P2P_PORT,
    REDIS_PORT,
    SENTINEL_PORT,
    STATS_PORT,
    TOXIPROXY_PORT,
)
from harness.topology import EDGE, EXTERNAL, ZONES, Endpoint, Kind, Service, Topology

__all__ = [
    "APP_PORT",
    "FRONT_PORT",
    "PROVIDERS",
    "PROXY_PORTS",
    "QDRANT_FRONT_PORT",
    "QDRANT_GRPC_PORT",
    "QDRANT_HTTP_PORT",
    "QDRANT_P2P_PORT",
    "REDIS_PORT",
    "SENTINEL_PORT",
    "STATS_PORT",
    "TOXIPROXY_PORT",
    "RunPlan",
    "choose_octet",
    "make_plan",
    "run_key",
]

# Ports (harness.stack.ports): each place has its own address, so they are the same in every run.
#: Toxiproxy listen ports on the edge, per proxy (outside the ephemeral range 32768-60999).
PROXY_PORTS: Mapping[str, int] = {
    "provider-primary": 18001,
    "provider-fallback": 18002,
    "qdrant": 16333,
    "redis-az-a": 16379,
    "redis-az-b": 16380,
    "redis-az-c": 16381,
}
#: provider name -> (API port, control port), in the external place
PROVIDERS: Mapping[str, tuple[int, int]] = {"primary": (9001, 9101), "fallback": (9002, 9102)}

NETNS_BASE = ipaddress.IPv4Network("10.213.0.0/16")
_HOST = {EDGE: 1, "az-a": 11, "az-b": 12, "az-c": 13, EXTERNAL: 20}
_PLACE_SUFFIX = {"az-a": "a", "az-b": "b", "az-c": "c", EXTERNAL: "x"}
_KEY_RE = re.compile(r"[0-9a-z]{3,8}")
_RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def run_key(run_id: str) -> str:
    """The short name part of a run (at most 8 characters, safe in interface names)."""
    if not _RUN_ID_RE.fullmatch(run_id):
        raise ConfigError("a run id is 1-64 letters, digits, '_', '.', '-'", field="run_id",
                          value=run_id)
    if _KEY_RE.fullmatch(run_id):
        return run_id
    return hashlib.blake2s(run_id.encode(), digest_size=3).hexdigest()


def choose_octet(key: str, *, taken: Iterable[int], occupied: Iterable[ipaddress.IPv4Network],
                 base: ipaddress.IPv4Network = NETNS_BASE, lowest: int = 1,
                 highest: int = 254) -> int:
    """The third octet X of a free /24 ``base.X.0/24``: not taken by another run of ours, not
    overlapping any ``occupied`` network (existing routes and addresses). Starts at a place
    derived from the key so concurrent runs rarely even try the same one."""
    taken_set = set(taken)
    occ = list(occupied)
    span = highest - lowest + 1
    start = int(hashlib.blake2s(key.encode(), digest_size=2).hexdigest(), 16) % span
    prefix = int(base.network_address)
    for i in range(span):
        octet = lowest + (start + i) % span
        if octet in taken_set:
            continue
        net = ipaddress.IPv4Network((prefix + (octet << 8), 24))
        if any(net.overlaps(o) for o in occ):
            continue
        return octet
    raise StackError(
        f"no free /24 left in {base} (expected one not used by a route or another run; "
        f"{len(taken_set)} taken by runs of ours)", component="network",
        hint="run 'chaos-harness down --all' to reap old runs, or free a subnet in 10.213.0.0/16")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPlan:
    """Names and addresses of one run; everything else is derived from it."""

    run_id: str
    key: str
    netns_mode: bool  # False: loopback fallback
    octet: int  # third octet of the run's /24
    addresses: Mapping[str, str] = field(default_factory=dict)  # place -> IPv4 address

    @property
    def tag(self) -> str:
        """Marker of this run's iptables rules and processes."""
        return f"chaos-harness:{self.key}"

    @property
    def bridge(self) -> str:
        return f"ch-{self.key}-br"

    @property
    def prefixlen(self) -> int:
        return 24

    @property
    def subnet(self) -> str:
        return str(ipaddress.IPv4Network((self.addresses[EDGE], 24), strict=False))

    def netns(self, place: str) -> str | None:
        """The namespace of a place (None: the root namespace / no namespaces)."""
        if not self.netns_mode or place == EDGE:
            return None
        return f"ch-{self.key}-{_PLACE_SUFFIX[place]}"

    def veth(self, place: str) -> str:
        """Bridge-side veth of a zone or the external place."""
        return f"ch-{self.key}-{_PLACE_SUFFIX[place]}"

    @property
    def namespaces(self) -> tuple[str, ...]:
        if not self.netns_mode:
            return ()
        return tuple(f"ch-{self.key}-{s}" for s in _PLACE_SUFFIX.values())

    @property
    def links(self) -> tuple[str, ...]:
        if not self.netns_mode:
            return ()
        return (self.bridge, *(self.veth(p) for p in _PLACE_SUFFIX))

    def ip(self, place: str) -> str:
        return self.addresses[place]

    def place_of_ip(self, ip: str) -> str | None:
        for place, addr in self.addresses.items():
            if addr == ip:
                return place
        return None


def make_plan(run_id: str, *, netns_mode: bool, octet: int) -> RunPlan:
    key = run_key(run_id)
    if not 1 <= octet <= 254:
        raise ValueError(f"octet must be in 1..254, got {octet}")
    prefix = f"10.213.{octet}." if netns_mode else f"127.0.{octet}."
    addresses = {place: prefix + str(host) for place, host in _HOST.items()}
    return RunPlan(run_id=run_id, key=key, netns_mode=netns_mode, octet=octet,
                   addresses=addresses)


def build_topology(plan: RunPlan, *, api_key: str, cluster: bool) -> Topology:
    """The Topology every consumer sees: the contract's service names, zones and endpoints."""
    http = "http"
    services: list[Service] = []
    for zone in ZONES:
        ip = plan.ip(zone)
        services.append(Service(name=f"app-{zone}", kind=Kind.APP, zone=zone, endpoints={
            "main": Endpoint(host=ip, port=APP_PORT, scheme=http)}))
        services.append(Service(name=f"redis-{zone}", kind=Kind.REDIS, zone=zone, endpoints={
            "main": Endpoint(host=ip, port=REDIS_PORT, scheme="redis")}))
        services.append(Service(name=f"sentinel-{zone}", kind=Kind.SENTINEL, zone=zone,
                                endpoints={"main": Endpoint(host=ip, port=SENTINEL_PORT,
                                                            scheme="redis")}))
        if cluster:
            services.append(Service(name=f"qdrant-{zone}", kind=Kind.QDRANT, zone=zone, endpoints={
                "main": Endpoint(host=ip, port=QDRANT_HTTP_PORT, scheme=http),
                "grpc": Endpoint(host=ip, port=QDRANT_GRPC_PORT),
                "p2p": Endpoint(host=ip, port=QDRANT_P2P_PORT, scheme=http)}))
    edge = plan.ip(EDGE)
    front = Endpoint(host=edge, port=FRONT_PORT, scheme=http)
    hap = {"main": front, "stats": Endpoint(host=edge, port=STATS_PORT, scheme=http)}
    if cluster:
        hap["qdrant"] = Endpoint(host=edge, port=QDRANT_FRONT_PORT, scheme=http)
    services.append(Service(name="haproxy", kind=Kind.HAPROXY, zone=EDGE, endpoints=hap))
    toxi = {"main": Endpoint(host=edge, port=TOXIPROXY_PORT, scheme=http)}
    for proxy, port in PROXY_PORTS.items():
        if proxy == "qdrant" and not cluster:
            continue
        toxi[proxy] = Endpoint(host=edge, port=port)
    services.append(Service(name="toxiproxy", kind=Kind.TOXIPROXY, zone=EDGE, endpoints=toxi))
    ext = plan.ip(EXTERNAL)
    for name, (port, control) in PROVIDERS.items():
        services.append(Service(name=f"provider-{name}", kind=Kind.PROVIDER, zone=EXTERNAL,
                                endpoints={"main": Endpoint(host=ext, port=port, scheme=http),
                                           "control": Endpoint(host=ext, port=control,
                                                               scheme=http)}))
    return Topology(run_id=plan.run_id, substrate="local", services=tuple(services),
                    front_door=front, api_key=api_key,
                    vector_mode="cluster" if cluster else "embedded",
                    zone_isolation=plan.netns_mode)
