"""The fault framework: a frozen spec with inject / verify / revert, used as a context manager.

A concrete fault (one small class per fault, one module per family) declares its name, family,
parameters and capabilities as class variables, its parameters as dataclass fields, and
implements four steps; :meth:`Fault.applied` does the rest:

* check the substrate offers what the fault needs (:class:`~harness.errors.UnsupportedFault`);
* resolve the target selector against the topology *now* (``role=redis-master`` asks Sentinel);
* append ``fault.inject``, inject, poll :meth:`Fault.verify` from outside, append
  ``fault.verified`` (ok, detail, elapsed_ms) -- a fault that does not verify is recorded as not
  landed (``handle.landed is False``), never silently passed;
* on exit (also on error or Ctrl-C) append ``fault.revert``, revert, poll
  :meth:`Fault.verify_reverted`, append ``fault.reverted``.

Reverting twice is harmless: :meth:`FaultHandle.revert` runs once; every ``revert`` step is
idempotent on its own as well (``chaos-harness heal`` may revert from another process).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from harness.errors import ConfigError, FaultError, HarnessError, UnsupportedFault
from harness.faults.checks import Check, poll
from harness.faults.exercise import ExercisePlan, counters_for_services
from harness.faults.params import Param
from harness.stack.base import (
    CAPABILITY_SUBSTRATES,
    HAProxyRuntime,
    Killable,
    NetworkFaults,
    Pausable,
    ProviderControl,
    Proxied,
    QdrantCluster,
    RedisAdmin,
    Stack,
    ZoneIsolatable,
)
from harness.timeline import Timeline
from harness.topology import Kind, Selector

__all__ = ["CAPABILITIES", "Fault", "FaultHandle", "Injection", "active_handles"]

SOURCE = "fault"

#: capability name -> the Protocol a stack must implement
CAPABILITIES: Mapping[str, type] = {
    "Killable": Killable,
    "Pausable": Pausable,
    "ZoneIsolatable": ZoneIsolatable,
    "NetworkFaults": NetworkFaults,
    "Proxied": Proxied,
    "ProviderControl": ProviderControl,
    "QdrantCluster": QdrantCluster,
    "HAProxyRuntime": HAProxyRuntime,
    "RedisAdmin": RedisAdmin,
}


@dataclass(slots=True, kw_only=True)
class Injection:
    """What one injection did, enough to revert it (``data`` is JSON, persisted by the CLI)."""

    fault_id: str = ""
    services: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    timers: list[threading.Timer] = field(default_factory=list)  # e.g. a delayed restart
    scratch: dict[str, Any] = field(default_factory=dict)  # prepared resources, not persisted

    def to_json(self) -> dict[str, Any]:
        return {"fault_id": self.fault_id, "services": list(self.services), "data": self.data}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Injection:
        return cls(fault_id=str(data.get("fault_id", "")), services=tuple(data.get("services", ())),
                   data=dict(data.get("data", {})))

    def wait_timers(self, timeout: float = 60.0) -> None:
        """Let scheduled actions (a delayed restart) finish; they are part of the fault."""
        for t in self.timers:
            t.join(timeout)


_ACTIVE: dict[str, FaultHandle] = {}
_ACTIVE_LOCK = threading.Lock()


def active_handles() -> tuple[FaultHandle, ...]:
    """Faults injected by this process and not reverted yet (``heal_all`` reverts them)."""
    with _ACTIVE_LOCK:
        return tuple(_ACTIVE.values())


class FaultHandle:
    """An injected fault: how it was verified, and an idempotent :meth:`revert`."""

    def __init__(self, fault: Fault, stack: Stack, timeline: Timeline, fault_id: str,
                 injection: Injection) -> None:
        self.fault = fault
        self.stack = stack
        self.timeline = timeline
        self.fault_id = fault_id
        self.injection = injection
        self.landed = False
        self.detail = "not injected yet"
        self.injected_at_ns: int | None = None
        self.verify_s: float | None = None
        self.reverted_at_ns: int | None = None
        self.recovered: bool | None = None
        self.recover_detail = ""
        self.recover_s: float | None = None
        self._lock = threading.Lock()
        self._done = False

    @property
    def services(self) -> tuple[str, ...]:
        return self.injection.services

    @property
    def active(self) -> bool:
        return not self._done

    def revert(self) -> Check:
        """Revert and verify from outside; later calls return the first result."""
        with self._lock:
            if self._done:
                return Check(bool(self.recovered), self.recover_detail)
            self._done = True
            try:
                return self._revert()
            finally:
                with _ACTIVE_LOCK:
                    _ACTIVE.pop(self.fault_id, None)

    def _revert(self) -> Check:
        ev = self.timeline.add_event("fault.revert", SOURCE, fault_id=self.fault_id,
                                     name=self.fault.name)
        self.reverted_at_ns = ev.t_ns
        for t in self.injection.timers:
            t.cancel()
        self.injection.wait_timers()
        try:
            self.fault.revert(self.stack, self.injection)
        except Exception as exc:
            self.recovered, self.recover_detail = False, f"revert failed: {exc}"
            self.timeline.add_event("fault.reverted", SOURCE, fault_id=self.fault_id, ok=False,
                                    detail=self.recover_detail, elapsed_ms=0.0)
            raise FaultError(f"fault {self.fault.name!r} ({self.fault_id}) could not be "
                             f"reverted: {exc}; run 'chaos-harness heal'") from exc
        check, elapsed = poll(lambda: self.fault.verify_reverted(self.stack, self.injection),
                              self.fault.recover_timeout_s)
        self.recovered, self.recover_detail, self.recover_s = check.ok, check.detail, elapsed
        if not check.ok:
            self.recover_detail = (f"not recovered after {elapsed:.1f}s: {check.detail}")
        self.timeline.add_event("fault.reverted", SOURCE, fault_id=self.fault_id, ok=check.ok,
                                detail=self.recover_detail, elapsed_ms=round(elapsed * 1e3, 1))
        return Check(check.ok, self.recover_detail)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.fault_id, "name": self.fault.name, "family": self.fault.family,
            "target": None if self.fault.target is None else str(self.fault.target),
            "params": self.fault.params, "services": list(self.services),
            "landed": self.landed, "verification": self.detail, "verify_s": self.verify_s,
            "recovered": self.recovered, "recover_detail": self.recover_detail,
            "recover_s": self.recover_s, "injected_at_ns": self.injected_at_ns,
            "reverted_at_ns": self.reverted_at_ns,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault(ABC):
    """Base of every fault spec. Subclasses add their parameters as fields."""

    NAME: ClassVar[str] = ""
    FAMILY: ClassVar[str] = ""  # zone | process | network | provider | datastore
    SUMMARY: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    CAPABILITIES: ClassVar[tuple[str, ...]] = ()
    TARGET: ClassVar[str] = "none"  # "required" | "optional" | "none"
    TARGET_HELP: ClassVar[str] = ""
    TARGET_KINDS: ClassVar[tuple[str, ...]] = ()  # kinds a target may name (empty: any)
    VERIFY_TIMEOUT_S: ClassVar[float] = 5.0
    #: how long recovery may take before it counts as failed; generous because an app replica
    #: restart (LangChain imports) took 8-35 s on a loaded 2-core host. Polling stops at success.
    RECOVER_TIMEOUT_S: ClassVar[float] = 30.0

    target: Selector | None = None

    # -- description ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.NAME

    @property
    def family(self) -> str:
        return self.FAMILY

    @property
    def params(self) -> dict[str, Any]:
        out = {}
        for f in fields(self):
            if f.name != "target":
                v = getattr(self, f.name)
                out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @property
    def verify_timeout_s(self) -> float:
        return self.VERIFY_TIMEOUT_S

    @property
    def recover_timeout_s(self) -> float:
        return self.RECOVER_TIMEOUT_S

    def required_capabilities(self) -> tuple[str, ...]:
        """Capabilities this spec needs (may depend on its parameters, e.g. ``mode``)."""
        return self.CAPABILITIES

    @classmethod
    def possible_capabilities(cls) -> tuple[str, ...]:
        """Capabilities any variant of this fault may need (for the catalog)."""
        return cls.CAPABILITIES

    @classmethod
    def check_params(cls, values: Mapping[str, Any], target: Selector | None, *,
                     file: str | None, field: str) -> None:
        """Cross-field validation after each parameter was validated on its own.

        The base checks that an explicit ``kind=``/``service=<kind>`` term of the target names
        a kind this fault accepts (``TARGET_KINDS``); families add their own rules.
        """
        if target is None or not cls.TARGET_KINDS:
            return
        kinds = {k.value for k in Kind}
        for key, value in target.terms:
            if key in ("kind", "service", "role") and value in kinds and (
                    value not in cls.TARGET_KINDS):
                raise ConfigError(f"fault {cls.NAME!r} cannot target {value!r} services",
                                  file=file, field=f"{field}.target", value=str(target),
                                  allowed=cls.TARGET_KINDS)

    def check_supported(self, stack: Stack) -> None:
        """Raise UnsupportedFault naming the missing capability and who has it."""
        topo = stack.topology
        for cap in self.required_capabilities():
            reason = None
            missing = not isinstance(stack, CAPABILITIES[cap])
            # a substrate may say what would give it a missing capability (external: which
            # section of the topology file to add)
            hint = getattr(stack, "capability_hint", None)
            if missing and callable(hint) and hint(cap):
                reason = hint(cap)
            elif cap in ("ZoneIsolatable", "NetworkFaults") and not topo.zone_isolation:
                reason = ("this stack runs zones on loopback addresses (no root or no network "
                          "namespaces), so zones cannot be cut off; run as root")
            elif cap == "QdrantCluster" and topo.vector_mode != "cluster":
                reason = (f"the vector tier runs {topo.vector_mode!r} inside each app replica, "
                          "not as a Qdrant cluster; put a qdrant binary on PATH or in "
                          "QDRANT_BIN, or use substrate 'docker'")
            elif missing:
                reason = f"substrate {stack.name!r} does not implement {cap}"
            if reason:
                raise UnsupportedFault(self.name, capability=cap, substrate=stack.name,
                                       available_on=CAPABILITY_SUBSTRATES.get(cap, ()),
                                       reason=reason)

    # -- the four steps (subclasses) ----------------------------------------------------------
    def resolve(self, stack: Stack) -> tuple[str, ...]:
        """The services this injection acts on, resolved now."""
        if self.target is None:
            return ()
        names = tuple(s.name for s in self.target.resolve(stack.topology, stack.roles))
        if not names:
            raise FaultError(f"fault {self.name!r}: target {self.target} matches no service "
                             f"now; services are {[s.name for s in stack.topology.services]}")
        return names

    def prepare(self, stack: Stack, injection: Injection) -> None:
        """Slow groundwork before the ``fault.inject`` event (baselines, clients), so that the
        event's timestamp is when the fault really starts. The base only notes the time."""
        injection.scratch.setdefault("prepared_ns", time.monotonic_ns())

    @abstractmethod
    def inject(self, stack: Stack, injection: Injection) -> None:
        """Make the fault happen; record in ``injection.data`` what revert needs."""

    @abstractmethod
    def verify(self, stack: Stack, injection: Injection) -> Check:
        """One look from outside: is the fault in effect? (polled until ok or timeout)"""

    @abstractmethod
    def revert(self, stack: Stack, injection: Injection) -> None:
        """Undo the fault. Idempotent: a second call (or one from another process) is harmless."""

    @abstractmethod
    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        """One look from outside: is the stack back (processes answering, replicas linked)?"""

    def exercise_plan(self, stack: Stack, injection: Injection) -> ExercisePlan:
        """Which outside counters show traffic through the faulted part (see
        :mod:`harness.faults.exercise`). The base counts the traffic reaching the services the
        injection acts on; families with a better signal override it."""
        return ExercisePlan(counters=counters_for_services(stack, injection.services))

    # -- running --------------------------------------------------------------------------------
    def start(self, stack: Stack, timeline: Timeline | None, *, fault_id: str,
              before_inject: Callable[[FaultHandle], None] | None = None) -> FaultHandle:
        """Inject and verify; the caller must ``revert()`` the handle (see :meth:`applied`).

        ``before_inject(handle)`` runs after :meth:`prepare`, right before the ``fault.inject``
        event (the runner snapshots the exercise counters there)."""
        self.check_supported(stack)
        timeline = timeline if timeline is not None else Timeline()
        injection = Injection(fault_id=fault_id, services=self.resolve(stack))
        handle = FaultHandle(self, stack, timeline, fault_id, injection)
        self.prepare(stack, injection)
        if before_inject is not None:
            before_inject(handle)
        ev = timeline.add_event(
            "fault.inject", SOURCE, fault_id=fault_id, name=self.name, family=self.family,
            target=None if self.target is None else str(self.target), params=self.params,
            services=list(injection.services))
        handle.injected_at_ns = ev.t_ns
        with _ACTIVE_LOCK:
            _ACTIVE[fault_id] = handle
        try:
            self.inject(stack, injection)
        except BaseException as exc:
            handle.detail = f"inject failed: {exc}"
            timeline.add_event("fault.verified", SOURCE, fault_id=fault_id, ok=False,
                               detail=handle.detail, elapsed_ms=0.0)
            try:
                handle.revert()
            except HarnessError as rexc:
                exc.add_note(f"and the revert failed too: {rexc}")
            if isinstance(exc, HarnessError) or not isinstance(exc, Exception):
                raise
            raise FaultError(f"fault {self.name!r} could not be injected: {exc}") from exc
        try:
            check, elapsed = poll(lambda: self.verify(stack, injection), self.verify_timeout_s)
        except BaseException as exc:  # Ctrl-C while verifying: do not leave the fault behind
            try:
                handle.revert()
            except HarnessError as rexc:
                exc.add_note(f"and the revert failed too: {rexc}")
            raise
        handle.landed, handle.verify_s = check.ok, elapsed
        handle.detail = check.detail if check.ok else (
            f"did not take effect within {elapsed:.1f}s: {check.detail}")
        timeline.add_event("fault.verified", SOURCE, fault_id=fault_id, ok=check.ok,
                           detail=handle.detail, elapsed_ms=round(elapsed * 1e3, 1))
        return handle

    @contextmanager
    def applied(self, stack: Stack, timeline: Timeline | None, *, fault_id: str,
                before_inject: Callable[[FaultHandle], None] | None = None
                ) -> Iterator[FaultHandle]:
        """Inject + verify on entry; revert + verify on exit, whatever happens in between."""
        handle = self.start(stack, timeline, fault_id=fault_id, before_inject=before_inject)
        try:
            yield handle
        finally:
            handle.revert()

