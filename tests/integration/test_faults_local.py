"""Every fault family injected into the real local stack (three zones in network namespaces)
and reverted, with effect and recovery checked from outside: /proc, TCP from the edge and from
other zones, Redis INFO and Sentinel, Toxiproxy's API, the provider simulator.

Uses the session-wide ``local_stack`` (tests/conftest.py); after each test the fault layer's
``heal_all`` runs and the stack must be ready again, so tests do not leak into each other.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.errors import UnsupportedFault
from harness.faults import ToxiproxyClient, active_handles, build_fault, heal_all, load_records
from harness.faults.checks import main_endpoint, redis_client
from harness.faults.sentinel import current_master, replication_converged
from harness.simulators.control import ProviderControlClient
from harness.stack.local.procs import proc_state
from harness.timeline import Timeline
from harness.topology import ZONES

pytestmark = [pytest.mark.integration, pytest.mark.root]


@pytest.fixture
def stack(local_stack: Any) -> Iterator[Any]:
    """The session stack; healed by the fault layer and ready again after each test."""
    yield local_stack
    what = heal_all(local_stack, Timeline())
    assert not active_handles(), what
    local_stack.wait_ready(60.0)


def _role(stack: Any, name: str) -> str:
    client = redis_client(main_endpoint(stack.topology.service(name)))
    try:
        return str(client.execute_command("ROLE")[0])
    finally:
        client.close()


def _front_door_ok(stack: Any, n: int = 3) -> int:
    url = stack.topology.front_door.url + "/v1/answer"
    ok = 0
    with httpx.Client(timeout=10.0, headers={"X-API-Key": stack.topology.api_key}) as http:
        for i in range(n):
            with contextlib.suppress(httpx.HTTPError):
                ok += http.post(url, json={"question": f"what is a quorum? {i}"}).status_code \
                    == 200
    return ok


def _wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.1)


@pytest.mark.slow
def test_kill_app_replica_and_restart(stack: Any) -> None:
    tl = Timeline()
    old = stack.pid("app-az-a")
    with build_fault("kill", target="service=app-az-a").applied(stack, tl, fault_id="k1") as h:
        assert h.landed, h.detail
        assert proc_state(old) in (None, "Z")
        assert not stack.reachable("edge", main_endpoint(stack.topology.service("app-az-a")),
                                   timeout=0.5)
        assert _front_door_ok(stack) == 3  # HAProxy retries on the other replicas
    assert h.recovered, h.recover_detail
    assert stack.pid("app-az-a") not in (None, old)


def test_pause_sentinel_and_haproxy(stack: Any) -> None:
    with build_fault("pause", target="service=sentinel-az-c").applied(
            stack, Timeline(), fault_id="p1") as h:
        assert h.landed and "paused" in h.detail
        client = redis_client(main_endpoint(stack.topology.service("sentinel-az-c")), 0.3)
        with pytest.raises(Exception, match=r"[Tt]imeout"):
            client.ping()
        client.close()
    assert h.recovered, h.recover_detail
    with build_fault("pause", target="service=haproxy").applied(stack, Timeline(),
                                                                fault_id="p2") as h:
        assert h.landed
        with pytest.raises(httpx.TimeoutException):
            httpx.get(stack.topology.front_door.url + "/healthz", timeout=0.5)
    assert h.recovered and _front_door_ok(stack, 1) == 1


@pytest.mark.slow
def test_redis_master_kill_fails_over_and_rejoins_as_replica(stack: Any) -> None:
    tl = Timeline()
    old = current_master(stack)
    fault = build_fault("redis-master-loss")
    with fault.applied(stack, tl, fault_id="m1") as h:
        assert h.landed and h.services == (old,), h.detail
        _wait(lambda: current_master(stack) not in (None, old), 20, "Sentinel failover")
    assert h.recovered, h.recover_detail
    new = current_master(stack)
    assert new != old and _role(stack, old) == "slave"
    assert replication_converged(stack).ok


def test_kill_haproxy_itself(stack: Any) -> None:
    with build_fault("kill", target="service=haproxy").applied(stack, Timeline(),
                                                               fault_id="hk") as h:
        assert h.landed, h.detail
        assert not stack.reachable("edge", stack.topology.front_door, timeout=0.5)
    assert h.recovered, h.recover_detail
    assert _front_door_ok(stack, 2) == 2


@pytest.mark.slow
def test_kill_a_replica_restarts_after_the_delay(stack: Any) -> None:
    fault = build_fault("kill", target="role=redis-replica", params={"restart_after": "1s"})
    with fault.applied(stack, Timeline(), fault_id="rr") as h:
        assert h.landed and len(h.services) == 2, h.detail
        _wait(lambda: all(stack.is_running(n) for n in h.services), 15, "delayed restart")
        assert "restart_error" not in h.injection.data
    assert h.recovered, h.recover_detail


@pytest.mark.slow
def test_paused_master_comes_back_as_a_replica(stack: Any) -> None:
    old = current_master(stack)
    with build_fault("pause", target="role=redis-master").applied(stack, Timeline(),
                                                                  fault_id="pm") as h:
        assert h.landed and h.services == (old,), h.detail
        _wait(lambda: current_master(stack) not in (None, old), 20, "failover")
    assert h.recovered, h.recover_detail
    assert _role(stack, old) == "slave"


@pytest.mark.slow
def test_redis_master_isolation(stack: Any) -> None:
    old = current_master(stack)
    fault = build_fault("redis-master-loss", params={"mode": "isolate"})
    with fault.applied(stack, Timeline(), fault_id="mi") as h:
        assert h.landed and "unreachable" in h.detail, h.detail
        assert stack.is_running(old)
        _wait(lambda: current_master(stack) not in (None, old), 20, "failover")
    assert h.recovered, h.recover_detail
    assert _role(stack, old) == "slave"


@pytest.mark.slow
def test_zone_isolation_cuts_redis_from_the_edge(stack: Any) -> None:
    zone = "az-c"
    redis_ep = main_endpoint(stack.topology.service(f"redis-{zone}"))
    with build_fault("zone-isolate", target=f"zone={zone}").applied(
            stack, Timeline(), fault_id="z1") as h:
        assert h.landed, h.detail
        assert not stack.reachable("edge", redis_ep, timeout=0.5)
        assert not stack.reachable("az-a", redis_ep, timeout=0.5)
        assert stack.pid(f"redis-{zone}") is not None  # still running inside
        assert stack.reachable(zone, redis_ep, timeout=0.5)  # from inside the zone
        assert _front_door_ok(stack) == 3
    assert h.recovered, h.recover_detail
    check = replication_converged(stack)
    assert check.ok and check.detail.count("redis-az") >= 3, check.detail


@pytest.mark.slow
def test_zone_power_loss_of_the_master_zone(stack: Any) -> None:
    old = current_master(stack)
    zone = stack.topology.service(old).zone
    fault = build_fault("zone-power", target="role=redis-master")
    with fault.applied(stack, Timeline(), fault_id="zp") as h:
        assert h.landed, h.detail
        for svc in stack.topology.in_zone(zone):
            assert not stack.is_running(svc.name)
        _wait(lambda: current_master(stack) not in (None, old), 20, "failover")
        time.sleep(0.5)
        assert not stack.is_running(f"app-{zone}")  # nothing restarts by itself
    assert h.recovered, h.recover_detail
    assert _role(stack, old) == "slave"
    for svc in stack.topology.in_zone(zone):
        assert stack.is_running(svc.name)


@pytest.mark.slow
def test_partition_between_two_zones_spares_the_third(stack: Any) -> None:
    ep = {z: main_endpoint(stack.topology.service(f"redis-{z}")) for z in ZONES}
    fault = build_fault("partition", params={"a": "az-a", "b": "az-b"})
    with fault.applied(stack, Timeline(), fault_id="pt") as h:
        assert h.landed, h.detail
        assert not stack.reachable("az-a", ep["az-b"], timeout=0.5)
        assert not stack.reachable("az-b", ep["az-a"], timeout=0.5)
        assert stack.reachable("az-c", ep["az-a"], timeout=0.5)
        assert stack.reachable("edge", ep["az-b"], timeout=0.5)
    assert h.recovered, h.recover_detail
    assert stack.reachable("az-a", ep["az-b"], timeout=0.5)


def test_packet_loss_on_a_zone(stack: Any) -> None:
    with build_fault("packet-loss", params={"place": "az-b", "rate": 0.5}).applied(
            stack, Timeline(), fault_id="pl") as h:
        assert h.landed, h.detail
    assert h.recovered, h.recover_detail
    out = subprocess.run(["ip", "netns", "exec", stack.plan.netns("az-b"), "iptables", "-S"],
                         capture_output=True, text=True, check=True).stdout
    assert "statistic" not in out


def test_toxic_on_the_master_proxy_and_proxy_down(stack: Any) -> None:
    master = current_master(stack)
    with build_fault("latency", target="role=redis-master",
                     params={"latency_ms": 100, "jitter_ms": 10}).applied(
            stack, Timeline(), fault_id="tx") as h:
        assert h.landed and h.services == (master,), h.detail
    assert h.recovered
    with build_fault("proxy-down", params={"proxy": "provider-primary"}).applied(
            stack, Timeline(), fault_id="pd") as h:
        assert h.landed, h.detail
        assert _front_door_ok(stack) == 3  # the fallback provider answers
    assert h.recovered
    with ToxiproxyClient(stack.toxiproxy_url) as tp:
        assert all(p.enabled and not p.toxics for p in tp.proxies().values())


def test_provider_fault_through_the_stack(stack: Any) -> None:
    with build_fault("provider-5xx", params={"provider": "primary"}).applied(
            stack, Timeline(), fault_id="pv") as h:
        assert h.landed, h.detail
        assert _front_door_ok(stack) == 3
    assert h.recovered
    with ProviderControlClient(*stack.provider_control("primary")) as ctl:
        assert ctl.faults() == {}


def test_qdrant_node_loss_needs_a_cluster(stack: Any) -> None:
    fault = build_fault("qdrant-node-loss")
    if stack.topology.vector_mode == "cluster":
        with fault.applied(stack, Timeline(), fault_id="q") as h:
            assert h.landed, h.detail
        assert h.recovered, h.recover_detail
        return
    with pytest.raises(UnsupportedFault) as info:
        fault.check_supported(stack)
    assert info.value.capability == "QdrantCluster" and "embedded" in str(info.value)


@pytest.mark.slow
def test_heal_all_undoes_faults_left_injected(stack: Any) -> None:
    tl = Timeline()
    build_fault("pause", target="service=app-az-b").start(stack, tl, fault_id="l1")
    build_fault("partition", params={"a": "az-a", "b": "az-c"}).start(stack, tl, fault_id="l2")
    build_fault("timeout", params={"proxy": "redis-az-a"}).start(stack, tl, fault_id="l3")
    assert len(active_handles()) == 3
    what = heal_all(stack, tl)
    assert not active_handles()
    assert sum("reverted" in w for w in what) == 3, what
    assert proc_state(stack.pid("app-az-b")) != "T"
    assert stack.reachable("az-a", main_endpoint(stack.topology.service("redis-az-c")), 0.5)
    with ToxiproxyClient(stack.toxiproxy_url) as tp:
        assert tp.toxics("redis-az-a") == ()
    assert [e.kind for e in tl.events].count("fault.reverted") == 3
    assert tl.events_of("heal")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_inject_leaves_it_for_heal(stack: Any) -> None:
    run_id = stack.topology.run_id
    res = _cli("fault", "inject", "pause", "--target", "service=sentinel-az-b", "--run-id",
               run_id, "--id", "cli1", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["landed"] is True and out["services"] == ["sentinel-az-b"]
    assert proc_state(stack.pid("sentinel-az-b")) == "T"
    assert [r["id"] for r in load_records(stack)] == ["cli1"]
    res = _cli("heal", "--run-id", run_id, "--json")
    assert res.returncode == 0, res.stderr + res.stdout
    assert proc_state(stack.pid("sentinel-az-b")) != "T"
    assert load_records(stack) == []
    events = (stack.state_dir / "faults" / "events.jsonl").read_text().splitlines()
    kinds = [json.loads(e)["kind"] for e in events]
    assert kinds[-5:] == ["fault.inject", "fault.verified", "fault.revert", "fault.reverted",
                          "heal"]


@pytest.mark.slow
def test_cli_inject_for_a_duration(stack: Any) -> None:
    res = _cli("fault", "inject", "kill", "--target", "service=app-az-c", "--for", "500ms",
               "--run-id", stack.topology.run_id)
    assert res.returncode == 0, res.stderr + res.stdout
    assert "LANDED" in res.stdout and "RECOVERED" in res.stdout
    assert stack.is_running("app-az-c")
