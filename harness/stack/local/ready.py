"""Readiness of a local run: real checks, polled together until all pass or time runs out.

Ready means: every process alive; the Redis master has both replicas linked; every sentinel
agrees on the master and ``SENTINEL CKQUORUM`` says OK; Toxiproxy has all its proxies; both
provider simulators answer their control API; HAProxy (stats socket) sees every app server UP;
every replica has answered through the front door (``X-Replica`` seen for all three); in cluster
mode every Qdrant node is UP in HAProxy and the collection has all its replicas Active.

On timeout the StackError names the first failing check's component and carries its last log
lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from harness.errors import StackError
from harness.stack.local import clients
from harness.stack.local.configs import MASTER_NAME
from harness.stack.local.plan import REDIS_PORT, SENTINEL_PORT, RunPlan
from harness.stack.local.qdrant import collection_problem
from harness.stack.local.record import RunRecord
from harness.stack.readiness import (
    check_front_door,
    check_providers,
    check_redis,
    check_toxiproxy,
)
from harness.topology import ZONES, Kind, Topology

__all__ = ["READINESS_CHECKS", "LocalView", "wait_ready"]


class LocalView(Protocol):
    """What the checks here read from a local stack (a LocalStack is one; the shared checks of
    :mod:`harness.stack.readiness` take any stack). The stack calls :func:`wait_ready` with
    itself, so this module needs no import of the stack."""

    @property
    def record(self) -> RunRecord: ...

    @property
    def plan(self) -> RunPlan: ...

    @property
    def topology(self) -> Topology: ...

    @property
    def haproxy_socket(self) -> str: ...

    def is_running(self, service: str) -> bool: ...

    def log_tail(self, service: str, lines: int = 20) -> list[str]: ...

    def log_path(self, service: str) -> str: ...


# A check returns None when satisfied, else (component, what is wrong).
ReadinessCheck = Callable[[LocalView], "tuple[str, str] | None"]


def check_processes(stack: LocalView) -> tuple[str, str] | None:
    for service in stack.record.procs:
        if not stack.is_running(service):
            return service, "the process exited"
    return None


def check_sentinels(stack: LocalView) -> tuple[str, str] | None:
    seen = set()
    for zone in ZONES:
        name = f"sentinel-{zone}"
        ip = stack.plan.ip(zone)
        try:
            addr = clients.redis_call(ip, SENTINEL_PORT, "SENTINEL", "get-master-addr-by-name",
                                      MASTER_NAME)
            quorum = clients.redis_call(ip, SENTINEL_PORT, "SENTINEL", "CKQUORUM", MASTER_NAME)
        except Exception as exc:
            return name, f"CKQUORUM not OK: {exc}"
        if not str(quorum).startswith("OK"):
            return name, f"CKQUORUM answered {quorum!r}"
        seen.add(tuple(addr or ()))
    if len(seen) != 1:
        return "sentinel-az-a", f"sentinels disagree on the master: {sorted(seen)}"
    host, port = next(iter(seen))
    if int(port) != REDIS_PORT or stack.plan.place_of_ip(host) not in ZONES:
        return "sentinel-az-a", f"sentinels name an unknown master {host}:{port}"
    return None


def _backend_up(stack: LocalView, backend: str, kind: Kind) -> tuple[str, str] | None:
    try:
        states = clients.haproxy_servers(stack.haproxy_socket, backend)
    except OSError as exc:
        return "haproxy", f"stats socket {stack.haproxy_socket} does not answer: {exc}"
    for svc in stack.topology.of_kind(kind):
        if states.get(svc.name, "") != "UP":
            return svc.name, f"HAProxy backend {backend!r} has it {states.get(svc.name)!r}, " \
                             f"expected 'UP'"
    return None


def check_haproxy(stack: LocalView) -> tuple[str, str] | None:
    return _backend_up(stack, "app", Kind.APP)


def check_qdrant(stack: LocalView) -> tuple[str, str] | None:
    if stack.topology.vector_mode != "cluster":
        return None
    problem = _backend_up(stack, "qdrant", Kind.QDRANT)
    if problem:
        return problem
    return collection_problem(stack)


READINESS_CHECKS: tuple[tuple[str, ReadinessCheck], ...] = (
    ("processes", check_processes),
    ("redis", check_redis),
    ("sentinel", check_sentinels),
    ("toxiproxy", check_toxiproxy),
    ("providers", check_providers),
    ("haproxy", check_haproxy),
    ("front door", check_front_door),
    ("qdrant", check_qdrant),
)


def _fail(stack: LocalView, component: str, message: str) -> StackError:
    ours = component in stack.record.procs
    return StackError(message, component=component,
                      log_tail=stack.log_tail(component, 25) if ours else (),
                      hint=f"full log: {stack.log_path(component)}" if ours else None)


def wait_ready(stack: LocalView, *, timeout: float, poll: float = 0.1) -> dict[str, float]:
    """Poll the checks in order (a passed check is not re-run; a process that exits fails at
    once) until all pass. Returns seconds from the call until each check passed."""
    started = time.monotonic()
    deadline = started + timeout
    passed: dict[str, float] = {}
    pending = [(n, c) for n, c in READINESS_CHECKS if c is not check_processes]
    while pending:
        dead = check_processes(stack)
        if dead is not None:
            raise _fail(stack, dead[0], dead[1])
        name, check = pending[0]
        problem = check(stack)
        if problem is None:
            pending.pop(0)
            passed[name] = round(time.monotonic() - started, 3)
            continue
        if time.monotonic() > deadline:
            raise _fail(stack, problem[0], f"not ready after {timeout:g} s ({name}): "
                                           f"{problem[1]}")
        time.sleep(poll)
    return passed
