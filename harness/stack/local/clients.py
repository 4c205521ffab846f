"""Small clients the local stack uses to look at its own servers.

HAProxy runtime API over the stats socket, Redis/Sentinel with explicit timeouts and no retries
(redis-py 8 retries by default, which stalls discovery behind one dead sentinel), Toxiproxy's
HTTP API through httpx (toxiproxy-python has no timeouts), and front-door probes.
"""

from __future__ import annotations

from typing import Any

import httpx
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.stack import haproxy_api
from harness.stack.toxiproxy_api import toxiproxy_get, toxiproxy_reset

__all__ = [
    "haproxy_command",
    "haproxy_servers",
    "redis_client",
    "toxiproxy_get",
    "toxiproxy_reset",
]


def haproxy_command(sock_path: str, command: str, *, timeout: float = 1.0) -> str:
    return haproxy_api.runtime_command(sock_path, command, timeout=timeout)


def haproxy_servers(sock_path: str, backend: str) -> dict[str, str]:
    """Server name -> status (``UP``, ``DOWN``, ``MAINT``, ``UP 1/2`` ...) of one backend."""
    return haproxy_api.haproxy_servers(sock_path, backend)


def redis_client(host: str, port: int, *, timeout: float = 0.5) -> redis.Redis:
    return redis.Redis(host=host, port=port, socket_timeout=timeout,
                       socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
                       decode_responses=True)


def redis_call(host: str, port: int, *args: Any, timeout: float = 0.5) -> Any:
    client = redis_client(host, port, timeout=timeout)
    try:
        return client.execute_command(*args)
    finally:
        client.close()


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
