"""Provider faults against the real provider simulator (a subprocess on loopback): each fault
is reported active by the simulator, felt by a real completion request where cheap to see, and
gone after revert. Overlapping provider faults clear only their own kind."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.faults import build_fault, heal_all
from harness.faults.checks import tcp_open
from harness.simulators.control import ProviderControlClient
from harness.stack.base import ProviderControl
from harness.timeline import Timeline
from harness.topology import Endpoint, Kind, Service, Topology

pytestmark = pytest.mark.integration


def _free_port(lo: int = 17000, hi: int = 19999) -> int:
    start = lo + (time.monotonic_ns() // 1000) % (hi - lo)
    for i in range(hi - lo):
        port = lo + (start - lo + i) % (hi - lo)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


class ProviderStack:
    """Just enough of a Stack + ProviderControl over one simulator (as 'primary')."""

    name = "fake"

    def __init__(self, api: Endpoint, control: Endpoint, token: str, state_dir: Path) -> None:
        self.api, self.control, self.token = api, control, token
        self.state_dir = state_dir
        self.knobs: dict[str, Any] = {}
        self.topology = Topology(
            run_id="pv", substrate="fake", front_door=Endpoint(host="127.0.0.1", port=1),
            api_key="k", vector_mode="embedded", zone_isolation=False,
            services=(Service(name="provider-primary", kind=Kind.PROVIDER, zone="external",
                              endpoints={"main": api, "control": control}),))

    def provider_control(self, provider: str) -> tuple[str, str]:
        return f"http://{self.control.address}", self.token

    def roles(self, role: str) -> Sequence[str]:
        return []

    def status(self) -> Any:
        raise AssertionError("not needed")

    def wait_ready(self, timeout: float = 30.0) -> None:
        return None

    def undo_substrate_faults(self) -> list[str]:
        return []

    def reachable(self, src: str, dst: Endpoint, timeout: float = 1.0) -> bool:
        return tcp_open(dst, timeout)

    def log_tail(self, service: str, lines: int = 20) -> list[str]:
        return []

    def down(self) -> None:
        return None


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderStack]:
    api = Endpoint(host="127.0.0.1", port=_free_port())
    control = Endpoint(host="127.0.0.1", port=_free_port())
    token = secrets.token_hex(8)
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.simulators.provider", "--name", "primary", "--host",
         api.host, "--port", str(api.port), "--control-host", control.host, "--control-port",
         str(control.port), "--token", token, "--latency-ms", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (tcp_open(api, 0.2) and tcp_open(control, 0.2)):
            assert proc.poll() is None and time.monotonic() < deadline, "simulator did not start"
            time.sleep(0.05)
        yield ProviderStack(api, control, token, tmp_path_factory.mktemp("pv"))
    finally:
        proc.terminate()
        proc.wait(5)


def _complete(stack: ProviderStack, timeout: float = 2.0) -> httpx.Response:
    return httpx.post(f"http://{stack.api.address}/v1/chat/completions", timeout=timeout,
                      json={"model": "sim", "messages": [{"role": "user", "content": "hi"}]},
                      headers={"Authorization": "Bearer x"})


PROVIDER_FAULTS = [
    ("provider-5xx", {"status": "503", "rate": "1"}),
    ("provider-429", {"retry_after_s": "2"}),
    ("provider-latency", {"ms": "300", "jitter_ms": "0"}),
    ("provider-hang", {"rate": "0.5"}),
    ("provider-slow-stream", {"tokens_per_s": "3"}),
    ("provider-stall-stream", {"after_tokens": "2"}),
    ("provider-disconnect", {"after_tokens": "1"}),
    ("provider-malformed", {}),
    ("provider-outage", {"mode": "503"}),
]


@pytest.mark.parametrize(("name", "params"), PROVIDER_FAULTS, ids=[f[0] for f in PROVIDER_FAULTS])
def test_every_provider_fault_lands_and_reverts(simulator: ProviderStack, name: str,
                                               params: dict[str, str]) -> None:
    assert isinstance(simulator, ProviderControl)
    tl = Timeline()
    fault = build_fault(name, params=params)
    with fault.applied(simulator, tl, fault_id=name) as h:
        assert h.landed, h.detail
        assert "reports" in h.detail and h.services == ("provider-primary",)
    assert h.recovered, h.recover_detail
    fault.revert(simulator, h.injection)  # reverting again (e.g. from `heal`) is harmless
    with ProviderControlClient(*simulator.provider_control("primary")) as ctl:
        assert ctl.faults() == {}
    assert _complete(simulator).status_code == 200


def test_effects_are_felt_by_real_requests(simulator: ProviderStack) -> None:
    with build_fault("provider-5xx", params={"status": 502}).applied(
            simulator, Timeline(), fault_id="e1"):
        assert _complete(simulator).status_code == 502
    with build_fault("provider-429", params={"retry_after_s": 3}).applied(
            simulator, Timeline(), fault_id="e2"):
        r = _complete(simulator)
        assert r.status_code == 429 and r.headers.get("retry-after") in ("3", "3.0")
    with build_fault("provider-latency", params={"ms": 300}).applied(
            simulator, Timeline(), fault_id="e3"):
        t0 = time.monotonic()
        assert _complete(simulator).status_code == 200
        assert time.monotonic() - t0 >= 0.3
    with build_fault("provider-hang").applied(simulator, Timeline(), fault_id="e4"), \
            pytest.raises(httpx.ReadTimeout):
        _complete(simulator, timeout=0.5)
    assert _complete(simulator).status_code == 200


def test_overlapping_faults_clear_only_their_own_kind(simulator: ProviderStack) -> None:
    with build_fault("provider-latency").applied(simulator, Timeline(), fault_id="o1"):
        with build_fault("provider-5xx", params={"rate": 0.1}).applied(
                simulator, Timeline(), fault_id="o2"), ProviderControlClient(
                *simulator.provider_control("primary")) as ctl:
            assert set(ctl.faults()) == {"latency", "error"}
        with ProviderControlClient(*simulator.provider_control("primary")) as ctl:
            assert set(ctl.faults()) == {"latency"}


def test_heal_all_clears_the_simulator(simulator: ProviderStack) -> None:
    with ProviderControlClient(*simulator.provider_control("primary")) as ctl:
        ctl.set_fault("outage")
        what = heal_all(simulator)  # type: ignore[arg-type]
        assert ctl.faults() == {}
    assert "provider-primary: cleared outage" in what, what  # the one heal's wording
