"""Readiness checks every substrate shares: they need only what a Stack offers (topology, roles,
Proxied, ProviderControl), not how the substrate runs its servers.

A check returns None when satisfied, else ``(component, what is wrong)``.
"""

from __future__ import annotations

from typing import Any

import httpx

from harness.errors import HarnessError
from harness.simulators.control import ProviderControlClient
from harness.stack.redis_api import redis_call
from harness.stack.toxiproxy_api import toxiproxy_get
from harness.topology import ZONES, Kind

__all__ = ["check_front_door", "check_providers", "check_redis", "check_toxiproxy",
           "replicas_behind_front_door"]


def replicas_behind_front_door(url: str, api_key: str, *, expected: set[str], attempts: int,
                               timeout: float = 2.0) -> set[str]:
    """X-Replica values seen on GET /healthz through the front door (stops when all seen)."""
    seen: set[str] = set()
    with httpx.Client(timeout=timeout, headers={"X-API-Key": api_key}) as client:
        for _ in range(attempts):
            try:
                resp = client.get(url + "/healthz", headers={"Connection": "close"})
            except httpx.HTTPError:
                continue
            replica = resp.headers.get("x-replica")
            if resp.status_code == 200 and replica:
                seen.add(replica)
            if expected <= seen:
                break
    return seen


def check_redis(stack: Any) -> tuple[str, str] | None:
    master = stack.roles("redis-master")
    if not master:
        return "sentinel-az-a", "no sentinel names a master yet"
    ep = stack.topology.service(master[0]).endpoint("main")
    try:
        info = redis_call(ep.host, ep.port, "INFO", "replication")
    except Exception as exc:
        return master[0], f"master does not answer: {exc!r}"
    if info.get("role") != "master" or int(info.get("connected_slaves", 0)) < len(ZONES) - 1:
        return master[0], (f"expected role master with {len(ZONES) - 1} replicas linked, found "
                           f"role {info.get('role')} with {info.get('connected_slaves')}")
    return None


def check_toxiproxy(stack: Any) -> tuple[str, str] | None:
    try:
        have = set(toxiproxy_get(stack.toxiproxy_url))
    except Exception as exc:
        return "toxiproxy", f"API does not answer: {exc!r}"
    missing = set(stack.proxies()) - have
    return ("toxiproxy", f"proxies missing: {sorted(missing)}") if missing else None


def check_providers(stack: Any) -> tuple[str, str] | None:
    for name in ("primary", "fallback"):
        url, token = stack.provider_control(name)
        try:
            with ProviderControlClient(url, token, timeout=0.5) as ctl:
                ctl.faults()
        except HarnessError as exc:
            return f"provider-{name}", f"control API does not answer: {exc}"
    return None


def check_front_door(stack: Any) -> tuple[str, str] | None:
    expected = {s.name for s in stack.topology.of_kind(Kind.APP)}
    seen = replicas_behind_front_door(stack.topology.front_door.url,
                                              stack.topology.api_key, expected=expected,
                                              attempts=3 * len(expected))
    missing = expected - seen
    if missing:
        return sorted(missing)[0], f"never answered through the front door (seen {sorted(seen)})"
    return None
