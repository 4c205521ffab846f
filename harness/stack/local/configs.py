"""Configuration of every server of a local run, generated fresh per run. Pure functions.

Knob values (``harness.knobs.resolve_knobs``) become HAProxy, Redis and Sentinel settings and
the app replicas' ``RAG_*`` environment; nothing here touches the disk or the network.

Redis through Toxiproxy: Sentinel hands clients the real address of the master
(``10.213.X.12:6379``), so a Toxiproxy proxy in front of Redis would be bypassed. Each replica
therefore gets ``RAG_REDIS_ADDRESS_MAP`` (``real=proxy`` pairs, one per Redis) and, when the
knob ``app.redis_via_toxiproxy`` is on, the app rewrites what Sentinel returns to the proxy
address before connecting, so ``redis-az-*`` toxics delay or cut cache traffic. Sentinel and
replication traffic always go direct (faults on those use the network: partitions, isolation).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from harness.knobs import app_environment
from harness.stack.haproxy_config import OBSERVE_ERROR_LIMIT
from harness.stack.haproxy_config import haproxy_config as shared_haproxy_config
from harness.stack.local.plan import (
    APP_PORT,
    PROVIDERS,
    PROXY_PORTS,
    QDRANT_FRONT_PORT,
    QDRANT_GRPC_PORT,
    QDRANT_HTTP_PORT,
    QDRANT_P2P_PORT,
    REDIS_PORT,
    SENTINEL_PORT,
    RunPlan,
)
from harness.topology import EDGE, EXTERNAL, ZONES

__all__ = [
    "MASTER_NAME",
    "OBSERVE_ERROR_LIMIT",
    "app_env",
    "haproxy_config",
    "provider_argv",
    "qdrant_env",
    "redis_config",
    "sentinel_config",
    "toxiproxy_config",
]

MASTER_NAME = "mymaster"
INITIAL_MASTER_ZONE = "az-a"


def redis_config(plan: RunPlan, zone: str, knobs: Mapping[str, Any], *, data_dir: str) -> str:
    ip = plan.ip(zone)
    lines = [
        f"bind {ip}",
        f"port {REDIS_PORT}",
        "protected-mode no",
        "daemonize no",
        'logfile ""',
        f"dir {data_dir}",
        'save ""',
        "appendonly no",
        f"replica-announce-ip {ip}",
        f"bind-source-addr {ip}",
        # Applies whenever this instance is the master (after a failover too).
        f"min-replicas-to-write {knobs['redis.min_replicas_to_write']}",
        f"min-replicas-max-lag {knobs['redis.min_replicas_max_lag']}",
        "repl-diskless-sync yes",
        "repl-diskless-sync-delay 0",
        "tcp-keepalive 10",
    ]
    if zone != INITIAL_MASTER_ZONE:
        lines.append(f"replicaof {plan.ip(INITIAL_MASTER_ZONE)} {REDIS_PORT}")
    return "\n".join(lines) + "\n"


def sentinel_id(plan: RunPlan, zone: str) -> str:
    """A fixed 40-hex sentinel id, so each sentinel's config can name its peers up front
    (``known-sentinel``) and quorum is there without waiting for hello messages."""
    return hashlib.blake2s(f"{plan.key}/{zone}".encode(), digest_size=20).hexdigest()


def sentinel_config(plan: RunPlan, zone: str, knobs: Mapping[str, Any], *,
                    data_dir: str) -> str:
    ip = plan.ip(zone)
    master_ip = plan.ip(INITIAL_MASTER_ZONE)
    lines = [
        f"bind {ip}",
        f"port {SENTINEL_PORT}",
        "protected-mode no",
        "daemonize no",
        'logfile ""',
        f"dir {data_dir}",
        f"sentinel myid {sentinel_id(plan, zone)}",
        f"sentinel announce-ip {ip}",
        f"sentinel monitor {MASTER_NAME} {master_ip} {REDIS_PORT} {knobs['sentinel.quorum']}",
        f"sentinel down-after-milliseconds {MASTER_NAME} {knobs['sentinel.down_after_ms']}",
        f"sentinel failover-timeout {MASTER_NAME} {knobs['sentinel.failover_timeout_ms']}",
        f"sentinel parallel-syncs {MASTER_NAME} {knobs['sentinel.parallel_syncs']}",
    ]
    for other in ZONES:
        if other != INITIAL_MASTER_ZONE:
            lines.append(f"sentinel known-replica {MASTER_NAME} {plan.ip(other)} {REDIS_PORT}")
        if other != zone:
            lines.append(f"sentinel known-sentinel {MASTER_NAME} {plan.ip(other)} "
                         f"{SENTINEL_PORT} {sentinel_id(plan, other)}")
    return "\n".join(lines) + "\n"


def haproxy_config(plan: RunPlan, knobs: Mapping[str, Any], *, stats_socket: str,
                   cluster: bool) -> str:
    """HAProxy for the run's addresses (the shared generator, harness.stack.haproxy_config)."""
    return shared_haproxy_config(plan.addresses, knobs, stats_socket=stats_socket,
                                 cluster=cluster)


def toxiproxy_config(plan: RunPlan, *, cluster: bool) -> list[dict[str, Any]]:
    """Toxiproxy ``-config`` JSON: the proxies exist from the first instant."""
    edge = plan.ip(EDGE)
    upstream = {
        "provider-primary": f"{plan.ip(EXTERNAL)}:{PROVIDERS['primary'][0]}",
        "provider-fallback": f"{plan.ip(EXTERNAL)}:{PROVIDERS['fallback'][0]}",
        "qdrant": f"{edge}:{QDRANT_FRONT_PORT}",
        **{f"redis-{z}": f"{plan.ip(z)}:{REDIS_PORT}" for z in ZONES},
    }
    return [{"name": name, "listen": f"{edge}:{port}", "upstream": upstream[name],
             "enabled": True}
            for name, port in PROXY_PORTS.items() if cluster or name != "qdrant"]


def redis_address_map(plan: RunPlan) -> str:
    edge = plan.ip(EDGE)
    return ",".join(f"{plan.ip(z)}:{REDIS_PORT}={edge}:{PROXY_PORTS[f'redis-{z}']}"
                    for z in ZONES)


def app_env(plan: RunPlan, zone: str, knobs: Mapping[str, Any], *, api_key: str,
            provider_key: str, corpus: str, collection: str, cluster: bool) -> dict[str, str]:
    """The complete RAG_* environment of the replica in ``zone``."""
    edge = plan.ip(EDGE)
    ip = plan.ip(zone)
    env = app_environment(knobs)
    env.update({
        "RAG_REPLICA": f"app-{zone}",
        "RAG_API_KEY": api_key,
        "RAG_PRIMARY_URL": f"http://{edge}:{PROXY_PORTS['provider-primary']}/v1",
        "RAG_FALLBACK_URL": f"http://{edge}:{PROXY_PORTS['provider-fallback']}/v1",
        "RAG_PROVIDER_KEY": provider_key,
        "RAG_MODEL": "sim-chat",
        "RAG_REDIS_SENTINELS": ",".join(f"{plan.ip(z)}:{SENTINEL_PORT}" for z in ZONES),
        "RAG_REDIS_MASTER": MASTER_NAME,
        "RAG_REDIS_ADDRESS_MAP": redis_address_map(plan),
        "RAG_QDRANT_MODE": "server" if cluster else "embedded",
        "RAG_QDRANT_URL": f"http://{edge}:{PROXY_PORTS['qdrant']}" if cluster else "",
        "RAG_COLLECTION": collection,
        "RAG_CORPUS": corpus,
        "RAG_HOST": ip,
        "RAG_PORT": str(APP_PORT),
    })
    return env


def provider_argv(python: str, plan: RunPlan, name: str, knobs: Mapping[str, Any], *,
                  token: str, seed: int) -> list[str]:
    port, control = PROVIDERS[name]
    host = plan.ip(EXTERNAL)
    return [python, "-m", "harness.simulators.provider", "--name", name,
            "--host", host, "--port", str(port), "--control-host", host,
            "--control-port", str(control), f"--token={token}",
            "--latency-ms", f"{knobs['provider.base_latency_ms']:g}",
            "--tokens-per-s", f"{knobs['provider.tokens_per_s']:g}", "--seed", str(seed)]


def qdrant_env(plan: RunPlan, zone: str, *, storage: str) -> dict[str, str]:
    return {
        "QDRANT__CLUSTER__ENABLED": "true",
        "QDRANT__CLUSTER__P2P__PORT": str(QDRANT_P2P_PORT),
        "QDRANT__SERVICE__HOST": plan.ip(zone),
        "QDRANT__SERVICE__HTTP_PORT": str(QDRANT_HTTP_PORT),
        "QDRANT__SERVICE__GRPC_PORT": str(QDRANT_GRPC_PORT),
        "QDRANT__STORAGE__STORAGE_PATH": f"{storage}/storage",
        "QDRANT__STORAGE__SNAPSHOTS_PATH": f"{storage}/snapshots",
        "QDRANT__TELEMETRY_DISABLED": "true",
        "QDRANT__LOG_LEVEL": "INFO",
    }


def qdrant_argv(binary: str, plan: RunPlan, zone: str) -> list[str]:
    first = ZONES[0]
    uri = f"http://{plan.ip(zone)}:{QDRANT_P2P_PORT}"
    if zone == first:
        return [binary, "--uri", uri]
    return [binary, "--bootstrap", f"http://{plan.ip(first)}:{QDRANT_P2P_PORT}", "--uri", uri]


def dumps_toxiproxy(plan: RunPlan, *, cluster: bool) -> str:
    return json.dumps(toxiproxy_config(plan, cluster=cluster), indent=2) + "\n"
