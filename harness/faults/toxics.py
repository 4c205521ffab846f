"""Network toxics through Toxiproxy: latency, bandwidth, timeout, reset-peer, slow-close,
slicer, limit-data, and proxy-down (the proxy disabled: connects refused).

A toxic acts on a proxy (``--param proxy=provider-primary``) or on the proxies fronting the
target's services (``--target role=redis-master`` -> ``redis-az-b``). Verified by Toxiproxy's
own API: the toxic is listed with our name and attributes (proxy-down: the proxy reports
``enabled: false`` and its listen port refuses connections); after revert it is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from harness.errors import ConfigError, FaultError
from harness.faults.base import Fault, Injection
from harness.faults.checks import Check
from harness.faults.exercise import ExercisePlan, proxy_counters
from harness.faults.params import Param
from harness.faults.registry import register
from harness.faults.toxiproxy import Toxic, ToxiproxyClient
from harness.stack.base import Proxied, Stack
from harness.topology import Endpoint, Kind, Selector

__all__ = ["Bandwidth", "Latency", "LimitData", "ProxyDown", "ResetPeer", "Slicer",
           "SlowClose", "ToxicFault", "ToxicTimeout"]

_PROXY = Param(name="proxy", type="str", default=None, nullable=True,
               help="Toxiproxy proxy name (provider-primary, provider-fallback, qdrant, "
                    "redis-az-a|b|c); or give a target instead")
_STREAM = Param(name="stream", type="str", choices=("downstream", "upstream"),
                default="downstream", help="direction: downstream = responses to the client")
_TOXICITY = Param(name="toxicity", type="float", minimum=0.0, maximum=1.0, default=1.0,
                  help="fraction of connections affected")
_TARGET_HELP = ("services whose Toxiproxy proxies get the toxic, e.g. service=provider-primary, "
                "role=redis-master; alternative to param proxy")


def _listen_endpoint(listen: str, api_url: str) -> Endpoint:
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):  # listening everywhere: use the API's host
        host = api_url.split("://", 1)[-1].rsplit(":", 1)[0]
    return Endpoint(host=host, port=int(port))


def _proxy_endpoint(stack: Stack, proxy: str, listen: str) -> Endpoint:
    """Where the harness reaches a proxy's listener: the Topology's endpoint of that name on the
    toxiproxy service (docker publishes it on another host port), else the listen address."""
    for svc in stack.topology.of_kind(Kind.TOXIPROXY):
        if proxy in svc.endpoints:
            return svc.endpoints[proxy]
    assert isinstance(stack, Proxied)
    return _listen_endpoint(listen, stack.toxiproxy_url)


@dataclass(frozen=True, slots=True, kw_only=True)
class _ProxyFault(Fault):
    FAMILY: ClassVar[str] = "network"
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("Proxied",)
    TARGET: ClassVar[str] = "optional"
    TARGET_HELP: ClassVar[str] = _TARGET_HELP

    proxy: str | None = None

    def required_capabilities(self) -> tuple[str, ...]:
        # the 'qdrant' proxy fronts a Qdrant cluster; an embedded vector tier has none, and
        # saying so up front makes the experiment a skip with the reason, not a harness error
        if self.proxy == "qdrant":
            return (*self.CAPABILITIES, "QdrantCluster")
        return self.CAPABILITIES

    @classmethod
    def check_params(cls, values: Any, target: Selector | None, *, file: str | None,
                     field: str) -> None:
        if (values.get("proxy") is None) == (target is None):
            raise ConfigError(f"fault {cls.NAME!r} needs exactly one of param proxy or a target",
                              file=file, field=f"{field}.params.proxy",
                              value=values.get("proxy"), allowed="a proxy name, or a target")

    def resolve(self, stack: Stack) -> tuple[str, ...]:
        """The proxies to act on (not services: toxics live on proxies)."""
        assert isinstance(stack, Proxied)
        fronts = dict(stack.proxies())
        if self.proxy is not None:
            if self.proxy not in fronts:
                raise FaultError(f"Toxiproxy has no proxy {self.proxy!r} in this stack; it has "
                                 f"{sorted(fronts)}")
            return (self.proxy,)
        services = {s.name for s in self.target.resolve(stack.topology, stack.roles)} \
            if self.target else set()
        proxies = tuple(sorted(p for p, svc in fronts.items() if svc in services))
        if not proxies:
            raise FaultError(f"no Toxiproxy proxy fronts the target {self.target} "
                             f"({sorted(services)}); proxies: {fronts}")
        return proxies

    @staticmethod
    def client(stack: Stack) -> ToxiproxyClient:
        assert isinstance(stack, Proxied)
        return ToxiproxyClient(stack.toxiproxy_url)

    #: whether this fault disables its proxies (then no bytes move through them)
    DOWN: ClassVar[bool] = False
    #: whether the added delay is measured by a timed probe through the proxy
    PROBE: ClassVar[bool] = False

    def exercise_plan(self, stack: Stack, injection: Injection) -> ExercisePlan:
        """Bytes through the proxies (Toxiproxy's own metrics), and for provider proxies the
        simulator's request count; a disabled proxy: the calls the app failed through it."""
        assert isinstance(stack, Proxied)
        counters, rule = proxy_counters(stack, injection.services, dict(stack.proxies()),
                                        down=self.DOWN)
        return ExercisePlan(counters=counters, rule=rule,
                            probe_proxies=injection.services if self.PROBE else (),
                            note="traffic through Toxiproxy proxy "
                                 + ", ".join(injection.services))


@dataclass(frozen=True, slots=True, kw_only=True)
class ToxicFault(_ProxyFault):
    """A toxic added to each selected proxy, named ``chaos-<fault id>``."""

    TOXIC: ClassVar[str] = ""
    #: toxic attribute -> our parameter name
    ATTRIBUTES: ClassVar[dict[str, str]] = {}

    stream: str = "downstream"
    toxicity: float = 1.0

    def toxic(self, fault_id: str) -> Toxic:
        attrs = {a: round(getattr(self, p)) for a, p in self.ATTRIBUTES.items()}
        return Toxic(name=f"chaos-{fault_id}", type=self.TOXIC, stream=self.stream,
                     toxicity=self.toxicity, attributes=attrs)

    def inject(self, stack: Stack, injection: Injection) -> None:
        toxic = self.toxic(injection.fault_id)
        injection.data["toxic"] = toxic.name
        with self.client(stack) as tp:
            for proxy in injection.services:
                tp.add_toxic(proxy, toxic)

    def verify(self, stack: Stack, injection: Injection) -> Check:
        want = self.toxic(injection.fault_id)
        seen = []
        with self.client(stack) as tp:
            for proxy in injection.services:
                got = tp.toxic(proxy, want.name)
                if got is None:
                    return Check(False, f"Toxiproxy does not list toxic {want.name} on {proxy}")
                mismatch = {k: (v, got.attributes.get(k)) for k, v in want.attributes.items()
                            if got.attributes.get(k) != v}
                if got.type != want.type or got.stream != want.stream or mismatch or abs(
                        got.toxicity - want.toxicity) > 1e-9:
                    return Check(False, f"toxic {want.name} on {proxy} differs: {got}")
                seen.append(proxy)
        return Check(True, f"Toxiproxy lists {want.type} toxic {want.name} "
                           f"({want.stream}, toxicity {want.toxicity:g}, "
                           f"{dict(want.attributes)}) on {', '.join(seen)}")

    def revert(self, stack: Stack, injection: Injection) -> None:
        name = injection.data.get("toxic", f"chaos-{injection.fault_id}")
        with self.client(stack) as tp:
            for proxy in injection.services:
                tp.remove_toxic(proxy, name)

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        name = injection.data.get("toxic", f"chaos-{injection.fault_id}")
        with self.client(stack) as tp:
            left = [p for p in injection.services if tp.toxic(p, name) is not None]
        if left:
            return Check(False, f"toxic {name} still listed on {', '.join(left)}")
        return Check(True, f"toxic {name} gone from {', '.join(injection.services)}")


def _ms(name: str, help: str, default: float) -> Param:
    return Param(name=name, type="float", minimum=0, maximum=3_600_000, default=default,
                 help=help)


def _common(*params: Param) -> tuple[Param, ...]:
    return (_PROXY, *params, _STREAM, _TOXICITY)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Latency(ToxicFault):
    NAME: ClassVar[str] = "latency"
    SUMMARY: ClassVar[str] = "add latency (with jitter) to the data through the proxy"
    PROBE: ClassVar[bool] = True
    TOXIC: ClassVar[str] = "latency"
    ATTRIBUTES: ClassVar[dict[str, str]] = {"latency": "latency_ms", "jitter": "jitter_ms"}
    PARAMS: ClassVar[tuple[Param, ...]] = _common(
        _ms("latency_ms", "added delay in ms", 500.0),
        _ms("jitter_ms", "random +/- jitter in ms", 0.0))

    latency_ms: float = 500.0
    jitter_ms: float = 0.0


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Bandwidth(ToxicFault):
    NAME: ClassVar[str] = "bandwidth"
    SUMMARY: ClassVar[str] = "limit throughput through the proxy to rate_kbps KB/s"
    TOXIC: ClassVar[str] = "bandwidth"
    ATTRIBUTES: ClassVar[dict[str, str]] = {"rate": "rate_kbps"}
    PARAMS: ClassVar[tuple[Param, ...]] = _common(
        Param(name="rate_kbps", type="float", minimum=0, maximum=10_000_000, default=10.0,
              help="KB per second"))

    rate_kbps: float = 10.0


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ToxicTimeout(ToxicFault):
    NAME: ClassVar[str] = "timeout"
    SUMMARY: ClassVar[str] = ("black hole: swallow the data and close the connection after "
                              "timeout_ms (0: hold it open until revert)")
    TOXIC: ClassVar[str] = "timeout"
    ATTRIBUTES: ClassVar[dict[str, str]] = {"timeout": "timeout_ms"}
    PARAMS: ClassVar[tuple[Param, ...]] = _common(
        _ms("timeout_ms", "ms before closing; 0 = never", 0.0))

    timeout_ms: float = 0.0


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ResetPeer(ToxicFault):
    NAME: ClassVar[str] = "reset-peer"
    SUMMARY: ClassVar[str] = "reset connections (TCP RST) after timeout_ms"
    TOXIC: ClassVar[str] = "reset_peer"
    ATTRIBUTES: ClassVar[dict[str, str]] = {"timeout": "timeout_ms"}
    PARAMS: ClassVar[tuple[Param, ...]] = _common(
        _ms("timeout_ms", "ms before the reset; 0 = at once", 0.0))

    timeout_ms: float = 0.0


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SlowClose(ToxicFault):
    NAME: ClassVar[str] = "slow-close"
    SUMMARY: ClassVar[str] = "delay the close of connections by delay_ms"
    TOXIC: ClassVar[str] = "slow_close"
    ATTRIBUTES: ClassVar[dict[str, str]] = {"delay": "delay_ms"}
    PARAMS: ClassVar[tuple[Param, ...]] = _common(_ms("delay_ms", "close delay in ms", 1000.0))

    delay_ms: float = 1000.0


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Slicer(ToxicFault):
    NAME: ClassVar[str] = "slicer"
    SUMMARY: ClassVar[str] = "slice the data into small packets with a delay between them"
    TOXIC: ClassVar[str] = "slicer"
    ATTRIBUTES: ClassVar[dict[str, str]] = {"average_size": "average_size",
                                            "size_variation": "size_variation",
                                            "delay": "delay_us"}
    PARAMS: ClassVar[tuple[Param, ...]] = _common(
        Param(name="average_size", type="int", minimum=1, maximum=1_000_000, default=16,
              help="average packet size in bytes"),
        Param(name="size_variation", type="int", minimum=0, maximum=1_000_000, default=8,
              help="variation of the size in bytes"),
        Param(name="delay_us", type="int", minimum=0, maximum=60_000_000, default=1000,
              help="delay between packets in microseconds"))

    average_size: int = 16
    size_variation: int = 8
    delay_us: int = 1000


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class LimitData(ToxicFault):
    NAME: ClassVar[str] = "limit-data"
    SUMMARY: ClassVar[str] = "close connections after a number of bytes"
    TOXIC: ClassVar[str] = "limit_data"
    ATTRIBUTES: ClassVar[dict[str, str]] = {"bytes": "bytes"}
    PARAMS: ClassVar[tuple[Param, ...]] = _common(
        Param(name="bytes", type="int", minimum=0, maximum=2**40, default=1024,
              help="bytes let through before closing"))

    bytes: int = 1024


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyDown(_ProxyFault):
    NAME: ClassVar[str] = "proxy-down"
    SUMMARY: ClassVar[str] = ("disable the Toxiproxy proxy (enabled=false): connects to it are "
                              "refused and open connections dropped")
    PARAMS: ClassVar[tuple[Param, ...]] = (_PROXY,)
    DOWN: ClassVar[bool] = True

    def _listens(self, stack: Stack, injection: Injection) -> dict[str, tuple[bool, Endpoint]]:
        assert isinstance(stack, Proxied)
        with self.client(stack) as tp:
            out = {}
            for proxy in injection.services:
                p = tp.proxy(proxy)
                out[proxy] = (p.enabled, _proxy_endpoint(stack, proxy, p.listen))
        return out

    def inject(self, stack: Stack, injection: Injection) -> None:
        with self.client(stack) as tp:
            for proxy in injection.services:
                tp.set_enabled(proxy, False)

    def verify(self, stack: Stack, injection: Injection) -> Check:
        seen = []
        for proxy, (enabled, ep) in self._listens(stack, injection).items():
            if enabled:
                return Check(False, f"Toxiproxy reports {proxy} enabled")
            if stack.reachable("edge", ep, timeout=0.5):  # docker: not the host's port proxy
                return Check(False, f"{proxy} disabled but {ep.address} accepts connections")
            seen.append(f"{proxy} ({ep.address} refuses)")
        return Check(True, f"disabled: {', '.join(seen)}")

    def revert(self, stack: Stack, injection: Injection) -> None:
        with self.client(stack) as tp:
            for proxy in injection.services:
                tp.set_enabled(proxy, True)

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        seen = []
        for proxy, (enabled, ep) in self._listens(stack, injection).items():
            if not enabled or not stack.reachable("edge", ep, timeout=0.5):
                return Check(False, f"{proxy} enabled={enabled}, {ep.address} not accepting")
            seen.append(f"{proxy} ({ep.address})")
        return Check(True, f"enabled and accepting: {', '.join(seen)}")
