"""Topology: zones, services, roles and endpoints of one running stack. Pure data.

Both substrates produce the same Topology, so faults and experiments target services with
selectors (``zone=az-b``, ``service=app``, ``role=redis-master``, ``all``) without knowing the
substrate. Dynamic roles (``redis-master``, ``redis-replica``) are resolved at injection time
through a resolver the substrate provides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.errors import ConfigError

__all__ = [
    "DYNAMIC_ROLES",
    "EDGE",
    "EXTERNAL",
    "ZONES",
    "Endpoint",
    "Kind",
    "Selector",
    "Service",
    "Topology",
]

ZONES: tuple[str, ...] = ("az-a", "az-b", "az-c")
EDGE = "edge"  # HAProxy, Toxiproxy, the harness itself
EXTERNAL = "external"  # the simulated LLM providers, "the internet"
PLACES: tuple[str, ...] = (*ZONES, EDGE, EXTERNAL)


class Kind(StrEnum):
    """What a service is. Static; a service's dynamic role (master/replica) is not a kind."""

    APP = "app"
    REDIS = "redis"
    SENTINEL = "sentinel"
    QDRANT = "qdrant"
    HAPROXY = "haproxy"
    TOXIPROXY = "toxiproxy"
    PROVIDER = "provider"


#: Roles that change while the stack runs and are resolved when a fault is injected.
DYNAMIC_ROLES: tuple[str, ...] = ("redis-master", "redis-replica")


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    host: str
    port: int
    scheme: str = "tcp"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """One process of the stack: ``app-az-a``, ``redis-az-b``, ``provider-primary`` ..."""

    name: str
    kind: Kind
    zone: str  # one of PLACES
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)

    def endpoint(self, name: str = "main") -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            raise KeyError(
                f"service {self.name!r} has no endpoint {name!r}; it has {sorted(self.endpoints)}"
            ) from None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "zone": self.zone,
            "endpoints": {k: {"host": e.host, "port": e.port, "scheme": e.scheme}
                          for k, e in self.endpoints.items()},
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    """The shape of one running stack."""

    run_id: str
    substrate: str  # "local" | "docker"
    services: tuple[Service, ...]
    front_door: Endpoint  # HAProxy frontend in front of the app replicas (http)
    api_key: str  # what a client of this run sends as X-API-Key on /v1/answer
    vector_mode: str  # "cluster" (3 Qdrant nodes) | "embedded" (in-process per replica)
    zone_isolation: bool  # False on the loopback fallback: zones cannot be cut off
    zones: tuple[str, ...] = ZONES

    def __post_init__(self) -> None:
        names = [s.name for s in self.services]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate service names in topology: {sorted(dupes)}")

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(f"no service {name!r}; services are {[s.name for s in self.services]}")

    def of_kind(self, kind: Kind | str) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.kind == Kind(kind))

    def in_zone(self, zone: str) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.zone == zone)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "substrate": self.substrate,
            "zones": list(self.zones),
            "front_door": self.front_door.url,
            "api_key": self.api_key,
            "vector_mode": self.vector_mode,
            "zone_isolation": self.zone_isolation,
            "services": [s.to_json() for s in self.services],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Topology:
        services = tuple(
            Service(
                name=s["name"],
                kind=Kind(s["kind"]),
                zone=s["zone"],
                endpoints={k: Endpoint(host=e["host"], port=int(e["port"]), scheme=e["scheme"])
                           for k, e in s["endpoints"].items()},
            )
            for s in data["services"]
        )
        m = re.fullmatch(r"(\w+)://([^:/]+):(\d+)", data["front_door"])
        if not m:
            raise ValueError(f"bad front_door URL {data['front_door']!r}")
        return cls(
            run_id=data["run_id"],
            substrate=data["substrate"],
            services=services,
            front_door=Endpoint(scheme=m[1], host=m[2], port=int(m[3])),
            api_key=data["api_key"],
            vector_mode=data["vector_mode"],
            zone_isolation=bool(data["zone_isolation"]),
            zones=tuple(data.get("zones", ZONES)),
        )


#: resolver(role) -> names of the services currently holding a dynamic role
RoleResolver = Callable[[str], Iterable[str]]

_SELECTOR_KEYS = ("zone", "service", "kind", "role")


@dataclass(frozen=True, slots=True)
class Selector:
    """Which services a fault targets.

    Grammar: ``all`` | ``key=value[,key=value...]`` with keys ``zone`` (a zone or place),
    ``service`` (a service name, or a kind such as ``app`` meaning every service of that kind),
    ``kind``, ``role`` (a kind, or a dynamic role ``redis-master`` / ``redis-replica``).
    Several keys must all match.
    """

    terms: tuple[tuple[str, str], ...]  # empty = all

    @classmethod
    def parse(cls, text: str, *, field_name: str = "target") -> Selector:
        text = text.strip()
        if text in ("all", "*", ""):
            return cls(())
        terms = []
        for part in text.split(","):
            key, sep, value = part.strip().partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not value:
                raise ConfigError(
                    "a target is 'all' or key=value terms joined by ','",
                    field=field_name, value=text, allowed="all, zone=..., service=..., kind=..., role=...",
                )
            if key not in _SELECTOR_KEYS:
                raise ConfigError("unknown target key", field=field_name, value=key,
                                  allowed=_SELECTOR_KEYS)
            if key == "zone" and value not in PLACES:
                raise ConfigError("unknown zone", field=field_name, value=value, allowed=PLACES)
            if key == "kind" and value not in {k.value for k in Kind}:
                raise ConfigError("unknown kind", field=field_name, value=value,
                                  allowed=[k.value for k in Kind])
            if key == "role" and value not in {k.value for k in Kind} | set(DYNAMIC_ROLES):
                raise ConfigError("unknown role", field=field_name, value=value,
                                  allowed=[*(k.value for k in Kind), *DYNAMIC_ROLES])
            terms.append((key, value))
        return cls(tuple(terms))

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.terms) or "all"

    @property
    def is_dynamic(self) -> bool:
        return any(k == "role" and v in DYNAMIC_ROLES for k, v in self.terms)

    def resolve(self, topology: Topology, roles: RoleResolver | None = None) -> tuple[Service, ...]:
        """The services matching now. Dynamic roles need ``roles`` (from the substrate)."""
        out = []
        for s in topology.services:
            if all(self._match(s, k, v, roles) for k, v in self.terms):
                out.append(s)
        return tuple(out)

    @staticmethod
    def _match(s: Service, key: str, value: str, roles: RoleResolver | None) -> bool:
        if key == "zone":
            return s.zone == value
        if key == "service":
            return s.name == value or s.kind.value == value
        if key == "kind":
            return s.kind.value == value
        # role
        if value in DYNAMIC_ROLES:
            if roles is None:
                raise ValueError(f"role {value!r} is dynamic and needs a resolver from the substrate")
            return s.name in set(roles(value))
        return s.kind.value == value
