"""Small clients the docker stack uses to look at its own servers from the host.

HAProxy's runtime API is a TCP socket here (``stats socket ipv4@0.0.0.0:9999``, published on
127.0.0.1), Qdrant's cluster API is plain HTTP; Redis, Sentinel and Toxiproxy go through the
local substrate's clients (explicit timeouts, no retries).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from harness.stack import haproxy_api

__all__ = ["haproxy_command", "haproxy_servers", "qdrant_replica_problem"]


def haproxy_command(host: str, port: int, command: str, *, timeout: float = 1.0) -> str:
    """One runtime API command over TCP (non-interactive: HAProxy closes after the answer)."""
    return haproxy_api.runtime_command(f"tcp://{host}:{port}", command, timeout=timeout)


def haproxy_servers(host: str, port: int, backend: str, *, timeout: float = 1.0
                    ) -> dict[str, str]:
    return haproxy_api.haproxy_servers(f"tcp://{host}:{port}", backend, timeout=timeout)


def qdrant_replica_problem(cluster: Mapping[str, Any], *, shard_number: int,
                           replication_factor: int) -> str | None:
    """What is wrong with ``GET /collections/{c}/cluster``'s ``result``, or None when every
    shard has ``replication_factor`` replicas and all of them are Active."""
    replicas: dict[int, list[str]] = {}
    for shard in (*cluster.get("local_shards", ()), *cluster.get("remote_shards", ())):
        replicas.setdefault(int(shard["shard_id"]), []).append(str(shard.get("state")))
    if len(replicas) != shard_number:
        return f"expected {shard_number} shards, found {len(replicas)}"
    for shard_id, states in sorted(replicas.items()):
        if len(states) < replication_factor:
            return (f"shard {shard_id} has {len(states)} replicas, expected "
                    f"{replication_factor} (was replication_factor passed at creation?)")
        if any(s != "Active" for s in states):
            return f"shard {shard_id} replica states {states}, expected all 'Active'"
    return None


def qdrant_collection_problem(base_url: str, collection: str, *, timeout: float = 1.0
                              ) -> str | None:
    """Ask one Qdrant node whether ``collection`` is fully replicated and Active."""
    try:
        info = httpx.get(f"{base_url}/collections/{collection}", timeout=timeout)
        if info.status_code == 404:
            return f"collection {collection!r} does not exist yet (the app replicas create it)"
        info.raise_for_status()
        params = info.json()["result"]["config"]["params"]
        cluster = httpx.get(f"{base_url}/collections/{collection}/cluster", timeout=timeout)
        cluster.raise_for_status()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return f"Qdrant at {base_url} does not answer: {exc!r}"
    return qdrant_replica_problem(cluster.json()["result"],
                                  shard_number=int(params.get("shard_number", 1)),
                                  replication_factor=int(params.get("replication_factor", 1)))
