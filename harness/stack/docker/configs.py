"""Configuration files of a docker run, generated fresh per run from the knobs.

The HAProxy configuration comes from the shared generator
(:func:`harness.stack.haproxy_config.haproxy_config`), so one knob means the same directive on both
substrates; :func:`dockerize_haproxy` only swaps addresses for Docker DNS names and adds the
``resolvers`` section Docker needs (a container that is stopped or cut off leaves Docker DNS, so
servers use ``init-addr last,libc,none`` and re-resolve). Redis and Sentinel use hostnames
(``resolve-hostnames`` / ``announce-hostnames``, ``replica-announce-ip``): container addresses
change when a container restarts or rejoins a network, names do not.

``python -m harness.stack.docker.writeconfigs --out docker/config`` writes the default-knob files that
``docker-compose.ha.yml`` uses when it is run by hand; a unit test keeps them current.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.knobs import app_environment
from harness.stack.docker.layout import PROXIES, SENTINEL_MASTER
from harness.stack.haproxy_config import haproxy_config as shared_haproxy_config
from harness.topology import EDGE, EXTERNAL, ZONES

__all__ = [
    "COLLECTION",
    "CORPUS_PATH",
    "INITIAL_MASTER",
    "RUNTIME_SOCKET",
    "app_env",
    "config_files",
    "dockerize_haproxy",
    "haproxy_config",
    "redis_config",
    "sentinel_config",
    "sentinel_id",
    "toxiproxy_config",
    "write_config_dir",
]

INITIAL_MASTER = "redis-az-a"
COLLECTION = "kb"  # the same collection name as the local substrate's Qdrant cluster
CORPUS_PATH = "/opt/chaos-harness/fixtures/corpus/documents.jsonl"  # inside the app image
RESOLVERS = "docker"
#: HAProxy's runtime API socket inside its container (the directory is the run's
#: ``haproxy-runtime`` state directory; the official image owns /var/lib/haproxy as haproxy)
RUNTIME_SOCKET = "/var/lib/haproxy/admin.sock"
_HOST_MARK = "__zone__"  # placeholder addresses handed to the local generator: "__zone__az-a"


def haproxy_config(knobs: Mapping[str, Any], *, cluster: bool = True) -> str:
    """HAProxy for Docker: the local generator's output with Docker names and DNS."""
    addresses = {EDGE: "0.0.0.0", EXTERNAL: "0.0.0.0", **{z: f"{_HOST_MARK}{z}" for z in ZONES}}
    local = shared_haproxy_config(addresses, knobs, stats_socket="ipv4@0.0.0.0:9999",
                                  cluster=cluster)
    return dockerize_haproxy(local)


def dockerize_haproxy(text: str) -> str:
    """Turn placeholder server addresses into Docker names; re-resolve them through Docker DNS.

    ``server app-az-a __zone__az-a:8000 check`` becomes ``server app-az-a app-az-a:8000 check``: each
    server line already carries the service name, so the address is that name.
    """
    out: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["server"] and len(words) >= 3 and words[2].startswith(_HOST_MARK):
            port = words[2].rsplit(":", 1)[1]
            words[2] = f"{words[1]}:{port}"
            line = "  " + " ".join(words)
        elif words[:1] == ["default-server"]:
            line += f" resolvers {RESOLVERS} init-addr last,libc,none resolve-prefer ipv4"
        elif words[:1] == ["stats"] and words[1:2] == ["socket"]:
            # The runtime API twice: a UNIX socket in a directory bind-mounted from the run's
            # state dir (what the observers use on the host), and TCP on a published port.
            line = (f"  stats socket {RUNTIME_SOCKET} mode 666 level admin\n"
                    "  stats socket ipv4@0.0.0.0:9999 level admin")
        out.append(line)
    if any(_HOST_MARK in line for line in out):
        raise ValueError("the local HAProxy generator produced an address this adapter does not "
                         "know; update harness/stack/docker/configs.dockerize_haproxy")
    text_out = "\n".join(out) + "\n"
    resolvers = "\n".join([
        f"resolvers {RESOLVERS}",
        "  nameserver dns 127.0.0.11:53",
        "  accepted_payload_size 8192",
        "  resolve_retries 3",
        "  timeout resolve 200ms",
        "  timeout retry 200ms",
        "  hold valid 1s",
        "  hold other 1s",
        "  hold refused 1s",
        "  hold nx 1s",
        "  hold timeout 1s",
        "  hold obsolete 1s",
        "",
    ])
    head, sep, tail = text_out.partition("\ndefaults\n")
    if not sep:
        raise ValueError("expected a 'defaults' section in the HAProxy configuration")
    return f"{head}\n{resolvers}\ndefaults\n{tail}"


def sentinel_id(zone: str) -> str:
    """A fixed 40-hex id per sentinel, so each config names its peers up front."""
    return (f"docker{zone}".encode().hex() + "0" * 40)[:40]


def redis_config(zone: str, knobs: Mapping[str, Any]) -> str:
    name = f"redis-{zone}"
    lines = [
        "port 6379",
        "bind * -::*",
        "protected-mode no",
        'save ""',
        "appendonly no",
        "dir /data",
        f"replica-announce-ip {name}",
        "replica-announce-port 6379",
        f"min-replicas-to-write {knobs['redis.min_replicas_to_write']}",
        f"min-replicas-max-lag {knobs['redis.min_replicas_max_lag']}",
        "repl-diskless-sync yes",
        "repl-diskless-sync-delay 0",
        "tcp-keepalive 10",
    ]
    if name != INITIAL_MASTER:
        lines.append(f"replicaof {INITIAL_MASTER} 6379")
    return "\n".join(lines) + "\n"


def sentinel_config(zone: str, knobs: Mapping[str, Any]) -> str:
    m = SENTINEL_MASTER
    lines = [
        "port 26379",
        "bind * -::*",
        "protected-mode no",
        "dir /data",
        # resolve-hostnames must come before any line naming a host
        "sentinel resolve-hostnames yes",
        "sentinel announce-hostnames yes",
        f"sentinel announce-ip sentinel-{zone}",
        "sentinel announce-port 26379",
        f"sentinel myid {sentinel_id(zone)}",
        f"sentinel monitor {m} {INITIAL_MASTER} 6379 {knobs['sentinel.quorum']}",
        f"sentinel down-after-milliseconds {m} {knobs['sentinel.down_after_ms']}",
        f"sentinel failover-timeout {m} {knobs['sentinel.failover_timeout_ms']}",
        f"sentinel parallel-syncs {m} {knobs['sentinel.parallel_syncs']}",
    ]
    for other in ZONES:
        if f"redis-{other}" != INITIAL_MASTER:
            lines.append(f"sentinel known-replica {m} redis-{other} 6379")
        if other != zone:
            lines.append(f"sentinel known-sentinel {m} sentinel-{other} 26379 {sentinel_id(other)}")
    return "\n".join(lines) + "\n"


def toxiproxy_config() -> list[dict[str, Any]]:
    """Toxiproxy ``-config`` JSON: every proxy exists from the first instant."""
    return [{"name": name, "listen": f"0.0.0.0:{port}", "upstream": upstream, "enabled": True}
            for name, (port, upstream) in PROXIES.items()]


def app_env(knobs: Mapping[str, Any], *, cluster: bool = True) -> dict[str, str]:
    """The RAG_* environment shared by the replicas (per replica: name and secrets, in compose)."""
    from harness.stack.qdrant_api import app_qdrant_env

    env = app_environment(knobs)
    env.update(app_qdrant_env())  # shards / replication / embedding size, as on local
    env.update({
        "RAG_PRIMARY_URL": f"http://toxiproxy:{PROXIES['provider-primary'][0]}/v1",
        "RAG_FALLBACK_URL": f"http://toxiproxy:{PROXIES['provider-fallback'][0]}/v1",
        "RAG_MODEL": "sim-chat",
        "RAG_REDIS_SENTINELS": ",".join(f"sentinel-{z}:26379" for z in ZONES),
        "RAG_REDIS_MASTER": SENTINEL_MASTER,
        "RAG_REDIS_ADDRESS_MAP": ",".join(
            f"redis-{z}:6379=toxiproxy:{PROXIES[f'redis-{z}'][0]}" for z in ZONES),
        "RAG_QDRANT_MODE": "server" if cluster else "embedded",
        "RAG_QDRANT_URL": f"http://toxiproxy:{PROXIES['qdrant'][0]}" if cluster else "",
        "RAG_COLLECTION": COLLECTION,
        "RAG_CORPUS": CORPUS_PATH,
        "RAG_HOST": "0.0.0.0",
        "RAG_PORT": "8000",
    })
    return env


def _env_file(env: Mapping[str, str]) -> str:
    for k, v in env.items():
        if "\n" in v or "#" in v:
            raise ValueError(f"environment value of {k} cannot go in an env file: {v!r}")
    return "".join(f"{k}={v}\n" for k, v in sorted(env.items()))


def config_files(knobs: Mapping[str, Any], *, cluster: bool = True) -> dict[str, str]:
    """Relative path -> content of every file the compose services mount from the config dir."""
    files = {
        "haproxy/haproxy.cfg": haproxy_config(knobs, cluster=cluster),
        "toxiproxy/toxiproxy.json": json.dumps(toxiproxy_config(), indent=2) + "\n",
        "app.env": _env_file(app_env(knobs, cluster=cluster)),
    }
    for z in ZONES:
        files[f"redis/redis-{z}.conf"] = redis_config(z, knobs)
        files[f"sentinel/sentinel-{z}.conf"] = sentinel_config(z, knobs)
    return files


def write_config_dir(path: Path, knobs: Mapping[str, Any], *, cluster: bool = True
                     ) -> list[Path]:
    """Write every config file under ``path`` (world-readable: containers run as other users)."""
    written = []
    for rel, content in config_files(knobs, cluster=cluster).items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.parent.chmod(0o755)
        target.write_text(content)
        target.chmod(0o644)
        written.append(target)
    return written
