"""Process faults: ``kill`` (SIGKILL, optional restart after a delay) and ``pause`` (SIGSTOP).

Targets are any services: ``service=app-az-a``, ``role=redis-master``, ``kind=sentinel``,
``service=haproxy``. Verified through the substrate (ProcessProbe): the old instance is gone,
or paused (SIGSTOP on a host, the cgroup freezer in a container).
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from typing import ClassVar

from harness.errors import FaultError, HarnessError
from harness.faults.base import Fault, Injection
from harness.faults.checks import (
    Check,
    main_endpoint,
    process_gone,
    process_state,
    service_pid,
)
from harness.faults.params import Param
from harness.faults.registry import register
from harness.faults.restore import all_answering, rejoin_redis, restart_services
from harness.stack.base import Killable, Pausable, Stack

__all__ = ["Kill", "Pause"]

_TARGET_HELP = ("services to act on, e.g. service=app-az-a, role=redis-master, "
                "role=redis-replica, kind=sentinel, service=qdrant-az-b, service=haproxy")
_SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM}


def _pids(stack: Stack, services: tuple[str, ...]) -> dict[str, int]:
    pids = {}
    for name in services:
        pid = service_pid(stack, name)
        if pid is None or process_gone(stack, name, pid):
            raise FaultError(f"{name} is not running (no live PID); nothing to act on. "
                             f"Check 'chaos-harness status'.")
        pids[name] = pid
    return pids


def _delayed_restart(stack: Stack, injection: Injection) -> None:
    """The "supervisor" of ``kill --param restart_after``: errors land in the injection."""
    try:
        injection.data["restarted"] = restart_services(stack, injection.services)
    except (HarnessError, OSError) as exc:
        injection.data["restart_error"] = f"{type(exc).__name__}: {exc}"


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Kill(Fault):
    NAME: ClassVar[str] = "kill"
    FAMILY: ClassVar[str] = "process"
    SUMMARY: ClassVar[str] = ("kill the target processes (SIGKILL); they stay down until revert "
                              "unless restart_after is set (a supervisor restart)")
    TARGET: ClassVar[str] = "required"
    TARGET_HELP: ClassVar[str] = _TARGET_HELP
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("Killable",)
    RECOVER_TIMEOUT_S: ClassVar[float] = 90.0
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param(name="signal", type="str", choices=("KILL", "TERM"), default="KILL",
              help="signal sent to each process"),
        Param(name="restart_after", type="duration", default=None, nullable=True, minimum=0,
              maximum=3600, help="restart each process this long after the kill (null: at "
                                 "revert)"),
    )

    signal: str = "KILL"
    restart_after: float | None = None

    def inject(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, Killable)
        pids = _pids(stack, injection.services)
        injection.data["pids"] = pids
        for name in injection.services:
            stack.kill(name, _SIGNALS[self.signal])
        if self.restart_after is not None:
            timer = threading.Timer(self.restart_after, _delayed_restart,
                                    args=(stack, injection))
            timer.daemon = True
            timer.start()
            injection.timers.append(timer)

    def verify(self, stack: Stack, injection: Injection) -> Check:
        pids: dict[str, int] = injection.data["pids"]
        alive = {n: p for n, p in pids.items() if not process_gone(stack, n, p)}
        if alive:
            return Check(False, f"still running: {alive} (state "
                                f"{[process_state(stack, n, p) for n, p in alive.items()]})")
        detail = f"gone ({stack.name}): " + ", ".join(f"{n} pid {p}" for n, p in pids.items())
        if self.restart_after is None:  # nothing may answer on their ports any more
            for name in pids:
                ep = main_endpoint(stack.topology.service(name))
                if stack.reachable("edge", ep, timeout=0.5):
                    return Check(False, f"{name} pid {pids[name]} is gone but {ep.address} "
                                        "still accepts connections")
            detail += "; their ports refuse connections from the edge"
        return Check(True, detail)

    def revert(self, stack: Stack, injection: Injection) -> None:
        restart_services(stack, injection.services)

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        return all_answering(stack, injection.services)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Pause(Fault):
    NAME: ClassVar[str] = "pause"
    FAMILY: ClassVar[str] = "process"
    SUMMARY: ClassVar[str] = ("freeze the target processes (SIGSTOP) until revert (SIGCONT): "
                              "connections stay open but nothing answers")
    TARGET: ClassVar[str] = "required"
    TARGET_HELP: ClassVar[str] = _TARGET_HELP
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("Pausable",)
    RECOVER_TIMEOUT_S: ClassVar[float] = 60.0

    def inject(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, Pausable)
        injection.data["pids"] = _pids(stack, injection.services)
        for name in injection.services:
            stack.pause(name)

    def verify(self, stack: Stack, injection: Injection) -> Check:
        pids: dict[str, int] = injection.data["pids"]
        states = {n: process_state(stack, n, p) for n, p in pids.items()}
        if all(s == "paused" for s in states.values()):
            return Check(True, f"paused ({stack.name}): " + ", ".join(
                f"{n} pid {pids[n]}" for n in pids))
        return Check(False, f"not all stopped: states {states}")

    def revert(self, stack: Stack, injection: Injection) -> None:
        assert isinstance(stack, Pausable)
        for name in injection.services:
            stack.resume(name)
        rejoin_redis(stack, injection.services)

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        return all_answering(stack, injection.services)
