"""Readiness of a docker run: the same real checks as the local substrate, seen from the host.

Ready means: every container running; the Redis master has both replicas linked; every sentinel
agrees on the master and ``SENTINEL CKQUORUM`` says OK; Toxiproxy has all its proxies; both
provider simulators answer their control API; every Qdrant node is ready and the three form one
cluster; the collection has every replica Active; HAProxy (runtime API) sees every app and Qdrant
server UP; every replica has answered through the front door.

The checks that only use the Stack interface are the local substrate's own
(:mod:`harness.stack.readiness`); the others are here. On timeout the StackError names the
failing component and carries its container's last log lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import httpx

from harness.errors import StackError
from harness.stack import readiness
from harness.stack.docker import clients, layout
from harness.stack.docker.configs import COLLECTION
from harness.stack.docker.layout import DockerService
from harness.stack.docker.record import DockerRun
from harness.stack.qdrant_api import create_collection
from harness.stack.redis_api import redis_call
from harness.topology import ZONES, Kind, Topology

__all__ = ["READINESS_CHECKS", "DockerView", "wait_ready"]


class DockerView(Protocol):
    """What the checks here read from a docker stack (a DockerStack is one; the shared checks
    of :mod:`harness.stack.readiness` take any stack). The stack calls :func:`wait_ready` with
    itself, so this module needs no import of the stack."""

    @property
    def run(self) -> DockerRun: ...

    @property
    def services(self) -> Sequence[DockerService]: ...

    @property
    def topology(self) -> Topology: ...

    def _state(self, service: str) -> str: ...

    def log_tail(self, service: str, lines: int = 20) -> list[str]: ...


Problem = tuple[str, str] | None
ReadinessCheck = Callable[[DockerView], Problem]


def check_containers(stack: DockerView) -> Problem:
    for s in stack.services:
        state = _state(stack, s.name)
        if state != "running":
            return s.name, f"container is {state!r}, expected 'running'"
    return None


def _state(stack: DockerView, service: str) -> str:
    try:
        return stack._state(service)
    except StackError:
        return "missing"


def _shared(check: Callable[[Any], Problem]) -> ReadinessCheck:
    """A local-substrate check that needs nothing but the Stack interface."""
    return lambda stack: check(cast(Any, stack))


def check_sentinels(stack: DockerView) -> Problem:
    seen = set()
    for svc in stack.topology.of_kind(Kind.SENTINEL):
        ep = svc.endpoint("main")
        try:
            addr = redis_call(ep.host, ep.port, "SENTINEL",
                                            "get-master-addr-by-name", layout.SENTINEL_MASTER)
            quorum = redis_call(ep.host, ep.port, "SENTINEL", "CKQUORUM",
                                              layout.SENTINEL_MASTER)
        except Exception as exc:
            return svc.name, f"CKQUORUM not OK: {exc}"
        if not str(quorum).startswith("OK"):
            return svc.name, f"CKQUORUM answered {quorum!r}"
        seen.add(tuple(str(a) for a in addr or ()))
    if len(seen) != 1:
        return "sentinel-az-a", f"sentinels disagree on the master: {sorted(seen)}"
    host, port = next(iter(seen))
    if host not in {f"redis-{z}" for z in ZONES} or port != "6379":
        return "sentinel-az-a", (f"sentinels name {host}:{port}, expected a redis-<zone>:6379 "
                                 "hostname (announce-hostnames)")
    return None


def check_qdrant_cluster(stack: DockerView) -> Problem:
    nodes = stack.topology.of_kind(Kind.QDRANT)  # none when the vector tier is embedded
    for svc in nodes:
        url = svc.endpoint("main").url
        try:
            ready = httpx.get(f"{url}/readyz", timeout=1.0)
            cluster = httpx.get(f"{url}/cluster", timeout=1.0)
        except httpx.HTTPError as exc:
            return svc.name, f"does not answer: {exc!r}"
        if ready.status_code != 200:
            return svc.name, f"/readyz answered {ready.status_code}, expected 200"
        peers = (cluster.json().get("result") or {}).get("peers") or {}
        if len(peers) != len(nodes):
            return svc.name, (f"sees {len(peers)} cluster peers, expected {len(nodes)} "
                              "(bootstrap through qdrant-az-a:6335)")
    return None


def _backend_up(stack: DockerView, backend: str, kind: Kind) -> Problem:
    ep = stack.topology.service("haproxy").endpoint("runtime")
    try:
        states = clients.haproxy_servers(ep.host, ep.port, backend)
    except OSError as exc:
        return "haproxy", f"runtime API {ep.address} does not answer: {exc}"
    for svc in stack.topology.of_kind(kind):
        if states.get(svc.name, "") != "UP":
            return svc.name, (f"HAProxy backend {backend!r} has it {states.get(svc.name)!r}, "
                              "expected 'UP'")
    return None


def check_haproxy(stack: DockerView) -> Problem:
    return _backend_up(stack, "app", Kind.APP) or (
        _backend_up(stack, "qdrant", Kind.QDRANT) if stack.run.cluster else None)


def check_collection(stack: DockerView) -> Problem:
    """Create the collection with explicit replication (as the local substrate does), then wait
    until every node reports every replica Active and the replicas have loaded the corpus.
    Nothing to do when the vector tier is embedded in the replicas."""
    if not stack.run.cluster:
        return None
    front = stack.topology.service("haproxy").endpoint("qdrant").url
    try:
        if create_collection(front, timeout=2.0) == "created":
            return "qdrant-az-a", "collection just created; waiting for its replicas"
        for svc in stack.topology.of_kind(Kind.QDRANT):
            problem = clients.qdrant_collection_problem(svc.endpoint("main").url,
                                                        COLLECTION)
            if problem:
                return svc.name, problem
        count = httpx.post(f"{front}/collections/{COLLECTION}/points/count",
                           json={"exact": True}, timeout=2.0).json()["result"]["count"]
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return "qdrant-az-a", f"collection check failed: {exc!r}"
    want = corpus_size(Path(stack.run.context))
    if count < want:
        return "app-az-a", f"corpus not loaded yet ({count} of {want} points)"
    return None


def corpus_size(context: Path) -> int:
    """Documents in the corpus the app image was built with (0 when it cannot be read)."""
    try:
        with open(context / "fixtures" / "corpus" / "documents.jsonl", encoding="utf-8") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return 0


READINESS_CHECKS: tuple[tuple[str, ReadinessCheck], ...] = (
    ("redis", _shared(readiness.check_redis)),
    ("sentinel", check_sentinels),
    ("toxiproxy", _shared(readiness.check_toxiproxy)),
    ("providers", _shared(readiness.check_providers)),
    ("qdrant", check_qdrant_cluster),
    ("haproxy", check_haproxy),
    ("collection", check_collection),
    ("front door", _shared(readiness.check_front_door)),
)


def _fail(stack: DockerView, component: str, message: str) -> StackError:
    known = component in {s.name for s in stack.services}
    return StackError(message, component=component,
                      log_tail=stack.log_tail(component, 25) if known else (),
                      hint=(f"docker compose -p {stack.run.project} logs {component}" if known
                            else None))


def wait_ready(stack: DockerView, *, timeout: float, poll: float = 0.2) -> None:
    """Poll the checks in order (a passed check is not re-run; a container that stops fails at
    once) until all pass or ``timeout`` seconds have gone by."""
    deadline = time.monotonic() + timeout
    pending = list(READINESS_CHECKS)
    while pending:
        dead = check_containers(stack)
        if dead is not None:
            raise _fail(stack, dead[0], dead[1])
        name, check = pending[0]
        problem = check(stack)
        if problem is None:
            pending.pop(0)
            continue
        if time.monotonic() > deadline:
            raise _fail(stack, problem[0], f"not ready after {timeout:g} s ({name}): "
                                           f"{problem[1]}")
        time.sleep(poll)
