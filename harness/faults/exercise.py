"""What a fault exercises, and which counters outside the app count it.

Every fault answers :meth:`Fault.exercise_plan` with an :class:`ExercisePlan`: the cumulative
counters to snapshot right after its injection is verified and right before its revert (the
runner writes them as ``exercise.sample`` events), the rule that decides which requests went
through the faulted part, and the proxies to time with a probe (latency toxics).

Counter names (read by :mod:`harness.probes.counters`):

* ``provider.<primary|fallback>.requests`` -- completion requests the simulator received;
* ``toxiproxy.<proxy>.bytes`` -- bytes Toxiproxy moved through the proxy (both directions);
* ``haproxy.<backend>.<server>.stot`` -- sessions HAProxy sent to that server;
* ``app.cache.reads`` / ``app.cache.writes`` / ``app.cache.errors`` -- Redis cache calls summed
  over the app replicas' ``/metrics`` (the app's own per-dependency counters: Redis has no
  per-client counter we can read from outside);
* ``app.provider.<p>.failures`` / ``app.retrieval.failures`` -- failed calls the app counted
  (used for proxy-down, whose proxy moves no bytes while it is down).

Request rules (``harness.analysis.exercise``): ``llm`` -- requests that needed an LLM call
(``X-Provider`` primary or fallback, or a degraded answer); ``gated`` -- every request in the
window, provided the outside counters show the part carried traffic (else none).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harness.stack.base import Stack
from harness.topology import Kind

__all__ = ["RULES", "ExercisePlan", "counters_for_services", "proxy_counters"]

#: how requests are attributed to the faulted part (see the module docstring)
RULES = ("llm", "gated")

_CACHE = ("app.cache.reads", "app.cache.writes")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExercisePlan:
    counters: tuple[str, ...]
    rule: str = "gated"  # one of RULES
    probe_proxies: tuple[str, ...] = ()  # proxies whose added delay is measured by a probe
    note: str = ""  # what the counters stand for, for the report

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown exercise rule {self.rule!r}; known: {RULES}")


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def counters_for_services(stack: Stack, services: Iterable[str]) -> tuple[str, ...]:
    """Outside counters of the traffic that reaches these services (zone faults: the union)."""
    out: list[str] = []
    for name in services:
        try:
            kind = stack.topology.service(name).kind
        except (KeyError, ValueError):
            continue
        if kind is Kind.APP:
            out.append(f"haproxy.app.{name}.stot")
        elif kind is Kind.QDRANT:
            out.append(f"haproxy.qdrant.{name}.stot")
        elif kind is Kind.REDIS:
            out.extend(_CACHE)
        elif kind is Kind.PROVIDER:
            out.append(f"{name.replace('provider-', 'provider.', 1)}.requests")
    return _unique(out)


def proxy_counters(stack: Stack, proxies: Iterable[str], fronts: dict[str, str], *,
                   down: bool) -> tuple[tuple[str, ...], str]:
    """Counters and rule for faults on Toxiproxy proxies.

    A toxic is exercised by the bytes that crossed its proxy. A disabled proxy (``down``) moves
    no bytes at all, so it is exercised by the calls the app tried and failed through it.
    """
    out: list[str] = []
    llm = False
    for proxy in proxies:
        svc = fronts.get(proxy, proxy)
        if not down:
            out.append(f"toxiproxy.{proxy}.bytes")
        if svc.startswith("provider-"):
            llm = True
            p = svc.removeprefix("provider-")
            out.append(f"app.provider.{p}.failures" if down else f"provider.{p}.requests")
        elif down and svc.startswith("redis"):
            out.append("app.cache.errors")
        elif down:
            out.append("app.retrieval.failures")
    return _unique(out), "llm" if llm else "gated"
