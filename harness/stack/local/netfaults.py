"""Network faults of the namespace mode: zone isolation, partitions, packet loss.

* **Zone isolation** sets the zone's bridge-side veth down: the zone keeps running but nothing
  gets in or out (connects hang while the neighbour entry is cached, then "No route to host").
  An iptables variant would leave the link up; link down is what a zone losing its uplink looks
  like, and it needs no rule bookkeeping.
* **Partitions** are iptables DROP rules in the root namespace, tagged with
  ``--comment chaos-harness:<key>:part-<hex>``: ``FORWARD`` between two namespaces (bridge
  netfilter passes bridged IPv4 through it), ``INPUT``/``OUTPUT`` where one side is the edge
  (the root namespace's bridge address). No conntrack match: established connections stall too.
* **Packet loss** is ``-m statistic --mode random --probability p -j DROP`` on INPUT and OUTPUT
  inside the place's namespace (loopback excluded); for the edge, on the bridge interface.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from harness.errors import ConfigError
from harness.stack.local import netns as net
from harness.topology import EDGE, EXTERNAL, ZONES

if TYPE_CHECKING:
    from harness.stack.local.plan import RunPlan

__all__ = ["NetworkFaultsMixin"]


class NetworkFaultsMixin:
    """ZoneIsolatable + NetworkFaults, for LocalStack in namespace mode."""

    plan: RunPlan
    if TYPE_CHECKING:
        def _note(self, text: str, **attrs: object) -> None: ...

    def _zone(self, zone: str) -> str:
        if zone not in (*ZONES, EXTERNAL):
            raise ConfigError("unknown zone", field="zone", value=zone, allowed=(*ZONES, EXTERNAL))
        return zone

    def isolate_zone(self, zone: str) -> None:
        net.set_link(self.plan.veth(self._zone(zone)), False)
        self._note(f"zone {zone} isolated (link down)", zone=zone)

    def rejoin_zone(self, zone: str) -> None:
        net.set_link(self.plan.veth(self._zone(zone)), True, peer_netns=self.plan.netns(zone))
        self._note(f"zone {zone} rejoined (link up)", zone=zone)

    def is_isolated(self, zone: str) -> bool:
        return not net.link_is_up(self.plan.veth(self._zone(zone)))

    def _zone_cut(self, zone: str) -> bool:
        return self.is_isolated(zone)

    def _places(self, side: Sequence[str], field: str) -> list[str]:
        if isinstance(side, str):
            side = [side]
        bad = [p for p in side if p not in self.plan.addresses]
        if bad or not side:
            raise ConfigError("a partition side is a non-empty list of places", field=field,
                              value=list(side), allowed=list(self.plan.addresses))
        return list(side)

    def _drop_rule(self, src: str, dst: str, comment: str) -> list[str]:
        s, d = self.plan.ip(src), self.plan.ip(dst)
        chain = "FORWARD" if EDGE not in (src, dst) else ("OUTPUT" if src == EDGE else "INPUT")
        return ["-I", chain, "-s", s, "-d", d, "-m", "comment", "--comment", comment,
                "-j", "DROP"]

    def partition(self, side_a: Sequence[str], side_b: Sequence[str]) -> str:
        a, b = self._places(side_a, "side_a"), self._places(side_b, "side_b")
        if set(a) & set(b):
            raise ConfigError("a place cannot be on both sides of a partition",
                              field="side_b", value=sorted(set(a) & set(b)))
        if any(EDGE not in (x, y) for x in a for y in b):
            net.ensure_bridge_netfilter()
        handle = f"part-{secrets.token_hex(3)}"
        comment = f"{self.plan.tag}:{handle}"
        try:
            for x in a:
                for y in b:
                    net.iptables(self._drop_rule(x, y, comment))
                    net.iptables(self._drop_rule(y, x, comment))
        except BaseException:
            net.delete_tagged_rules(comment)
            raise
        self._note(f"partition {a} | {b}", handle=handle)
        return handle

    def heal_partition(self, handle: str) -> None:
        net.delete_tagged_rules(f"{self.plan.tag}:{handle}")
        self._note(f"partition {handle} healed", handle=handle)

    def packet_loss(self, place: str, rate: float) -> str:
        if place not in self.plan.addresses:
            raise ConfigError("unknown place", field="place", value=place,
                              allowed=list(self.plan.addresses))
        if not 0.0 < float(rate) <= 1.0:
            raise ConfigError("packet loss rate is a fraction", field="rate", value=rate,
                              allowed="0 < rate <= 1")
        handle = f"loss-{place}-{secrets.token_hex(3)}"
        comment = f"{self.plan.tag}:{handle}"
        ns = self.plan.netns(place)
        ifin, ifout = (["!", "-i", "lo"], ["!", "-o", "lo"]) if ns else (
            ["-i", self.plan.bridge], ["-o", self.plan.bridge])
        stat = ["-m", "statistic", "--mode", "random", "--probability", f"{float(rate):.6f}",
                "-m", "comment", "--comment", comment, "-j", "DROP"]
        try:
            net.iptables(["-I", "INPUT", *ifin, *stat], netns=ns)
            net.iptables(["-I", "OUTPUT", *ifout, *stat], netns=ns)
        except BaseException:
            net.delete_tagged_rules(comment, netns=ns)
            raise
        self._note(f"packet loss {rate:g} at {place}", handle=handle)
        return handle

    def clear_packet_loss(self, handle: str) -> None:
        place = next((p for p in self.plan.addresses if handle.startswith(f"loss-{p}-")), None)
        if place is None:
            raise ConfigError("not a packet-loss handle", field="handle", value=handle)
        net.delete_tagged_rules(f"{self.plan.tag}:{handle}", netns=self.plan.netns(place))
        self._note(f"packet loss {handle} cleared", handle=handle)

    def _heal_network(self) -> list[str]:
        done = []
        for place in (*ZONES, EXTERNAL):
            if not net.link_is_up(self.plan.veth(place)):
                net.set_link(self.plan.veth(place), True, peer_netns=self.plan.netns(place))
                done.append(f"link {self.plan.veth(place)} up ({place} rejoined)")
        done += [f"iptables -D {r}" for r in net.delete_tagged_rules(self.plan.tag)]
        for place in (*ZONES, EXTERNAL):
            ns = self.plan.netns(place)
            done += [f"iptables -D {r} (in {ns})" for r in net.delete_tagged_rules(
                self.plan.tag, netns=ns)]
        return done
