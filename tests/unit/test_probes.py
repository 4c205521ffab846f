"""Observers' logic: change-only states, resilient polling, parsers, and HTTP/socket observers
against small servers started in the test (no stack)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness.probes import (
    AppObserver,
    HAProxyObserver,
    Observers,
    Poller,
    ProviderObserver,
    QdrantObserver,
    StateRecorder,
    parse_sentinel_message,
    qdrant_shard_states,
    server_healthy,
)
from harness.stack.haproxy_api import show_stat_rows
from harness.timeline import Timeline
from harness.topology import Endpoint, Kind, Service, Topology


def _states(tl: Timeline, prefix: str = "") -> list[tuple[str, str, bool]]:
    return [(e.get("subject"), e.get("state"), e.get("healthy")) for e in tl.events_of("obs.state")
            if str(e.get("subject")).startswith(prefix)]


def test_public_api_is_pinned() -> None:
    import harness.probes as probes

    assert "Observers" in probes.__all__ and "StateRecorder" in probes.__all__


def test_state_recorder_writes_only_changes() -> None:
    tl = Timeline()
    rec = StateRecorder(tl, "test")
    assert rec.state("haproxy/app/app-az-a", "UP", True)
    assert not rec.state("haproxy/app/app-az-a", "UP", True, detail="ignored: same state")
    assert rec.state("haproxy/app/app-az-a", "DOWN", False)
    rec.event("sentinel/mymaster", "+switch-master", detail="x")
    assert _states(tl) == [("haproxy/app/app-az-a", "UP", True),
                           ("haproxy/app/app-az-a", "DOWN", False)]
    (ev,) = tl.events_of("obs.event")
    assert ev.get("event") == "+switch-master" and ev.source == "test"
    assert {e.get("signal") for e in tl.events_of("obs.state")} == {"stack"}
    assert rec.current("haproxy/app/app-az-a") == ("DOWN", False)


def test_a_failing_poll_marks_the_observer_unhealthy_and_polling_goes_on() -> None:
    tl = Timeline()
    rec = StateRecorder(tl, "test")
    calls = {"n": 0}

    def poll() -> None:
        calls["n"] += 1
        if 3 <= calls["n"] <= 6:
            raise ValueError("garbled answer")

    stop = threading.Event()
    p = Poller("thing", poll, rec, interval_s=0.01, stop=stop)
    p.start()
    deadline = time.monotonic() + 5
    while calls["n"] < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    assert p.join(2.0)
    assert calls["n"] >= 10 and p.failures == 4
    assert _states(tl, "observer/") == [("observer/thing", "failing: ValueError", False),
                                        ("observer/thing", "ok", True)]


SHOW_STAT = """# pxname,svname,qcur,status,check_status,last_chk,
front,FRONTEND,0,OPEN,,,
app,app-az-a,0,{a},L7OK,200,
app,app-az-b,0,UP,L7OK,200,
app,BACKEND,0,UP,,,
stats,FRONTEND,0,OPEN,,,
"""


def test_show_stat_parsing_and_health() -> None:
    rows = show_stat_rows(SHOW_STAT.format(a="DOWN"))
    assert [r["svname"] for r in rows][:3] == ["FRONTEND", "app-az-a", "app-az-b"]
    assert rows[1]["status"] == "DOWN"
    with pytest.raises(ValueError):
        show_stat_rows("Unknown command")
    assert server_healthy("UP") and server_healthy("UP 1/2") and server_healthy("no check")
    assert not server_healthy("DOWN") and not server_healthy("DOWN 1/2")
    assert not server_healthy("MAINT")


@pytest.fixture
def stats_socket(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A UNIX socket answering 'show stat' like HAProxy's runtime API."""
    path = str(tmp_path / "haproxy.sock")
    state = {"a": "UP"}
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    srv.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                cmd = conn.recv(1024)
                if cmd.strip() == b"show stat":
                    conn.sendall(SHOW_STAT.format(a=state["a"]).encode())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield path, state
    stop.set()
    t.join(2)
    srv.close()


def test_haproxy_observer_sees_a_server_go_down_and_up(
        stats_socket: tuple[str, dict[str, str]]) -> None:
    path, state = stats_socket
    tl = Timeline()
    obs = HAProxyObserver(path, StateRecorder(tl, "obs"))
    obs.poll()
    state["a"] = "DOWN"
    obs.poll()
    obs.poll()
    state["a"] = "UP 1/2"
    obs.poll()
    assert _states(tl, "haproxy/app/app-az-a") == [
        ("haproxy/app/app-az-a", "UP", True), ("haproxy/app/app-az-a", "DOWN", False),
        ("haproxy/app/app-az-a", "UP 1/2", True)]
    assert ("haproxy/app", "UP", True) in _states(tl)
    assert not any(s.startswith("haproxy/stats") or s.startswith("haproxy/front/")
                   for s, _, _ in _states(tl))
    gone = HAProxyObserver(path + ".missing", StateRecorder(tl, "obs"))
    gone.poll()
    assert _states(tl)[-1] == ("haproxy", "unreachable", False)
    # the harness's own probe failing is not the stack noticing anything
    assert tl.events_of("obs.state")[-1].get("signal") == "probe"
    assert tl.events_of("obs.state")[1].get("signal") == "stack"  # HAProxy's verdict


def test_sentinel_message_subjects() -> None:
    names = {"10.0.0.2:6379": "redis-az-b", "10.0.0.3:6379": "redis-az-c",
             "10.0.0.1:26379": "sentinel-az-a"}
    m = "mymaster"
    assert parse_sentinel_message("+sdown", "master mymaster 10.0.0.2 6379", names, m) == \
        "sentinel/mymaster/redis-az-b"
    assert parse_sentinel_message(
        "+sdown", "slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.2 6379", names, m) == \
        "sentinel/mymaster/redis-az-c"
    assert parse_sentinel_message(
        "+switch-master", "mymaster 10.0.0.2 6379 10.0.0.3 6379", names, m) == \
        "sentinel/mymaster/redis-az-c"
    assert parse_sentinel_message(
        "+sdown", "sentinel 1f2e 10.0.0.1 26379 @ mymaster 10.0.0.2 6379", names, m) == \
        "sentinel/mymaster/sentinel-az-a"
    assert parse_sentinel_message("+tilt", "#tilt mode entered", names, m) == "sentinel/mymaster"
    assert parse_sentinel_message("+sdown", "master other 9.9.9.9 1", names, m) == \
        "sentinel/other/9.9.9.9:1"


def test_qdrant_shard_states() -> None:
    body = {"result": {"peer_id": 1, "local_shards": [{"shard_id": 0, "state": "Active"}],
                       "remote_shards": [{"shard_id": 0, "peer_id": 2, "state": "Dead"},
                                         {"shard_id": 1, "peer_id": 3, "state": "Partial"}]}}
    assert qdrant_shard_states("qdrant-az-a", body) == [
        ("qdrant/qdrant-az-a/shard/0", "Active"), ("qdrant/qdrant-az-a/shard/0/peer/2", "Dead"),
        ("qdrant/qdrant-az-a/shard/1/peer/3", "Partial")]


class _Readyz(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    body: ClassVar[dict[str, Any]] = {}
    status: ClassVar[int] = 200

    def do_GET(self) -> None:
        data = json.dumps(type(self).body).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def readyz_server() -> Iterator[tuple[str, type[_Readyz]]]:
    handler = type("H", (_Readyz,), {"body": {"ready": True, "breakers": {
        "primary": "closed", "fallback": "closed", "cache": "disabled"}}, "status": 200})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", handler
    srv.shutdown()
    srv.server_close()
    t.join(2)


def test_app_observer_readiness_and_breakers(readyz_server: tuple[str, type[_Readyz]]) -> None:
    url, handler = readyz_server
    tl = Timeline()
    obs = AppObserver("app-az-a", url, StateRecorder(tl, "obs"))
    try:
        obs.poll()
        handler.status = 503
        handler.body = {"ready": False, "breakers": {"primary": "open", "fallback": "half_open",
                                                     "cache": "disabled"}}
        obs.poll()
    finally:
        obs.close()
    assert _states(tl) == [
        ("app/app-az-a", "ready", True), ("breaker/app-az-a/primary", "closed", True),
        ("breaker/app-az-a/fallback", "closed", True), ("breaker/app-az-a/cache", "disabled", True),
        ("app/app-az-a", "not-ready", False), ("breaker/app-az-a/primary", "open", False),
        ("breaker/app-az-a/fallback", "half_open", False)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    dead = AppObserver("app-az-b", f"http://127.0.0.1:{free}", StateRecorder(tl, "obs"))
    dead.poll()
    dead.close()
    assert _states(tl)[-1] == ("app/app-az-b", "unreachable", False)
    assert tl.events_of("obs.state")[-1].get("signal") == "probe"


class _FakeControl:
    """Pure-logic stand-in for ProviderControlClient."""

    def __init__(self) -> None:
        self.active: dict[str, dict[str, Any]] = {}
        self.counts = {"requests": 0, "ok": 0}
        self.closed = False

    def faults(self) -> dict[str, dict[str, Any]]:
        return dict(self.active)

    def counters(self) -> dict[str, int]:
        return dict(self.counts)

    def close(self) -> None:
        self.closed = True


def test_qdrant_observer_against_a_fake_node() -> None:
    bodies = {"/cluster": {"result": {"peers": {"1": {}, "2": {}, "3": {}},
                                      "raft_info": {"leader": 1, "term": 3}}},
              "/collections/docs/cluster": {"result": {
                  "local_shards": [{"shard_id": 0, "state": "Active"}],
                  "remote_shards": [{"shard_id": 0, "peer_id": 2, "state": "Dead"}]}}}

    class H(_Readyz):
        def do_GET(self) -> None:
            data = json.dumps(bodies[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    tl = Timeline()
    obs = QdrantObserver("qdrant-az-a", f"http://127.0.0.1:{srv.server_address[1]}", "docs",
                         StateRecorder(tl, "obs"))
    try:
        obs.poll()
    finally:
        obs.close()
        srv.shutdown()
        srv.server_close()
        t.join(2)
    assert _states(tl) == [("qdrant/qdrant-az-a", "reachable", True),
                           ("qdrant/qdrant-az-a/raft", "peers=3 leader=yes", True),
                           ("qdrant/qdrant-az-a/shard/0", "Active", True),
                           ("qdrant/qdrant-az-a/shard/0/peer/2", "Dead", False)]


def test_provider_observer_faults_and_counters() -> None:
    tl = Timeline()
    ctl = _FakeControl()
    obs = ProviderObserver("primary", ctl, StateRecorder(tl, "obs"), counters_every_s=0.0)
    obs.poll()
    ctl.active = {"error": {"status": 500, "rate": 1.0}}
    ctl.counts = {"requests": 3, "ok": 1}
    obs.poll()
    obs.poll()  # unchanged counters: no new event
    assert obs.final() == {"requests": 3, "ok": 1}
    assert _states(tl) == [("provider/primary", "no-faults", True),
                           ("provider/primary", "faults: error", False)]
    counters = [e.get("counters") for e in tl.events_of("obs.event")]
    assert counters == [{"requests": 0, "ok": 0}, {"requests": 3, "ok": 1},
                        {"requests": 3, "ok": 1}]


def _topology(app_url: str) -> Topology:
    host, port = app_url.removeprefix("http://").split(":")
    return Topology(run_id="t", substrate="fake", front_door=Endpoint(host="127.0.0.1", port=1),
                    api_key="k", vector_mode="embedded", zone_isolation=False, services=(
                        Service(name="app-az-a", kind=Kind.APP, zone="az-a", endpoints={
                            "main": Endpoint(host=host, port=int(port), scheme="http")}),))


class _FakeStack:
    def __init__(self, topology: Topology, sock: str | None) -> None:
        self.topology = topology
        self.haproxy_socket = sock


def test_observers_run_every_supported_part_and_stop_cleanly(
        readyz_server: tuple[str, type[_Readyz]],
        stats_socket: tuple[str, dict[str, str]]) -> None:
    url, _ = readyz_server
    path, state = stats_socket
    tl = Timeline()
    with Observers(_FakeStack(_topology(url), path), tl, interval_s=0.02) as obs:
        time.sleep(0.3)
        state["a"] = "DOWN"
        time.sleep(0.3)
        assert obs.subjects()["haproxy/app/app-az-a"] == ("DOWN", False)
    # every observer thread joined (other threads, e.g. the test server's handlers, may come
    # and go on their own schedule, so counting all threads was flaky)
    assert [t.name for t in threading.enumerate() if t.name.startswith("observer-")] == []
    subjects = {s for s, _, _ in _states(tl)}
    assert {"app/app-az-a", "haproxy/app/app-az-a", "breaker/app-az-a/primary"} <= subjects
    assert all(n > 3 for n in obs.polls().values())
    assert tl.events_of("note")[0].get("observers") == ["app-app-az-a", "haproxy"]


def test_observers_record_a_part_that_cannot_start() -> None:
    class Broken:
        haproxy_socket = None

        @property
        def topology(self) -> Topology:
            raise RuntimeError("no topology yet")

    tl = Timeline()
    with Observers(Broken(), tl, interval_s=0.05):
        pass
    states = _states(tl, "observer/")
    assert ("observer/sentinel", "failing: RuntimeError", False) in states
    assert ("observer/apps", "failing: RuntimeError", False) in states
    assert any("no haproxy_socket" in str(e.get("text")) for e in tl.events_of("note"))


def test_runtime_api_over_tcp() -> None:
    from harness.probes.haproxy import runtime_command

    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            if conn.recv(1024).strip() == b"show stat":
                conn.sendall(SHOW_STAT.format(a="MAINT").encode())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    tl = Timeline()
    try:
        HAProxyObserver(f"tcp://127.0.0.1:{port}", StateRecorder(tl, "obs")).poll()
    finally:
        t.join(2)
        srv.close()
    assert ("haproxy/app/app-az-a", "MAINT", False) in _states(tl)
    with pytest.raises(OSError):
        runtime_command(f"tcp://127.0.0.1:{port}", "show stat", timeout=0.5)


def test_provider_observer_unreachable_simulator_is_a_probe_state() -> None:
    from harness.simulators.control import ProviderControlClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    tl = Timeline()
    obs = ProviderObserver("fallback", ProviderControlClient(f"http://127.0.0.1:{free}", "t",
                                                             timeout=0.5),
                           StateRecorder(tl, "obs"))
    obs.poll()
    assert obs.final() is None
    obs.close()
    (ev,) = tl.events_of("obs.state")
    assert (ev.get("subject"), ev.get("state"), ev.get("healthy"), ev.get("signal")) == (
        "provider/fallback", "unreachable", False, "probe")
    assert ev.get("detail") == "ConnectError"
