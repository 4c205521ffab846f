"""Network faults between places: ``partition`` (two groups of places cannot talk; the rest is
unaffected) and ``packet-loss`` (a fraction of a place's packets dropped).

Verified by traffic: TCP connects across the partition fail while a bystander still reaches
both sides; under packet loss a sample of connects from the edge sees failures.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.errors import ConfigError
from harness.faults.base import Fault, Injection
from harness.faults.checks import Check, main_endpoint
from harness.faults.exercise import ExercisePlan, counters_for_services
from harness.faults.params import Param
from harness.faults.registry import register
from harness.stack.base import NetworkFaults, Stack
from harness.topology import EDGE, PLACES, Endpoint, Kind, Selector

__all__ = ["PacketLoss", "Partition", "place_endpoint"]

_PROBE_KINDS = (Kind.REDIS, Kind.APP, Kind.SENTINEL, Kind.HAPROXY, Kind.PROVIDER, Kind.QDRANT,
                Kind.TOXIPROXY)


def place_endpoint(stack: Stack, place: str) -> Endpoint | None:
    """An endpoint standing for a place (its Redis, app, HAProxy or provider)."""
    services = stack.topology.in_zone(place)
    for kind in _PROBE_KINDS:
        for s in services:
            if s.kind is kind and s.endpoints:
                return main_endpoint(s)
    return None


def _pairs(stack: Stack, side_a: tuple[str, ...], side_b: tuple[str, ...]) -> list[list[str]]:
    """[src, dst place] for every direction across the cut that has a probe endpoint."""
    pairs = []
    for a in side_a:
        for b in side_b:
            for src, dst in ((a, b), (b, a)):
                if place_endpoint(stack, dst) is not None:
                    pairs.append([src, dst])
    return pairs


def _places_plan(stack: Stack, places: tuple[str, ...]) -> ExercisePlan:
    """The traffic reaching the services of these places (a network fault's union)."""
    services = [s.name for p in places for s in stack.topology.in_zone(p)]
    return ExercisePlan(counters=counters_for_services(stack, services),
                        note=f"traffic to the services of {', '.join(places)}")


def _reach(stack: Stack, src: str, dst: str, timeout: float = 0.5) -> bool:
    ep = place_endpoint(stack, dst)
    return ep is not None and stack.reachable(src, ep, timeout=timeout)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Partition(Fault):
    NAME: ClassVar[str] = "partition"
    FAMILY: ClassVar[str] = "network"
    SUMMARY: ClassVar[str] = ("drop all traffic between places a and b (both directions); "
                              "places in neither group are unaffected")
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("NetworkFaults",)
    TARGET_HELP: ClassVar[str] = "use params a and b"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param(name="a", type="str", many=True, choices=PLACES,
              help="one side: zones or places, e.g. az-a or az-a,az-b"),
        Param(name="b", type="str", many=True, choices=PLACES,
              help="the other side, e.g. az-b,az-c,edge"),
    )

    a: tuple[str, ...] = ()
    b: tuple[str, ...] = ()

    @classmethod
    def check_params(cls, values: Any, target: Selector | None, *, file: str | None,
                     field: str) -> None:
        both = sorted(set(values["a"]) & set(values["b"]))
        if both:
            raise ConfigError("a place cannot be on both sides of a partition", file=file,
                              field=f"{field}.params.b", value=both,
                              allowed=[p for p in PLACES if p not in values["a"]])

    def prepare(self, stack: Stack, injection: Injection) -> None:
        """Baseline: which directions across (and around) the cut work before it."""
        pairs = [[s, d] for s, d in _pairs(stack, self.a, self.b) if _reach(stack, s, d)]
        # up to two bystanders (zones first, then the edge), each towards one place per side:
        # enough to catch a cut that is too wide, cheap enough (each look from a namespace
        # costs a process start)
        bystanders = [p for p in PLACES if p not in self.a and p not in self.b
                      and p in {s.zone for s in stack.topology.services}][:2]
        injection.data["pairs"] = pairs
        injection.data["bystander_pairs"] = [
            [by, dst] for by in bystanders for dst in (self.a[0], self.b[0])
            if _reach(stack, by, dst)]

    def inject(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, NetworkFaults)
        injection.data["handle"] = stack.partition(list(self.a), list(self.b))

    def verify(self, stack: Stack, injection: Injection) -> Check:
        pairs: list[list[str]] = injection.data["pairs"]
        if not pairs:
            return Check(False, f"nothing to verify: no place of {list(self.a)} could reach one "
                                f"of {list(self.b)} before the partition")
        leaks = [f"{s}->{d}" for s, d in pairs if _reach(stack, s, d)]
        if leaks:
            return Check(False, f"traffic still crosses the partition: {', '.join(leaks)}")
        hurt = [f"{s}->{d}" for s, d in injection.data["bystander_pairs"]
                if not _reach(stack, s, d)]
        if hurt:
            return Check(False, f"partition also cut bystanders: {', '.join(hurt)}")
        return Check(True, f"connects fail across the cut ({len(pairs)} directions: "
                           f"{', '.join(f'{s}->{d}' for s, d in pairs)}); bystander paths "
                           f"intact: {len(injection.data['bystander_pairs'])}")

    def revert(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, NetworkFaults)
        handle = injection.data.get("handle")
        if handle is not None:
            stack.heal_partition(handle)

    def exercise_plan(self, stack: Stack, injection: Injection) -> ExercisePlan:
        return _places_plan(stack, (*self.a, *self.b))

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        cut = [f"{s}->{d}" for s, d in injection.data.get("pairs", ())
               if not _reach(stack, s, d)]
        if cut:
            return Check(False, f"still cut: {', '.join(cut)}")
        return Check(True, f"all {len(injection.data.get('pairs', ()))} directions across the "
                           "former cut connect again")


def connect_sample(stack: Stack, src: str, ep: Endpoint, *, max_attempts: int,
                   budget_s: float, timeout: float = 0.2, stop_after_failures: int = 0
                   ) -> tuple[int, int]:
    """(failures, attempts) of TCP connects from ``src`` to ``ep`` within a time budget."""
    failures = attempts = 0
    deadline = time.monotonic() + budget_s
    while attempts < max_attempts and time.monotonic() < deadline:
        attempts += 1
        if not stack.reachable(src, ep, timeout=timeout):
            failures += 1
            if stop_after_failures and failures >= stop_after_failures:
                break
    return failures, attempts


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class PacketLoss(Fault):
    NAME: ClassVar[str] = "packet-loss"
    FAMILY: ClassVar[str] = "network"
    SUMMARY: ClassVar[str] = ("drop a fraction of the packets of a place (iptables statistic "
                              "match); TCP retransmits turn it into latency and timeouts")
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("NetworkFaults",)
    TARGET_HELP: ClassVar[str] = "use param place"
    VERIFY_TIMEOUT_S: ClassVar[float] = 8.0
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param(name="place", type="str", choices=PLACES, help="the zone or place losing packets"),
        Param(name="rate", type="float", minimum=0.01, maximum=1.0, default=0.1,
              help="fraction of packets dropped"),
    )

    place: str = ""
    rate: float = 0.1

    def _probe(self, stack: Stack) -> tuple[str, Endpoint]:
        if self.place == EDGE:  # measure from a zone towards the edge
            ep = place_endpoint(stack, EDGE)
            src = stack.topology.zones[0]
        else:
            ep, src = place_endpoint(stack, self.place), EDGE
        if ep is None:
            raise ConfigError("no service to measure packet loss against", field="place",
                              value=self.place)
        return src, ep

    def inject(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, NetworkFaults)
        injection.data["handle"] = stack.packet_loss(self.place, self.rate)

    def verify(self, stack: Stack, injection: Injection) -> Check:
        src, ep = self._probe(stack)
        p_fail = 1 - (1 - self.rate) ** 2  # a connect needs the SYN and the SYN-ACK through
        wanted = min(600, max(20, math.ceil(6 / p_fail)))
        failures, attempts = connect_sample(stack, src, ep, max_attempts=wanted, budget_s=4.0,
                                            stop_after_failures=3)
        text = (f"{failures} of {attempts} connects {src}->{ep.address} failed within 0.2 s "
                f"(expected ~{p_fail:.1%} at rate {self.rate:g})")
        return Check(failures > 0, text)

    def revert(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, NetworkFaults)
        handle = injection.data.get("handle")
        if handle is not None:
            stack.clear_packet_loss(handle)

    def exercise_plan(self, stack: Stack, injection: Injection) -> ExercisePlan:
        return _places_plan(stack, (self.place,))

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        src, ep = self._probe(stack)
        failures, attempts = connect_sample(stack, src, ep, max_attempts=30, budget_s=3.0,
                                            timeout=0.5)
        return Check(failures == 0, f"{attempts - failures} of {attempts} connects "
                                    f"{src}->{ep.address} succeeded")
