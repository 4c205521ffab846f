"""Toxiproxy faults against a real toxiproxy-server (standalone, loopback) in front of a tiny
echo server: the client's API, every toxic injected, verified by the API, measured from
outside where the effect is cheap to see (latency, proxy down), and reverted."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.errors import FaultError
from harness.faults import Toxic, ToxiproxyClient, ToxiproxyError, build_fault, heal_all
from harness.faults.checks import tcp_open
from harness.stack.base import Proxied
from harness.timeline import Timeline
from harness.topology import Endpoint, Kind, Service, Topology

pytestmark = pytest.mark.integration

TOXIPROXY = shutil.which("toxiproxy-server") or "/usr/local/bin/toxiproxy-server"


def _free_port(lo: int = 17000, hi: int = 19999) -> int:
    """A free loopback port outside the ephemeral range (32768-60999)."""
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


@contextlib.contextmanager
def echo_server() -> Iterator[int]:
    """A threaded TCP echo server on loopback."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", _free_port()))
    srv.listen(64)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                while data := conn.recv(65536):
                    conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        srv.close()


@pytest.fixture(scope="module")
def toxiproxy() -> Iterator[str]:
    if not Path(TOXIPROXY).exists():
        pytest.skip("toxiproxy-server not installed: run scripts/setup.sh")
    port = _free_port()
    proc = subprocess.Popen([TOXIPROXY, "-host", "127.0.0.1", "-port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while not tcp_open(Endpoint(host="127.0.0.1", port=port), 0.2):
            assert proc.poll() is None and time.monotonic() < deadline, "toxiproxy did not start"
            time.sleep(0.02)
        yield url
    finally:
        proc.terminate()
        proc.wait(5)


class ProxiedStack:
    """Just enough of a Stack + Proxied: one proxy 'echo' in front of the echo server."""

    name = "fake"

    def __init__(self, url: str, listen_port: int, state_dir: Path) -> None:
        self.toxiproxy_url = url
        self.state_dir = state_dir
        self.knobs: dict[str, Any] = {}
        self.listen = Endpoint(host="127.0.0.1", port=listen_port)
        self.topology = Topology(
            run_id="tp", substrate="fake", front_door=Endpoint(host="127.0.0.1", port=1),
            api_key="k", vector_mode="embedded", zone_isolation=False,
            services=(Service(name="echo", kind=Kind.PROVIDER, zone="external",
                              endpoints={"main": self.listen}),))

    def proxies(self) -> Mapping[str, str]:
        return {"echo": "echo"}

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


@pytest.fixture
def stack(toxiproxy: str, tmp_path: Path) -> Iterator[ProxiedStack]:
    with echo_server() as upstream, ToxiproxyClient(toxiproxy) as tp:
        listen = _free_port()
        tp.create_proxy("echo", listen=f"127.0.0.1:{listen}", upstream=f"127.0.0.1:{upstream}")
        try:
            yield ProxiedStack(toxiproxy, listen, tmp_path)
        finally:
            tp.delete_proxy("echo")


def _round_trip_s(ep: Endpoint, payload: bytes = b"ping", timeout: float = 5.0) -> float:
    t0 = time.monotonic()
    with socket.create_connection((ep.host, ep.port), timeout=timeout) as s:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            got += chunk
    return time.monotonic() - t0


def test_client_api_surfaces_errors(stack: ProxiedStack) -> None:
    with ToxiproxyClient(stack.toxiproxy_url) as tp:
        assert tp.version()
        assert "echo" in tp.proxies()
        t = tp.add_toxic("echo", Toxic(name="t1", type="latency",
                                       attributes={"latency": 10, "jitter": 0}))
        assert t.attributes["latency"] == 10
        with pytest.raises(ToxiproxyError) as info:  # toxiproxy-python would swallow this
            tp.add_toxic("echo", Toxic(name="t1", type="latency", attributes={"latency": 1}))
        assert info.value.status == 409
        updated = tp.update_toxic("echo", "t1", attributes={"latency": 40}, toxicity=0.5)
        assert updated.attributes["latency"] == 40 and updated.toxicity == 0.5
        assert tp.remove_toxic("echo", "t1") is True
        assert tp.remove_toxic("echo", "t1") is False  # missing is fine
        with pytest.raises(ToxiproxyError, match="404"):
            tp.toxics("no-such-proxy")
    port = _free_port()
    t0 = time.monotonic()
    with pytest.raises(ToxiproxyError, match="did not answer"), ToxiproxyClient(
            f"http://127.0.0.1:{port}", timeout=0.5) as dead:
        dead.reset()
    assert time.monotonic() - t0 < 2


TOXICS = [
    ("latency", {"latency_ms": "300", "jitter_ms": "10"}),
    ("bandwidth", {"rate_kbps": "5"}),
    ("timeout", {"timeout_ms": "0"}),
    ("reset-peer", {"timeout_ms": "10"}),
    ("slow-close", {"delay_ms": "100"}),
    ("slicer", {"average_size": "4", "size_variation": "1", "delay_us": "100"}),
    ("limit-data", {"bytes": "100", "stream": "upstream", "toxicity": "0.5"}),
]


@pytest.mark.parametrize(("name", "params"), TOXICS, ids=[t[0] for t in TOXICS])
def test_every_toxic_lands_and_reverts(stack: ProxiedStack, name: str,
                                      params: dict[str, str]) -> None:
    tl = Timeline()
    fault = build_fault(name, params={"proxy": "echo", **params})
    with fault.applied(stack, tl, fault_id=f"t-{name}") as h:
        assert h.landed, h.detail
        assert "Toxiproxy lists" in h.detail
        with ToxiproxyClient(stack.toxiproxy_url) as tp:
            (toxic,) = tp.toxics("echo")
        assert toxic.name == f"chaos-t-{name}"
    assert h.recovered, h.recover_detail
    fault.revert(stack, h.injection)  # reverting again (e.g. from `heal`) is harmless
    with ToxiproxyClient(stack.toxiproxy_url) as tp:
        assert tp.toxics("echo") == ()
    assert [e.kind for e in tl.events] == ["fault.inject", "fault.verified", "fault.revert",
                                           "fault.reverted"]


def test_latency_is_felt_from_outside(stack: ProxiedStack) -> None:
    base = _round_trip_s(stack.listen)
    fault = build_fault("latency", target="service=echo", params={"latency_ms": 200})
    with fault.applied(stack, Timeline(), fault_id="lat") as h:
        assert h.services == ("echo",)
        slowed = _round_trip_s(stack.listen)
    after = _round_trip_s(stack.listen)
    assert slowed >= 0.2 > base and after < 0.2, (base, slowed, after)


def test_proxy_down_refuses_then_accepts(stack: ProxiedStack) -> None:
    with build_fault("proxy-down", params={"proxy": "echo"}).applied(
            stack, Timeline(), fault_id="down") as h:
        assert h.landed and "refuses" in h.detail
        assert not tcp_open(stack.listen, 0.3)
    assert h.recovered and tcp_open(stack.listen, 0.5)
    assert _round_trip_s(stack.listen) < 1


def test_unknown_proxy_is_a_fault_error(stack: ProxiedStack) -> None:
    with pytest.raises(FaultError, match="no proxy 'redis-az-q'"):
        build_fault("latency", params={"proxy": "redis-az-q"}).start(stack, Timeline(),
                                                                     fault_id="x")


def test_heal_all_resets_toxiproxy(stack: ProxiedStack) -> None:
    with ToxiproxyClient(stack.toxiproxy_url) as tp:
        tp.add_toxic("echo", Toxic(name="stray", type="timeout", attributes={"timeout": 0}))
        tp.set_enabled("echo", False)
        tl = Timeline()
        what = heal_all(stack, tl)  # type: ignore[arg-type]
        assert tp.toxics("echo") == () and tp.proxy("echo").enabled
    assert any("toxiproxy reset" in w for w in what)
    assert tl.events_of("heal")[0].get("what") == what


def test_proxied_protocol_is_satisfied(stack: ProxiedStack) -> None:
    assert isinstance(stack, Proxied)
