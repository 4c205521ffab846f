"""Checks from outside: the substrate's process view, TCP connects from a place, protocol pings.

A fault is verified by looking at the effect, never at an exit code: the substrate says the
process is gone (or paused) -- through :class:`~harness.stack.base.ProcessProbe`, never this
host's ``/proc`` --, the endpoint does not answer from the edge, the server answers PING.
Every check here returns a :class:`Check` (ok + a sentence saying what was seen).
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.polling import PollTimeout, poll_until
from harness.stack.base import Killable, ProcessProbe, Stack
from harness.topology import Endpoint, Kind, Service

__all__ = [
    "Check",
    "answering",
    "main_endpoint",
    "poll",
    "process_gone",
    "process_state",
    "redis_client",
    "service_pid",
    "tcp_open",
]

POLL_INTERVAL_S = 0.05


@dataclass(frozen=True, slots=True)
class Check:
    """The result of one look from outside."""

    ok: bool
    detail: str


def poll(fn: Callable[[], Check], timeout: float, *,
         interval: float = POLL_INTERVAL_S) -> tuple[Check, float]:
    """Run ``fn`` until it reports ok or ``timeout`` seconds passed; (last check, seconds).

    :func:`harness.polling.poll_until` with the last look at the deadline (``clip``)."""
    def look() -> Check:
        try:
            return fn()
        except Exception as exc:  # a check that cannot look is a failed look, not a crash
            return Check(False, f"check raised {type(exc).__name__}: {exc}")

    start = time.monotonic()
    try:
        check = poll_until(look, timeout, interval=interval, until=lambda c: c.ok, clip=True,
                           what="the check to pass")
    except PollTimeout as timed_out:
        check = timed_out.last
    return check, time.monotonic() - start


def process_state(stack: Stack, service: str, pid: int | None = None) -> str:
    """``running`` / ``paused`` / ``gone`` as the substrate sees the service (or that PID's
    instance of it); ``unknown`` when the substrate cannot say (no ProcessProbe)."""
    if isinstance(stack, ProcessProbe):
        return stack.process_state(service, pid)
    return "unknown"


def process_gone(stack: Stack, service: str, pid: int | None) -> bool:
    """Whether that instance of the service no longer runs (the substrate says so)."""
    return pid is None or process_state(stack, service, pid) == "gone"


def service_pid(stack: Stack, service: str) -> int | None:
    """The service's PID as the substrate knows it now (None when it is not running)."""
    if isinstance(stack, Killable):
        return stack.pid(service)
    for s in stack.status().services:
        if s.name == service:
            return s.pid
    return None


def main_endpoint(service: Service) -> Endpoint:
    """The endpoint clients use: ``main`` when declared, else the first one."""
    if "main" in service.endpoints:
        return service.endpoints["main"]
    if not service.endpoints:
        raise KeyError(f"service {service.name!r} has no endpoints")
    return next(iter(service.endpoints.values()))


def tcp_open(endpoint: Endpoint, timeout: float = 0.5) -> bool:
    """A TCP connect from this process (the edge) to ``endpoint`` succeeds."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_client(endpoint: Endpoint, timeout: float = 0.5) -> redis.Redis:
    """A redis-py client with explicit timeouts and no retries (see ENVIRONMENT.md pitfalls)."""
    return redis.Redis(host=endpoint.host, port=endpoint.port, socket_timeout=timeout,
                       socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
                       decode_responses=True)


@functools.lru_cache(maxsize=1)
def _http() -> httpx.Client:
    """One client for plain-HTTP health checks (no CA bundle: it costs 0.28 s per client)."""
    return httpx.Client(verify=False, trust_env=False)


def _http_ok(url: str, timeout: float) -> tuple[bool, str]:
    try:
        r = _http().get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return False, f"GET {url}: {type(exc).__name__}"
    return r.status_code == 200, f"GET {url} -> {r.status_code}"


def answering(stack: Stack, name: str, timeout: float = 0.5) -> Check:
    """Whether the service answers its own protocol from the edge (PING, /healthz, connect)."""
    svc = stack.topology.service(name)
    ep = main_endpoint(svc)
    if svc.kind in (Kind.REDIS, Kind.SENTINEL):
        client = redis_client(ep, timeout)
        try:
            ok = bool(client.ping())
        except redis.RedisError as exc:
            return Check(False, f"{name} ({ep.address}) does not answer PING: {exc}")
        finally:
            client.close()
        return Check(ok, f"{name} answers PING at {ep.address}")
    if svc.kind is Kind.APP:
        ok, text = _http_ok(f"http://{ep.host}:{ep.port}/healthz", timeout)
        return Check(ok, f"{name}: {text}")
    if svc.kind is Kind.QDRANT:
        ok, text = _http_ok(f"http://{ep.host}:{ep.port}/readyz", timeout)
        return Check(ok, f"{name}: {text}")
    if svc.kind is Kind.TOXIPROXY:
        ok, text = _http_ok(f"http://{ep.host}:{ep.port}/version", timeout)
        return Check(ok, f"{name}: {text}")
    ok = tcp_open(ep, timeout)
    return Check(ok, f"{name} {'accepts' if ok else 'refuses'} TCP connections at {ep.address}")
