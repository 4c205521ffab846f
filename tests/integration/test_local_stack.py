"""The local three-zone stack, for real: namespaces, HAProxy, Sentinel, Toxiproxy, app replicas.

Uses the session-wide ``local_stack`` (see tests/conftest.py); faults are healed after each
test through ``healed_stack``.
"""

from __future__ import annotations

import signal
import subprocess
import time

import httpx
import pytest

from harness.stack import (
    Killable,
    NetworkFaults,
    Pausable,
    ProviderControl,
    Proxied,
    QdrantCluster,
    Stack,
    ZoneIsolatable,
)
from harness.stack.local import clients
from harness.stack.local.plan import SENTINEL_PORT
from harness.topology import ZONES, Kind

pytestmark = [pytest.mark.integration, pytest.mark.root]

REPLICAS = {f"app-{z}" for z in ZONES}


def _answers(stack, n: int) -> list[httpx.Response]:
    url = stack.topology.front_door.url + "/v1/answer"
    with httpx.Client(timeout=10.0, headers={"X-API-Key": stack.topology.api_key}) as http:
        return [http.post(url, json={"question": f"How does Redis failover work? {i}"})
                for i in range(n)]


def test_front_door_answers_from_all_three_replicas(local_stack) -> None:
    responses = _answers(local_stack, 9)
    assert [r.status_code for r in responses] == [200] * 9
    assert {r.headers["x-replica"] for r in responses} == REPLICAS
    body = responses[0].json()
    assert body["replica"] in REPLICAS and body["answer"]
    assert {r.headers["x-provider"] for r in responses} <= {"primary", "fallback", "cache"}


def test_sentinel_quorum_and_replica_links(local_stack) -> None:
    plan = local_stack.plan
    for zone in ZONES:
        assert clients.redis_call(plan.ip(zone), SENTINEL_PORT, "SENTINEL", "CKQUORUM",
                                  "mymaster").startswith("OK")
    [master] = local_stack.roles("redis-master")
    ep = local_stack.topology.service(master).endpoint()
    info = clients.redis_call(ep.host, ep.port, "INFO", "replication")
    assert info["role"] == "master" and info["connected_slaves"] == 2
    for name in local_stack.roles("redis-replica"):
        rep = local_stack.topology.service(name).endpoint()
        rinfo = clients.redis_call(rep.host, rep.port, "INFO", "replication")
        assert rinfo["role"] == "slave" and rinfo["master_link_status"] == "up"
        assert rinfo["master_host"] == ep.host


def test_capabilities_and_names(local_stack) -> None:
    for proto in (Stack, Killable, Pausable, ZoneIsolatable, NetworkFaults, Proxied,
                  ProviderControl):
        assert isinstance(local_stack, proto), proto.__name__
    assert isinstance(local_stack, QdrantCluster) == (
        local_stack.topology.vector_mode == "cluster")
    key = local_stack.record.key
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for suffix in "abcx":
        assert f"ch-{key}-{suffix}" in ns
        routes = subprocess.run(["ip", "-n", f"ch-{key}-{suffix}", "route"],
                                capture_output=True, text=True, check=True).stdout
        assert "default" not in routes and local_stack.plan.subnet in routes
    assert all(len(link) <= 15 and key in link for link in local_stack.plan.links)
    assert set(local_stack.proxies()) == {"provider-primary", "provider-fallback", "redis-az-a",
                                          "redis-az-b", "redis-az-c"} | (
        {"qdrant"} if local_stack.topology.vector_mode == "cluster" else set())


def test_status_lists_every_service(local_stack) -> None:
    status = local_stack.status()
    data = status.to_json()
    assert data["healthy"] and data["front_door"] == local_stack.topology.front_door.url
    assert data["api_key"] == local_stack.topology.api_key and data["zone_isolation"]
    names = {s["name"] for s in data["services"]}
    assert names == {s.name for s in local_stack.topology.services}
    roles = {s["name"]: s["role"] for s in data["services"]}
    assert sorted(v for k, v in roles.items() if k.startswith("redis-")) == [
        "master", "replica", "replica"]
    assert all(s["pid"] and s["health"] == "up" for s in data["services"])
    if data["vector_mode"] == "embedded":
        assert any("qdrant" in n for n in data["notes"])


def test_kill_start_pause_resume(healed_stack) -> None:
    stack = healed_stack
    pid = stack.pid("app-az-b")
    stack.kill("app-az-b")
    assert not stack.is_running("app-az-b") and stack.pid("app-az-b") is None
    responses = _answers(stack, 6)  # HAProxy retries/redispatches around the dead replica
    assert all(r.status_code == 200 for r in responses), [
        (r.status_code, r.headers.get("x-replica"), r.text[:200]) for r in responses]
    stack.start("app-az-b")
    assert stack.is_running("app-az-b") and stack.pid("app-az-b") != pid
    stack.pause("redis-az-c")
    assert stack.is_paused("redis-az-c")
    stack.resume("redis-az-c")
    assert not stack.is_paused("redis-az-c")


def test_zone_isolation_and_partition(healed_stack) -> None:
    stack = healed_stack
    app_c = stack.topology.service("app-az-c").endpoint()
    redis_b = stack.topology.service("redis-az-b").endpoint()
    assert stack.reachable("edge", app_c) and stack.reachable("az-a", redis_b)
    stack.isolate_zone("az-c")
    assert stack.is_isolated("az-c") and not stack.reachable("edge", app_c, 0.5)
    stack.rejoin_zone("az-c")
    # a connect may need one SYN retransmission (1 s) while the neighbour tables refill
    assert not stack.is_isolated("az-c") and stack.reachable("edge", app_c, 3.0)
    handle = stack.partition(["az-a"], ["az-b", "edge"])
    assert not stack.reachable("az-a", redis_b, 0.5)
    assert not stack.reachable("edge", stack.topology.service("redis-az-a").endpoint(), 0.5)
    assert stack.reachable("az-c", redis_b)
    stack.heal_partition(handle)
    assert stack.reachable("az-a", redis_b)
    loss = stack.packet_loss("az-a", 1.0)
    assert not stack.reachable("az-a", redis_b, 0.5)
    stack.clear_packet_loss(loss)
    assert stack.reachable("az-a", redis_b)


def test_heal_all_undoes_everything(healed_stack) -> None:
    stack = healed_stack
    from harness.faults import heal_all
    from harness.simulators.control import ProviderControlClient

    url, token = stack.provider_control("fallback")
    with ProviderControlClient(url, token) as ctl:
        ctl.set_fault("error", status=500, rate=1.0)
    httpx.post(f"{stack.toxiproxy_url}/proxies/provider-primary/toxics", timeout=2,
               json={"type": "latency", "attributes": {"latency": 50}}).raise_for_status()
    stack.isolate_zone("az-b")
    stack.partition(["az-a"], ["az-c"])
    stack.packet_loss("external", 0.5)
    stack.pause("app-az-a")
    stack.kill("sentinel-az-c")
    clients.haproxy_command(stack.haproxy_socket, "set server app/app-az-c state maint")
    done = heal_all(stack)
    text = "\n".join(done)
    for expected in ("az-b rejoined", "iptables -D FORWARD", "(in ch-", "resumed app-az-a",
                     "restarted sentinel-az-c", "toxiproxy reset", "provider-fallback",
                     "haproxy app/app-az-c MAINT -> ready"):
        assert expected in text, (expected, done)
    assert heal_all(stack) == []
    stack.wait_ready(30.0)


def test_qdrant_cluster_collection_is_replicated(local_stack) -> None:
    from harness.stack.local.qdrant import COLLECTION, _replica_states, qdrant_binary

    if local_stack.topology.vector_mode != "cluster":
        pytest.skip(f"vector tier is embedded here: {qdrant_binary()[1]}")
    assert isinstance(local_stack, QdrantCluster)
    assert local_stack.qdrant_collection == COLLECTION
    for node in (f"qdrant-{z}" for z in ZONES):
        info = httpx.get(f"{local_stack.qdrant_url(node)}/collections/{COLLECTION}/cluster",
                         timeout=5).json()["result"]
        shards = _replica_states(info)
        assert len(shards) == 3 and all(st == ["Active"] * 3 for st in shards.values())
    states = clients.haproxy_servers(local_stack.haproxy_socket, "qdrant")
    assert set(states.values()) == {"UP"}


@pytest.mark.slow
def test_master_kill_fails_over_and_roles_follow(healed_stack) -> None:
    stack = healed_stack
    [old] = stack.roles("redis-master")
    stack.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while stack.roles("redis-master") in ([], [old]) and time.monotonic() < deadline:
        time.sleep(0.1)
    [new] = stack.roles("redis-master")
    assert new != old and stack.topology.service(new).kind is Kind.REDIS
    stack.start(old)  # heal: the old master comes back and Sentinel makes it a replica
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        ep = stack.topology.service(old).endpoint()
        try:
            if clients.redis_call(ep.host, ep.port, "ROLE")[0] == "slave":
                break
        except Exception:
            pass
        time.sleep(0.1)
    assert clients.redis_call(ep.host, ep.port, "ROLE")[0] == "slave"


@pytest.mark.parametrize("overrides", [
    {},
    {"haproxy.retries": 0, "haproxy.redispatch": False, "haproxy.retry_on": "none",
     "haproxy.observe_layer7": False},
    {"haproxy.retry_on": "conn-failure empty-response response-timeout", "haproxy.fall": 5},
])
@pytest.mark.parametrize("cluster", [False, True])
def test_generated_haproxy_config_is_accepted_by_haproxy(tmp_path, overrides, cluster) -> None:
    import shutil

    from harness.knobs import resolve_knobs
    from harness.stack.local.configs import haproxy_config
    from harness.stack.local.plan import make_plan

    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (scripts/setup.sh installs it)")
    text = haproxy_config(make_plan("ab12cd", netns_mode=False, octet=200),
                          resolve_knobs(overrides), stats_socket=str(tmp_path / "s.sock"),
                          cluster=cluster)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    res = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "[WARNING]" not in res.stdout + res.stderr
