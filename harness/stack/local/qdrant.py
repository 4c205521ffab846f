"""The vector tier of the local stack: a real 3-node Qdrant cluster when a binary exists.

Binary: ``$QDRANT_BIN`` or ``qdrant`` on PATH (the official static build works). Without one the
replicas run the vector tier embedded (``QdrantClient(":memory:")`` each) and the stack says so
in its status notes; Qdrant-node faults are then unsupported (``QdrantCluster`` is absent).

Cluster mode (COMPONENTS.md): node 1 ``--uri http://<ip1>:6335``, the others ``--bootstrap
http://<ip1>:6335 --uri http://<ipN>:6335``. The harness creates the collection through the
HAProxy Qdrant frontend with explicit ``shard_number``, ``replication_factor`` 3 and
``write_consistency_factor`` 2 (a server-side default alone creates no replicas), the replicas
load the corpus (deterministic ids, idempotent), and readiness confirms with
``GET /collections/{c}/cluster`` on every node that each shard has 3 Active replicas.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from harness.stack.local.record import RunRecord
from harness.stack.qdrant_api import (
    COLLECTION,
    REPLICATION,
    SHARDS,
    TESTED_VERSION,
    app_qdrant_env,
    create_collection,
)
from harness.topology import ZONES, Kind, Topology

__all__ = ["COLLECTION", "TESTED_VERSION", "QdrantClusterMixin", "app_qdrant_env",
           "binary_version", "client_compatibility", "collection_problem",
           "create_collection", "qdrant_binary"]

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def qdrant_binary() -> tuple[str | None, str]:
    """(path, why) -- path None when there is no usable binary, with the reason."""
    env = os.environ.get("QDRANT_BIN")
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env, f"QDRANT_BIN={env}"
        return None, f"QDRANT_BIN={env} is not an executable file"
    found = shutil.which("qdrant")
    if found:
        return found, f"qdrant on PATH ({found})"
    return None, ("no qdrant binary (set QDRANT_BIN or put the official static build of "
                  "'qdrant' on PATH): vector tier runs embedded in each replica, "
                  "Qdrant-node faults are unsupported")


def binary_version(path: str, *, timeout: float = 10.0) -> str | None:
    """``qdrant --version`` as ``"1.19.0"``; None when it does not say."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True,
                             timeout=timeout, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION.search(out)
    return m.group(0) if m else None


def client_compatibility(server: str | None, client: str | None = None) -> tuple[bool, str]:
    """(compatible, sentence): qdrant-client's own rule -- same major version and minor
    versions at most 1 apart."""
    if client is None:
        try:
            client = metadata.version("qdrant-client")
        except metadata.PackageNotFoundError:
            return False, "qdrant-client is not installed"
    ms, mc = _VERSION.search(server or ""), _VERSION.search(client)
    if ms is None or mc is None:
        return False, f"cannot compare server {server!r} with qdrant-client {client}"
    (s_major, s_minor), (c_major, c_minor) = ((int(m.group(1)), int(m.group(2)))
                                              for m in (ms, mc))
    ok = s_major == c_major and abs(s_minor - c_minor) <= 1
    return ok, (f"server {ms.group(0)} with qdrant-client {mc.group(0)}: "
                + ("compatible" if ok else "INCOMPATIBLE (same major, minor at most 1 apart; "
                   f"this project tests {TESTED_VERSION})"))


class LocalRun(Protocol):
    """What the collection check reads from a local stack (a LocalStack is one), so this
    module needs no import of the stack that uses it."""

    @property
    def topology(self) -> Topology: ...

    @property
    def record(self) -> RunRecord: ...


def _corpus_size(stack: LocalRun) -> int:
    path = stack.record.extra.get("corpus", "")
    try:
        with open(path, encoding="utf-8") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return 0


def _replica_states(info: dict[str, Any]) -> dict[int, list[str]]:
    """shard id -> states of all its replicas, from one node's /collections/{c}/cluster."""
    shards: dict[int, list[str]] = {}
    for local in info.get("local_shards", []):
        shards.setdefault(local["shard_id"], []).append(local.get("state", "?"))
    for remote in info.get("remote_shards", []):
        shards.setdefault(remote["shard_id"], []).append(remote.get("state", "?"))
    return shards


def collection_problem(stack: LocalRun) -> tuple[str, str] | None:
    front = stack.topology.service("haproxy").endpoint("qdrant").url
    try:
        if create_collection(front, timeout=2.0) == "created":
            return "qdrant-az-a", "collection just created; waiting for replicas"
        for zone in ZONES:
            node = f"qdrant-{zone}"
            url = stack.qdrant_url(node) if hasattr(stack, "qdrant_url") else ""
            resp = httpx.get(f"{url}/collections/{COLLECTION}/cluster", timeout=2.0)
            resp.raise_for_status()
            shards = _replica_states(resp.json()["result"])
            bad = {s: st for s, st in shards.items()
                   if len(st) < REPLICATION or any(x != "Active" for x in st)}
            if len(shards) < SHARDS or bad:
                return node, (f"expected {SHARDS} shards x {REPLICATION} Active replicas, "
                              f"found {shards}")
        count = httpx.post(f"{front}/collections/{COLLECTION}/points/count",
                           json={"exact": True}, timeout=2.0).json()["result"]["count"]
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return "qdrant-az-a", f"collection check failed: {exc!r}"
    want = _corpus_size(stack)
    if count < want:
        return "app-az-a", f"corpus not loaded yet ({count} of {want} points)"
    return None


class QdrantClusterMixin:
    """QdrantCluster capability for LocalStack in cluster mode."""

    if TYPE_CHECKING:
        topology: Topology

    @property
    def qdrant_collection(self) -> str:
        return COLLECTION

    def qdrant_url(self, service: str) -> str:
        names = [s.name for s in self.topology.of_kind(Kind.QDRANT)]
        if service not in names:
            raise KeyError(f"no Qdrant node {service!r}; nodes are {names}")
        return self.topology.service(service).endpoint("main").url
