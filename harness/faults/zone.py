"""Zone faults: ``zone-power`` (every process of the zone killed) and ``zone-isolate`` (the
zone's network cut from the edge and the other zones while its processes keep running).

The target selects services; the fault acts on their zones (``zone=az-b``, or
``role=redis-master`` for "the zone that holds the master now").
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.errors import ConfigError, FaultError
from harness.faults.base import Fault, Injection
from harness.faults.checks import Check, main_endpoint, process_gone, service_pid
from harness.faults.registry import register
from harness.faults.restore import all_answering, rejoin_redis, restart_services
from harness.stack.base import Killable, Stack, ZoneIsolatable
from harness.topology import ZONES, Kind, Selector

__all__ = ["ZoneIsolate", "ZonePower", "probe_service", "zones_of"]

_TARGET_HELP = "the zone(s) to hit: zone=az-b, or role=redis-master (the master's zone now)"


def zones_of(stack: Stack, target: Selector | None) -> tuple[str, ...]:
    """The availability zones of the services the target selects now."""
    if target is None:
        raise FaultError("a zone fault needs a target such as zone=az-b")
    services = target.resolve(stack.topology, stack.roles)
    zones = tuple(sorted({s.zone for s in services if s.zone in stack.topology.zones}))
    if not zones:
        raise FaultError(f"target {target} selects no service in a zone "
                         f"({', '.join(stack.topology.zones)}) now")
    return zones


def probe_service(stack: Stack, zone: str) -> str:
    """The service whose reachability stands for the zone's: its Redis, else any service."""
    in_zone = stack.topology.in_zone(zone)
    for s in in_zone:
        if s.kind is Kind.REDIS:
            return s.name
    if not in_zone:
        raise FaultError(f"zone {zone} has no services")
    return in_zone[0].name


def _check_zone_target(cls: type[Fault], target: Selector | None, file: str | None,
                       field: str) -> None:
    for key, value in target.terms if target else ():
        if key == "zone" and value not in ZONES:
            raise ConfigError(f"fault {cls.NAME!r} hits availability zones, not {value!r}",
                              file=file, field=f"{field}.target", value=str(target),
                              allowed=[f"zone={z}" for z in ZONES])


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ZonePower(Fault):
    NAME: ClassVar[str] = "zone-power"
    FAMILY: ClassVar[str] = "zone"
    SUMMARY: ClassVar[str] = ("power loss: SIGKILL every process of the zone (app, Redis, "
                              "Sentinel, Qdrant); nothing restarts until revert, then the "
                              "services come back and Redis rejoins as a replica")
    TARGET: ClassVar[str] = "required"
    TARGET_HELP: ClassVar[str] = _TARGET_HELP
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("Killable",)
    RECOVER_TIMEOUT_S: ClassVar[float] = 90.0

    @classmethod
    def check_params(cls, values: Any, target: Selector | None, *, file: str | None,
                     field: str) -> None:
        _check_zone_target(cls, target, file, field)

    def resolve(self, stack: Stack) -> tuple[str, ...]:
        zones = zones_of(stack, self.target)
        return tuple(s.name for z in zones for s in stack.topology.in_zone(z))

    def inject(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, Killable)
        zones = sorted({stack.topology.service(n).zone for n in injection.services})
        injection.data["zones"] = zones
        pids = {n: service_pid(stack, n) for n in injection.services}
        injection.data["pids"] = {n: p for n, p in pids.items() if p is not None}
        for name, pid in pids.items():
            if pid is not None and not process_gone(stack, name, pid):
                stack.kill(name, signal.SIGKILL)

    def verify(self, stack: Stack, injection: Injection) -> Check:
        pids: dict[str, int] = injection.data["pids"]
        alive = [f"{n} pid {p}" for n, p in pids.items() if not process_gone(stack, n, p)]
        if alive:
            return Check(False, f"still running: {', '.join(alive)}")
        unreachable = []
        for zone in injection.data["zones"]:
            probe = probe_service(stack, zone)
            ep = main_endpoint(stack.topology.service(probe))
            if stack.reachable("edge", ep, timeout=0.5):
                return Check(False, f"{probe} at {ep.address} still accepts connections "
                                    "from the edge")
            unreachable.append(f"{probe} {ep.address}")
        return Check(True, f"all {len(pids)} processes of {', '.join(injection.data['zones'])} "
                           f"gone; unreachable from the edge: "
                           f"{', '.join(unreachable)}")

    def revert(self, stack: Stack, injection: Injection) -> None:
        restart_services(stack, injection.services)

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        return all_answering(stack, injection.services)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ZoneIsolate(Fault):
    NAME: ClassVar[str] = "zone-isolate"
    FAMILY: ClassVar[str] = "zone"
    SUMMARY: ClassVar[str] = ("network isolation: cut the zone from the edge and the other "
                              "zones (link down) while its processes keep running")
    TARGET: ClassVar[str] = "required"
    TARGET_HELP: ClassVar[str] = _TARGET_HELP
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("ZoneIsolatable",)
    RECOVER_TIMEOUT_S: ClassVar[float] = 90.0

    @classmethod
    def check_params(cls, values: Any, target: Selector | None, *, file: str | None,
                     field: str) -> None:
        _check_zone_target(cls, target, file, field)

    def resolve(self, stack: Stack) -> tuple[str, ...]:
        zones = zones_of(stack, self.target)
        return tuple(s.name for z in zones for s in stack.topology.in_zone(z))

    def inject(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, ZoneIsolatable)
        zones = sorted({stack.topology.service(n).zone for n in injection.services})
        injection.data["zones"] = zones
        injection.data["pids"] = {n: p for n in injection.services
                                  if (p := service_pid(stack, n)) is not None}
        for zone in zones:
            stack.isolate_zone(zone)

    def verify(self, stack: Stack, injection: Injection) -> Check:
        zones: list[str] = injection.data["zones"]
        others = [z for z in stack.topology.zones if z not in zones]
        seen = []
        for zone in zones:
            probe = probe_service(stack, zone)
            ep = main_endpoint(stack.topology.service(probe))
            for src in ("edge", *others):
                if stack.reachable(src, ep, timeout=0.5):
                    return Check(False, f"{probe} at {ep.address} still reachable from {src}")
            seen.append(f"{probe} {ep.address} unreachable from edge"
                        + (f" and {', '.join(others)}" if others else ""))
        dead = [n for n, p in injection.data["pids"].items() if process_gone(stack, n, p)]
        if dead:
            return Check(False, f"isolation must keep processes running, but {dead} died")
        return Check(True, "; ".join(seen) + f"; {len(injection.data['pids'])} processes "
                                             "still running")

    def revert(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, ZoneIsolatable)
        for zone in injection.data.get("zones", ()):
            stack.rejoin_zone(zone)
        rejoin_redis(stack, injection.services)

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        for zone in injection.data.get("zones", ()):
            probe = probe_service(stack, zone)
            ep = main_endpoint(stack.topology.service(probe))
            if not stack.reachable("edge", ep, timeout=0.5):
                return Check(False, f"{probe} at {ep.address} still unreachable from the edge")
        return all_answering(stack, injection.services)
