"""Bringing services back after a fault: restart in dependency order, rejoin Redis replicas.

Shared by every fault that stops processes (kill, zone power loss, Redis/Qdrant node loss) and
by ``heal_all``. Verification of the result stays in the faults (``verify_reverted``).
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.faults.checks import Check, answering, poll, process_gone, process_state, service_pid
from harness.faults.sentinel import current_master, ensure_replica, replication_converged
from harness.stack.base import Killable, Stack
from harness.topology import Kind

__all__ = ["all_answering", "rejoin_redis", "restart_services", "touches_redis"]

#: restart order: data first, then the control plane, then the proxies and the apps
_ORDER = {Kind.REDIS: 0, Kind.SENTINEL: 1, Kind.QDRANT: 2, Kind.PROVIDER: 3, Kind.TOXIPROXY: 4,
          Kind.APP: 5, Kind.HAPROXY: 6}
ANSWER_TIMEOUT_S = 15.0


def _kind(stack: Stack, name: str) -> Kind:
    return stack.topology.service(name).kind


def touches_redis(stack: Stack, names: Iterable[str]) -> bool:
    """Whether replication must be checked after these services come back."""
    return any(_kind(stack, n) in (Kind.REDIS, Kind.SENTINEL) for n in names)


def rejoin_redis(stack: Stack, names: Iterable[str], *,
                 timeout: float = ANSWER_TIMEOUT_S) -> list[str]:
    """Wait for each Redis in ``names`` to answer, then make it a replica of the current master
    unless it is the master. Returns what was done."""
    done = []
    for name in names:
        if _kind(stack, name) is not Kind.REDIS:
            continue
        check, _ = poll(lambda n=name: answering(stack, n), timeout)  # type: ignore[misc]
        if not check.ok:
            done.append(f"{name} does not answer after {timeout:.0f}s: {check.detail}")
            continue
        # wait (bounded) until a majority of sentinels names a master
        master_known, _ = poll(lambda: Check(current_master(stack) is not None, ""), 5.0)
        if master_known.ok:
            action = ensure_replica(stack, name)
            if action:
                done.append(action)
    return done


def restart_services(stack: Stack, names: Iterable[str], *,
                     timeout: float = ANSWER_TIMEOUT_S) -> list[str]:
    """Start every service of ``names`` that is not running, in dependency order; rejoin the
    restarted Redis servers as replicas of the current master. Returns what was done."""
    if not isinstance(stack, Killable):
        return []
    ordered = sorted(set(names), key=lambda n: (_ORDER.get(_kind(stack, n), 9), n))
    done = []
    started = []
    for name in ordered:
        if stack.is_running(name) and not process_gone(stack, name, stack.pid(name)):
            continue
        stack.start(name)
        started.append(name)
        done.append(f"started {name}")
    done.extend(rejoin_redis(stack, started, timeout=timeout))
    return done


def all_answering(stack: Stack, names: Iterable[str], *, replication: bool = True) -> Check:
    """Every service runs (not stopped) and answers; Sentinel agrees and replicas are linked
    when any of them is Redis or Sentinel."""
    names = tuple(names)
    seen = []
    for name in names:
        pid = service_pid(stack, name)
        state = process_state(stack, name, pid)
        if pid is None or state == "gone":
            return Check(False, f"{name} is not running (pid {pid}, state {state})")
        if state == "paused":
            return Check(False, f"{name} (pid {pid}) is still paused")
        check = answering(stack, name)
        if not check.ok:
            return check
        seen.append(f"{name} pid {pid}")
    detail = f"running and answering: {', '.join(seen)}"
    if replication and touches_redis(stack, names):
        repl = replication_converged(stack)
        if not repl.ok:
            return repl
        detail += f"; {repl.detail}"
    return Check(True, detail)
