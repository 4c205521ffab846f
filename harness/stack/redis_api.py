"""Redis and Sentinel from the harness: explicit timeouts, no retries. Shared by every substrate.

redis-py 8 retries by default, also on Sentinel connections, which stalls master discovery behind
one dead sentinel (ENVIRONMENT.md): every client here has its timeouts set and retries off.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["redis_call", "redis_client"]


def redis_client(host: str, port: int, *, timeout: float = 0.5) -> redis.Redis:
    return redis.Redis(host=host, port=port, socket_timeout=timeout,
                       socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
                       decode_responses=True)


def redis_call(host: str, port: int, *args: Any, timeout: float = 0.5) -> Any:
    """One command on a fresh connection, closed afterwards."""
    client = redis_client(host, port, timeout=timeout)
    try:
        return client.execute_command(*args)
    finally:
        client.close()
