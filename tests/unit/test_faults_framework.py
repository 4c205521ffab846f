"""The fault framework against a fake stack: events, landed/not landed, revert guarantees,
capabilities, records for ``chaos-harness heal``. Process faults act on real tiny processes
(a listening socket each), so /proc verification is exercised for real; no stack servers."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness.errors import FaultError, UnsupportedFault
from harness.faults import (
    Check,
    Fault,
    Injection,
    active_handles,
    build_fault,
    heal_all,
    load_records,
    revert_record,
    save_record,
)
from harness.faults.checks import tcp_open
from harness.stack.base import StackStatus
from harness.stack.local.procs import proc_gone, proc_state
from harness.timeline import Timeline
from harness.topology import Endpoint, Kind, Service, Topology

_LISTENER = ("import socket,sys,time\n"
             "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
             "s.bind(('127.0.0.1',int(sys.argv[1])));s.listen()\n"
             "time.sleep(600)\n")


def _free_port() -> int:
    for port in range(21000 + (time.monotonic_ns() // 1000) % 5000, 29000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


class FakeStack:
    """Stack + Killable + Pausable + ProcessProbe over real listener processes (one per
    service)."""

    name = "fake"

    def __init__(self, state_dir: Path, *, zone_isolation: bool = True) -> None:
        self.state_dir = state_dir
        self.knobs: dict[str, Any] = {}
        self.healed = 0
        services = tuple(
            Service(name=f"svc-{z}", kind=Kind.PROVIDER, zone=f"az-{z}",
                    endpoints={"main": Endpoint(host="127.0.0.1", port=_free_port())})
            for z in "ab")
        self.topology = Topology(run_id="t", substrate="fake", services=services,
                                 front_door=Endpoint(host="127.0.0.1", port=1), api_key="k",
                                 vector_mode="embedded", zone_isolation=zone_isolation)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for s in services:
            self.start(s.name)

    # Stack
    def status(self) -> StackStatus:
        raise AssertionError("faults must not need status() when the stack is Killable")

    def roles(self, role: str) -> Sequence[str]:
        return ["svc-b"] if role == "redis-master" else []

    def wait_ready(self, timeout: float = 30.0) -> None:
        return None

    def undo_substrate_faults(self) -> list[str]:
        self.healed += 1
        return ["fake heal"]

    def reachable(self, src: str, dst: Endpoint, timeout: float = 1.0) -> bool:
        return tcp_open(dst, timeout)

    def log_tail(self, service: str, lines: int = 20) -> list[str]:
        return []

    def down(self) -> None:
        for p in self.procs.values():
            p.kill()
            p.wait()

    # Killable
    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        p = self.procs[service]
        p.send_signal(sig)
        if sig == signal.SIGKILL:
            p.wait()

    def start(self, service: str) -> None:
        if self.is_running(service):
            return
        port = self.topology.service(service).endpoints["main"].port
        self.procs[service] = subprocess.Popen([sys.executable, "-S", "-c", _LISTENER, str(port)])
        deadline = time.monotonic() + 5
        while not tcp_open(self.topology.service(service).endpoints["main"], 0.2):
            assert time.monotonic() < deadline, f"{service} did not listen"
            time.sleep(0.01)

    def is_running(self, service: str) -> bool:
        p = self.procs.get(service)
        return p is not None and p.poll() is None

    def pid(self, service: str) -> int | None:
        return self.procs[service].pid if self.is_running(service) else None

    # Pausable
    def pause(self, service: str) -> None:
        self.procs[service].send_signal(signal.SIGSTOP)

    def resume(self, service: str) -> None:
        self.procs[service].send_signal(signal.SIGCONT)

    def is_paused(self, service: str) -> bool:
        return proc_state(self.pid(service)) == "T"

    # ProcessProbe (this host's /proc, as the local substrate does)
    def process_state(self, service: str, pid: int | None = None) -> str:
        pid = self.pid(service) if pid is None else pid
        if proc_gone(pid):
            return "gone"
        return "paused" if proc_state(pid) in ("T", "t") else "running"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[FakeStack]:
    s = FakeStack(tmp_path)
    try:
        yield s
    finally:
        for h in active_handles():
            h.revert()
        s.down()


@dataclass(frozen=True, slots=True, kw_only=True)
class Scripted(Fault):
    """A test fault whose steps do what the test says (shared mutable log in ``log``)."""

    NAME: ClassVar[str] = "scripted"
    FAMILY: ClassVar[str] = "process"
    VERIFY_TIMEOUT_S: ClassVar[float] = 0.2
    RECOVER_TIMEOUT_S: ClassVar[float] = 0.2

    log: list[str]
    lands: bool = True
    inject_error: bool = False

    def inject(self, stack: Any, injection: Injection) -> None:
        self.log.append("inject")
        injection.data["x"] = 1
        if self.inject_error:
            raise OSError("boom")

    def verify(self, stack: Any, injection: Injection) -> Check:
        return Check(self.lands, "effect seen" if self.lands else "no effect")

    def revert(self, stack: Any, injection: Injection) -> None:
        self.log.append("revert")

    def verify_reverted(self, stack: Any, injection: Injection) -> Check:
        return Check(True, "back")


def _kinds(tl: Timeline) -> list[str]:
    return [e.kind for e in tl.events]


def test_events_in_order_with_verification(stack: FakeStack) -> None:
    tl, log = Timeline(), []  # type: ignore[var-annotated]
    with Scripted(log=log).applied(stack, tl, fault_id="f1") as h:
        assert h.landed and h.detail == "effect seen" and h.active
    assert log == ["inject", "revert"] and not h.active
    assert _kinds(tl) == ["fault.inject", "fault.verified", "fault.revert", "fault.reverted"]
    inj, ver, rev, back = tl.events
    assert inj.get("fault_id") == "f1" and inj.get("name") == "scripted"
    assert ver.get("ok") is True and ver.get("elapsed_ms") >= 0
    assert back.get("ok") is True and back.get("detail") == "back"
    assert inj.t_ns <= ver.t_ns <= rev.t_ns <= back.t_ns
    assert h.to_json()["landed"] is True


def test_fault_that_does_not_verify_is_not_landed(stack: FakeStack) -> None:
    tl = Timeline()
    with Scripted(log=[], lands=False).applied(stack, tl, fault_id="f2") as h:
        assert not h.landed
        assert "did not take effect" in h.detail and "no effect" in h.detail
    assert tl.events_of("fault.verified")[0].get("ok") is False
    assert tl.events_of("fault.reverted")[0].get("ok") is True


def test_revert_runs_when_the_body_raises_and_only_once(stack: FakeStack) -> None:
    tl, log = Timeline(), []  # type: ignore[var-annotated]
    with pytest.raises(KeyError), Scripted(log=log).applied(stack, tl, fault_id="f3") as h:
        raise KeyError("experiment failed")
    assert log == ["inject", "revert"]
    assert h.revert().ok and log == ["inject", "revert"]  # twice is harmless
    assert _kinds(tl).count("fault.revert") == 1


def test_failed_inject_raises_fault_error_after_revert(stack: FakeStack) -> None:
    tl, log = Timeline(), []  # type: ignore[var-annotated]
    with pytest.raises(FaultError, match="could not be injected: boom"):
        Scripted(log=log, inject_error=True).start(stack, tl, fault_id="f4")
    assert log == ["inject", "revert"]
    assert _kinds(tl) == ["fault.inject", "fault.verified", "fault.revert", "fault.reverted"]
    assert "inject failed" in tl.events_of("fault.verified")[0].get("detail")
    assert not active_handles()


def test_prepare_runs_before_the_inject_event(stack: FakeStack) -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class SlowPrepare(Scripted):
        def prepare(self, stack: Any, injection: Injection) -> None:
            time.sleep(0.1)
            injection.scratch["ready_ns"] = time.monotonic_ns()

    tl = Timeline()
    with SlowPrepare(log=[]).applied(stack, tl, fault_id="sp") as h:
        assert tl.events_of("fault.inject")[0].t_ns >= h.injection.scratch["ready_ns"]


def test_ctrl_c_while_verifying_still_reverts(stack: FakeStack) -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Interrupted(Scripted):
        def verify(self, stack: Any, injection: Injection) -> Check:
            raise KeyboardInterrupt

    log: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        Interrupted(log=log).start(stack, Timeline(), fault_id="ci")
    assert log == ["inject", "revert"] and not active_handles()


def test_missing_capability_names_it_and_who_has_it(stack: FakeStack) -> None:
    with pytest.raises(UnsupportedFault) as info:
        build_fault("latency", params={"proxy": "redis-az-a"}).check_supported(stack)
    assert info.value.capability == "Proxied" and "local" in info.value.available_on
    assert "fake" in str(info.value)
    with pytest.raises(UnsupportedFault) as info:
        build_fault("qdrant-node-loss").check_supported(stack)
    assert info.value.capability == "QdrantCluster" and "qdrant binary" in str(info.value)
    tl = Timeline()
    with pytest.raises(UnsupportedFault, match="ZoneIsolatable"):
        build_fault("zone-isolate", target="zone=az-a").start(stack, tl, fault_id="u")
    assert tl.events == ()  # nothing was injected, nothing recorded


def test_loopback_zones_make_zone_faults_unsupported(tmp_path: Path) -> None:
    class Isolatable(FakeStack):
        def isolate_zone(self, zone: str) -> None: ...
        def rejoin_zone(self, zone: str) -> None: ...
        def is_isolated(self, zone: str) -> bool:
            return False

    s = Isolatable(tmp_path, zone_isolation=False)
    try:
        with pytest.raises(UnsupportedFault, match="loopback"):
            build_fault("zone-isolate", target="zone=az-a").check_supported(s)
        build_fault("zone-power", target="zone=az-a").check_supported(s)  # Killable is enough
    finally:
        s.down()


def test_kill_is_verified_in_proc_and_reverted_to_answering(stack: FakeStack) -> None:
    tl = Timeline()
    old = stack.pid("svc-a")
    with build_fault("kill", target="service=svc-a").applied(stack, tl, fault_id="k") as h:
        assert h.landed, h.detail
        assert f"pid {old}" in h.detail and proc_state(old) is None
        assert not tcp_open(stack.topology.service("svc-a").endpoints["main"], 0.2)
        assert stack.is_running("svc-b")
    assert h.recovered, h.recover_detail
    assert stack.pid("svc-a") not in (None, old)
    assert "answering" in h.recover_detail


def test_kill_with_restart_after_restarts_by_itself(stack: FakeStack) -> None:
    fault = build_fault("kill", target="service=svc-b", params={"restart_after": "300ms"})
    with fault.applied(stack, Timeline(), fault_id="kr") as h:
        assert h.landed, h.detail
        deadline = time.monotonic() + 5
        while not stack.is_running("svc-b"):
            assert time.monotonic() < deadline, "not restarted by the timer"
            time.sleep(0.02)
    assert h.recovered


def test_kill_of_a_dynamic_role_resolves_at_injection(stack: FakeStack) -> None:
    tl = Timeline()
    with build_fault("kill", target="role=redis-master").applied(stack, tl, fault_id="r") as h:
        assert h.services == ("svc-b",) and h.landed
    assert tl.events_of("fault.inject")[0].get("services") == ["svc-b"]


def test_pause_is_state_t_and_resume_answers(stack: FakeStack) -> None:
    with build_fault("pause", target="zone=az-a").applied(stack, Timeline(), fault_id="p") as h:
        assert h.landed and "paused" in h.detail
        assert proc_state(stack.pid("svc-a")) == "T"
    assert h.recovered and proc_state(stack.pid("svc-a")) in ("S", "R")


def test_zone_power_kills_the_zone_only(stack: FakeStack) -> None:
    with build_fault("zone-power", target="zone=az-b").applied(stack, Timeline(),
                                                               fault_id="z") as h:
        assert h.landed, h.detail
        assert not stack.is_running("svc-b") and stack.is_running("svc-a")
        assert "unreachable from the edge" in h.detail
    assert h.recovered and stack.is_running("svc-b")


def test_target_matching_nothing_is_a_fault_error(stack: FakeStack) -> None:
    with pytest.raises(FaultError, match="matches no service"):
        build_fault("kill", target="zone=az-c").start(stack, Timeline(), fault_id="n")


def test_record_round_trip_reverts_from_another_handle(stack: FakeStack) -> None:
    """What `fault inject` (no --for) and `heal` do across processes."""
    handle = build_fault("pause", target="service=svc-a").start(stack, Timeline(), fault_id="c1")
    assert handle.landed
    path = save_record(stack, handle)
    assert path.exists()
    (rec,) = load_records(stack)
    assert rec["name"] == "pause" and rec["injection"]["services"] == ["svc-a"]
    tl = Timeline()
    again = revert_record(stack, tl, rec)
    assert again.recovered and not path.exists()
    assert proc_state(stack.pid("svc-a")) != "T"
    assert _kinds(tl) == ["fault.revert", "fault.reverted"]
    handle.revert()  # the original handle reverting too is harmless


def test_heal_all_reverts_everything_and_records_a_heal_event(stack: FakeStack) -> None:
    h1 = build_fault("kill", target="service=svc-a").start(stack, Timeline(), fault_id="h1")
    h2 = build_fault("pause", target="service=svc-b").start(stack, Timeline(), fault_id="h2")
    save_record(stack, h2)
    tl = Timeline()
    what = heal_all(stack, tl)
    assert not active_handles() and load_records(stack) == []
    assert h1.recovered and h2.recovered
    assert stack.is_running("svc-a") and proc_state(stack.pid("svc-b")) != "T"
    assert stack.healed == 1 and "fake heal" in what
    assert any("reverted kill h1" in w for w in what)
    (ev,) = tl.events_of("heal")
    assert ev.get("what") == what
    assert heal_all(stack, None) == ["fake heal"]  # nothing left: only the substrate's own


class _ServersStack:
    """Proxied + ProviderControl, no processes: what ``heal_all`` asks the servers."""

    toxiproxy_url = "http://toxiproxy.invalid"

    def __init__(self, state_dir: Path, *, owns_toxiproxy: bool) -> None:
        self.state_dir = state_dir
        self.owns_toxiproxy = owns_toxiproxy

    def undo_substrate_faults(self) -> list[str]:
        return ["substrate"]

    def proxies(self) -> dict[str, str]:
        return {}

    def provider_control(self, provider: str) -> tuple[str, str]:
        return "http://provider.invalid", "token"


@pytest.mark.parametrize("owns", [True, False])
def test_heal_all_heals_toxiproxy_and_providers_after_the_substrate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, owns: bool) -> None:
    from harness.faults import heal as heal_mod

    monkeypatch.setattr(heal_mod, "heal_toxiproxy", lambda url: ["toxiproxy reset (x)"])
    monkeypatch.setattr(heal_mod, "remove_our_toxics", lambda url: ["removed chaos-x"])
    monkeypatch.setattr(heal_mod, "heal_providers", lambda s: ["provider-primary: cleared y"])
    tl = Timeline()
    what = heal_all(_ServersStack(tmp_path, owns_toxiproxy=owns), tl)  # type: ignore[arg-type]
    toxics = "toxiproxy reset (x)" if owns else "removed chaos-x"  # never reset what is not ours
    assert what == ["substrate", toxics, "provider-primary: cleared y"]
    (ev,) = tl.events_of("heal")
    assert ev.get("failed") == []


def test_heal_all_reports_a_failed_step_and_goes_on(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.errors import HarnessError
    from harness.faults import heal as heal_mod

    def down(url: str) -> list[str]:
        raise HarnessError("toxiproxy is down")

    monkeypatch.setattr(heal_mod, "heal_toxiproxy", down)
    monkeypatch.setattr(heal_mod, "heal_providers", lambda s: [])
    tl = Timeline()
    what = heal_all(_ServersStack(tmp_path, owns_toxiproxy=True), tl)  # type: ignore[arg-type]
    assert what[0] == "substrate" and what[1].startswith("toxiproxy reset failed: ")
    (ev,) = tl.events_of("heal")
    assert ev.get("failed") == [what[1]]
