"""Lifecycle of local stacks: CLI up/status/down, no leaks after SIGKILL/SIGTERM of the harness,
readiness failures, and the loopback fallback. Each test starts its own stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from harness.stack.local.record import RunStore
from harness.stack.local.verify import leftovers

pytestmark = [pytest.mark.integration]

CLI = [sys.executable, "-m", "harness"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def need(stack_skip_reason, remember_run_key):
    """need(netns=True, key=...) skips when no stack can run here, and registers the key."""
    def check(key: str, *, netns: bool = True) -> str:
        reason = stack_skip_reason(need_netns=netns)
        if reason:
            pytest.skip(reason)
        remember_run_key(key)
        return key
    return check


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def _wait_record(key: str, *, procs: int, timeout: float = 30.0) -> None:
    store = RunStore()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = store.load(key)
        if rec and sum(1 for p in rec.procs.values() if p.get("pid")) >= procs:
            return
        time.sleep(0.05)
    raise AssertionError(f"run {key} never got {procs} processes")


@pytest.mark.slow
@pytest.mark.root
def test_cli_up_status_down_leaves_nothing(need) -> None:
    key = need(f"t{os.getpid() % 10000:04d}a")
    up = _cli("up", "--json", "--run-id", key, "--set", "haproxy.retries=2")
    assert up.returncode == 0, up.stderr
    data = json.loads(up.stdout)
    assert data["run_id"] == key and data["healthy"] and data["zone_isolation"]
    status = _cli("status", "--json", "--run-id", key)
    assert status.returncode == 0, status.stderr
    again = json.loads(status.stdout)
    assert {s["name"]: s["pid"] for s in again["services"]} == {
        s["name"]: s["pid"] for s in data["services"]}
    resp = httpx.post(data["front_door"] + "/v1/answer", json={"question": "What is RTO?"},
                      headers={"X-API-Key": data["api_key"]}, timeout=10)
    assert resp.status_code == 200
    hap = Path(data["state_dir"], "haproxy.cfg").read_text()
    assert "retries 2" in hap
    down = _cli("down", "--run-id", key)
    assert down.returncode == 0, down.stdout + down.stderr
    assert leftovers(key) == []
    assert not Path(data["state_dir"]).exists() and RunStore().load(key) is None


@pytest.mark.root
def test_sigkilled_up_is_reaped_by_next_down(need) -> None:
    key = need(f"t{os.getpid() % 10000:04d}b")
    proc = subprocess.Popen([*CLI, "up", "--run-id", key], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_record(key, procs=8)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert leftovers(key), "expected the killed harness to have left a running stack"
    assert RunStore().load(key).stale
    down = _cli("down", "--run-id", key)
    assert down.returncode == 0, down.stdout + down.stderr
    assert leftovers(key) == [] and RunStore().load(key) is None


@pytest.mark.root
def test_sigterm_during_start_tears_down(need) -> None:
    key = need(f"t{os.getpid() % 10000:04d}c")
    proc = subprocess.Popen([*CLI, "up", "--run-id", key], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_record(key, procs=6)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert leftovers(key) == [] and RunStore().load(key) is None


_OPEN_AND_WAIT = textwrap.dedent("""
    import sys, time
    from harness.stack import open_stack
    with open_stack(run_id=sys.argv[1], ready_timeout=90) as stack:
        print("READY", flush=True)
        time.sleep(600)
""")


@pytest.mark.slow
@pytest.mark.root
def test_sigkilled_open_stack_is_reaped_by_next_up(need) -> None:
    key = need(f"t{os.getpid() % 10000:04d}d")
    proc = subprocess.Popen([sys.executable, "-c", _OPEN_AND_WAIT, key], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == "READY", proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    assert leftovers(key) and RunStore().load(key).stale
    # The next 'up' reaps the stale run first. This one is told to give up on readiness after
    # 0.3 s, which also exercises the failure path: a StackError with log lines, nothing left.
    other = need(f"t{os.getpid() % 10000:04d}e")
    up = _cli("up", "--run-id", other, "--timeout", "0.3")
    assert up.returncode == 4, up.stdout + up.stderr
    assert "not ready after 0.3 s" in up.stderr
    assert leftovers(key) == [] and leftovers(other) == []
    assert RunStore().load(key) is None and RunStore().load(other) is None


@pytest.mark.slow
def test_loopback_fallback(need, monkeypatch: pytest.MonkeyPatch) -> None:
    key = need(f"t{os.getpid() % 10000:04d}f", netns=False)
    monkeypatch.setenv("CHAOS_HARNESS_NO_NETNS", "1")
    from harness.stack import NetworkFaults, ZoneIsolatable, open_stack

    with open_stack(run_id=key, ready_timeout=90) as stack:
        assert not stack.topology.zone_isolation
        assert not isinstance(stack, ZoneIsolatable) and not isinstance(stack, NetworkFaults)
        assert stack.topology.front_door.host.startswith("127.0.")
        status = stack.status()
        assert status.healthy and any("loopback" in n for n in status.notes)
        seen = set()
        with httpx.Client(headers={"X-API-Key": stack.topology.api_key}, timeout=10) as http:
            for i in range(9):
                r = http.post(stack.topology.front_door.url + "/v1/answer",
                              json={"question": f"How are backups tested? {i}"})
                assert r.status_code == 200
                seen.add(r.headers["x-replica"])
        assert seen == {"app-az-a", "app-az-b", "app-az-c"}
        assert stack.roles("redis-master") == ["redis-az-a"]
        stack.kill("redis-az-b")
        assert stack.undo_substrate_faults() == ["restarted redis-az-b"]
    assert leftovers(key) == []


def _cache_clients(stack) -> set[str]:
    """Source hosts of the app replicas' cache connections on the Redis master."""
    from harness.stack.local import clients

    [master] = stack.roles("redis-master")
    ep = stack.topology.service(master).endpoint()
    client = clients.redis_client(ep.host, ep.port)
    try:
        listing = client.client_list()
    finally:
        client.close()
    return {c["addr"].rsplit(":", 1)[0] for c in listing
            if c.get("cmd") in ("get", "set", "setex", "ping", "sadd", "expire", "eval")
            and not c.get("name")
            and "S" not in c.get("flags", "")}


def test_cache_traffic_goes_direct_by_default(local_stack) -> None:
    with httpx.Client(headers={"X-API-Key": local_stack.topology.api_key}, timeout=10) as h:
        for i in range(6):
            h.post(local_stack.topology.front_door.url + "/v1/answer",
                   json={"question": f"direct {i}"})
    sources = _cache_clients(local_stack)
    assert sources and local_stack.plan.ip("edge") not in sources


@pytest.mark.slow
@pytest.mark.root
def test_redis_via_toxiproxy_routes_cache_traffic_through_the_proxies(need) -> None:
    key = need(f"t{os.getpid() % 10000:04d}g")
    from harness.stack import open_stack

    with open_stack(run_id=key, knobs={"app.redis_via_toxiproxy": True},
                    ready_timeout=90) as stack:
        with httpx.Client(headers={"X-API-Key": stack.topology.api_key}, timeout=10) as http:
            for i in range(6):
                r = http.post(stack.topology.front_door.url + "/v1/answer",
                              json={"question": f"via proxy {i % 2}"})
                assert r.status_code == 200
        # Sentinel handed out the real master address; the app remapped it to Toxiproxy.
        assert _cache_clients(stack) == {stack.plan.ip("edge")}
    assert leftovers(key) == []
