"""Write a topology file for a running local or docker stack (``chaos-harness status
--topology FILE``), so the ``external`` path can be exercised against a stack on this machine.

The file names environment variables for the secrets (``CHAOS_API_KEY``,
``CHAOS_PROVIDER_TOKEN``); the values are returned separately and never written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from harness.stack.base import ProviderControl, Proxied, QdrantCluster, Stack
from harness.stack.external.model import TopologyFile
from harness.topology import Kind

__all__ = ["API_KEY_ENV", "PROVIDER_TOKEN_ENV", "topology_file_for", "write_topology_file"]

API_KEY_ENV = "CHAOS_API_KEY"
PROVIDER_TOKEN_ENV = "CHAOS_PROVIDER_TOKEN"


def _addr(svc: Any) -> str:
    return str(svc.endpoint("main").address)


def _url(svc: Any, name: str = "main") -> str:
    ep = svc.endpoint(name)
    return f"http://{ep.host}:{ep.port}"


def topology_file_for(stack: Stack, *, max_rate: float = 1000.0,
                      ) -> tuple[dict[str, Any], dict[str, str]]:
    """(the topology file's data, environment variable -> secret value) for ``stack``."""
    topo = stack.topology
    name = re.sub(r"[^a-z0-9._-]+", "-", f"{stack.name}-{topo.run_id}".lower())[:63]
    data: dict[str, Any] = {
        "version": 1, "name": name,
        "front_door": {"url": topo.front_door.url,
                       "auth": {"header": "X-API-Key", "value_env": API_KEY_ENV}},
        "limits": {"max_rate": max_rate},
        "apps": [{"name": s.name, "zone": s.zone, "url": _url(s), "haproxy_server": s.name}
                 for s in topo.of_kind(Kind.APP)],
    }
    secrets = {API_KEY_ENV: topo.api_key}
    sock = getattr(stack, "haproxy_socket", None)
    hap = [s for s in topo.of_kind(Kind.HAPROXY) if "runtime" in s.endpoints]
    if sock and Path(str(sock)).exists():
        data["haproxy"] = {"runtime_api": str(sock), "backend": "app"}
    elif hap:
        data["haproxy"] = {"runtime_api": f"tcp://{hap[0].endpoint('runtime').address}",
                           "backend": "app"}
    sentinels = topo.of_kind(Kind.SENTINEL)
    if sentinels:
        data["redis"] = {
            "master_name": str(getattr(stack, "sentinel_master", None) or "mymaster"),
            "sentinels": [{"name": s.name, "zone": s.zone, "address": _addr(s)}
                          for s in sentinels],
            "nodes": [{"name": s.name, "zone": s.zone, "address": _addr(s)}
                      for s in topo.of_kind(Kind.REDIS)],
            "admin": bool(getattr(stack, "redis_admin", False)),
        }
    if isinstance(stack, QdrantCluster) and topo.vector_mode == "cluster":
        data["qdrant"] = {"collection": stack.qdrant_collection,
                          "nodes": [{"name": s.name, "zone": s.zone,
                                     "url": stack.qdrant_url(s.name).rstrip("/")}
                                    for s in topo.of_kind(Kind.QDRANT)]}
    if isinstance(stack, Proxied):
        data["toxiproxy"] = {"api": stack.toxiproxy_url.rstrip("/"),
                             "proxies": dict(stack.proxies())}
    if isinstance(stack, ProviderControl):
        providers = []
        for s in topo.of_kind(Kind.PROVIDER):
            short = s.name.removeprefix("provider-")
            url, token = stack.provider_control(short)
            providers.append({"name": short, "url": _url(s), "control_url": url.rstrip("/"),
                              "token_env": PROVIDER_TOKEN_ENV})
            secrets[PROVIDER_TOKEN_ENV] = token
        data["providers"] = providers
    TopologyFile.model_validate(data)  # what we write must load
    return data, secrets


def write_topology_file(stack: Stack, path: str | Path, *,
                        max_rate: float = 1000.0) -> dict[str, str]:
    """Write the file; returns environment variable -> secret value (not written)."""
    data, secrets = topology_file_for(stack, max_rate=max_rate)
    header = ("# Topology file written by 'chaos-harness status --topology' for a running "
              f"{stack.name} stack.\n# Secrets come from the environment: "
              f"{', '.join(sorted(secrets))}.\n"
              "# yaml-language-server: $schema=../harness/stack/external/schema.json\n")
    Path(path).write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return secrets
