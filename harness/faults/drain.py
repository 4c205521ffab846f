"""``server-drain``: an app replica taken out of HAProxy's rotation through its runtime API.

``state: drain`` lets the server finish what it has and sends it no new connections (what a
rolling deploy does); ``state: maint`` takes it out at once (what an operator does before
maintenance). Needs ``HAProxyRuntime`` (local, docker, and external with ``haproxy:`` in the
topology file). Verified by HAProxy itself: ``show stat`` lists the server ``DRAIN`` / ``MAINT``;
after revert (``set server ... state ready``) the server is ``UP`` again. A server that was not
``UP`` before is refused: its state belongs to whoever put it there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from harness.errors import FaultError
from harness.faults.base import Fault, Injection
from harness.faults.checks import Check
from harness.faults.params import Param
from harness.faults.registry import register
from harness.stack.base import HAProxyRuntime, Stack
from harness.stack.haproxy_api import haproxy_servers, runtime_command

__all__ = ["ServerDrain"]

_WANT = {"drain": "DRAIN", "maint": "MAINT"}


def _backend(stack: Stack) -> str:
    return str(getattr(stack, "haproxy_backend", "app"))


def _server(stack: Stack, service: str) -> str:
    name = getattr(stack, "haproxy_server", None)
    return str(name(service)) if callable(name) else service


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ServerDrain(Fault):
    NAME: ClassVar[str] = "server-drain"
    FAMILY: ClassVar[str] = "network"
    SUMMARY: ClassVar[str] = ("take app replicas out of HAProxy's rotation through its runtime "
                              "API (state drain or maint); revert sets them ready")
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("HAProxyRuntime",)
    TARGET: ClassVar[str] = "required"
    TARGET_HELP: ClassVar[str] = "the app replicas, e.g. service=app-az-a or zone=az-b,kind=app"
    TARGET_KINDS: ClassVar[tuple[str, ...]] = ("app",)
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param(name="state", type="str", choices=("drain", "maint"), default="drain",
              help="drain: no new connections, current ones finish; maint: out at once"),)
    RECOVER_TIMEOUT_S: ClassVar[float] = 30.0

    state: str = "drain"

    def touches(self, stack: Stack) -> str:
        return (f"HAProxy {getattr(stack, 'haproxy_socket', '?')}: set server "
                f"{_backend(stack)}/<replica> state {self.state}, then ready")

    def resolve(self, stack: Stack) -> tuple[str, ...]:
        names = Fault.resolve(self, stack)
        apps = {s.name for s in stack.topology.services if s.kind.value == "app"}
        chosen = tuple(n for n in names if n in apps)
        if not chosen:
            raise FaultError(f"target {self.target} selects no app replica; replicas: "
                             f"{sorted(apps)}")
        return chosen

    def _states(self, stack: Stack) -> dict[str, str]:
        assert isinstance(stack, HAProxyRuntime)
        return haproxy_servers(stack.haproxy_socket, _backend(stack))

    def prepare(self, stack: Stack, injection: Injection) -> None:
        Fault.prepare(self, stack, injection)
        states = self._states(stack)
        for svc in injection.services:
            server = _server(stack, svc)
            if server not in states:
                raise FaultError(f"HAProxy backend {_backend(stack)!r} has no server "
                                 f"{server!r}; it has {sorted(states)}")
            if not states[server].startswith("UP"):
                raise FaultError(f"server {_backend(stack)}/{server} is {states[server]}, not "
                                 "UP: its state is not the harness's to change")

    def _command(self, stack: Stack, service: str, state: str) -> None:
        assert isinstance(stack, HAProxyRuntime)
        cmd = f"set server {_backend(stack)}/{_server(stack, service)} state {state}"
        answer = runtime_command(stack.haproxy_socket, cmd).strip()
        if answer:  # HAProxy answers nothing on success
            raise FaultError(f"HAProxy refused {cmd!r}: {answer[:200]}")

    def inject(self, stack: Stack, injection: Injection) -> None:
        injection.data.update(state=self.state, backend=_backend(stack),
                              servers=[_server(stack, s) for s in injection.services])
        for svc in injection.services:
            self._command(stack, svc, self.state)

    def verify(self, stack: Stack, injection: Injection) -> Check:
        states = self._states(stack)
        want = _WANT[self.state]
        got = {s: states.get(_server(stack, s), "missing") for s in injection.services}
        bad = {s: v for s, v in got.items() if not v.startswith(want)}
        if bad:
            return Check(False, f"HAProxy does not list {want} for {bad}")
        return Check(True, f"HAProxy lists {', '.join(f'{s}={v}' for s, v in got.items())} "
                           f"in backend {_backend(stack)}")

    def revert(self, stack: Stack, injection: Injection) -> None:
        for svc in injection.services:
            self._command(stack, svc, "ready")

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        states = self._states(stack)
        got = {s: states.get(_server(stack, s), "missing") for s in injection.services}
        bad = {s: v for s, v in got.items() if not v.startswith("UP")}
        if bad:
            return Check(False, f"not UP again in HAProxy: {bad}")
        return Check(True, f"back in rotation: {', '.join(f'{s}={v}' for s, v in got.items())}")
