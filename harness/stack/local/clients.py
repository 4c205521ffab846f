"""Small clients the local stack uses to look at its own servers.

HAProxy runtime API over the stats socket, Redis/Sentinel with explicit timeouts and no retries
(redis-py 8 retries by default, which stalls discovery behind one dead sentinel), Toxiproxy's
HTTP API through httpx (toxiproxy-python has no timeouts), and front-door probes.
"""

from __future__ import annotations

from harness.stack import haproxy_api
from harness.stack.readiness import replicas_behind_front_door
from harness.stack.redis_api import redis_call, redis_client
from harness.stack.toxiproxy_api import toxiproxy_get, toxiproxy_reset

__all__ = [
    "haproxy_command",
    "haproxy_servers",
    "redis_call",
    "redis_client",
    "replicas_behind_front_door",
    "toxiproxy_get",
    "toxiproxy_reset",
]


def haproxy_command(sock_path: str, command: str, *, timeout: float = 1.0) -> str:
    return haproxy_api.runtime_command(sock_path, command, timeout=timeout)


def haproxy_servers(sock_path: str, backend: str) -> dict[str, str]:
    """Server name -> status (``UP``, ``DOWN``, ``MAINT``, ``UP 1/2`` ...) of one backend."""
    return haproxy_api.haproxy_servers(sock_path, backend)
