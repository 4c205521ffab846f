"""Configs the docker substrate generates from the knobs (pure; real servers load them in
tests/integration/test_docker_configs_real.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.knobs import resolve_knobs
from harness.stack.docker import configs, layout
from harness.stack.local import configs as local_configs
from harness.stack.local.plan import make_plan
from harness.topology import ZONES

ROOT = Path(__file__).resolve().parents[2]


def _knob_lines(text: str) -> list[str]:
    """The lines of an HAProxy config that knobs decide (no addresses, no docker additions)."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if words[:2] in (["timeout", "resolve"], ["timeout", "retry"]):  # docker resolvers
            continue
        if words[:1] in (["retries"], ["retry-on"], ["timeout"]) or words[:2] == ["option",
                                                                                 "redispatch"]:
            out.append(line.strip())
        elif words[:1] == ["default-server"]:
            out.append(line.split(" resolvers ")[0].strip())
    return out


@pytest.mark.parametrize("overrides", [
    {},
    {"haproxy.retries": 0, "haproxy.redispatch": False, "haproxy.retry_on": "none",
     "haproxy.check_inter_ms": 250, "haproxy.fall": 5, "haproxy.rise": 4,
     "haproxy.observe_layer7": False, "haproxy.timeout_connect_ms": 77,
     "haproxy.timeout_server_ms": 1234},
])
def test_haproxy_knobs_mean_the_same_as_on_the_local_substrate(overrides: dict) -> None:
    knobs = resolve_knobs(overrides)
    plan = make_plan("abc", netns_mode=False, octet=9)
    local = local_configs.haproxy_config(plan, knobs, stats_socket="/x.sock", cluster=True)
    docker = configs.haproxy_config(knobs)
    assert _knob_lines(docker) == _knob_lines(local)
    assert len(_knob_lines(docker)) >= 8
    if overrides:
        assert "  retries 0" in docker and "  retry-on none" in docker
        assert "no option redispatch" in docker and "observe layer7" not in docker
        assert "inter 250 fastinter 250 downinter 250 fall 5 rise 4" in docker


def test_haproxy_servers_are_docker_names_resolved_through_docker_dns() -> None:
    text = configs.haproxy_config(resolve_knobs())
    servers = [line.split() for line in text.splitlines() if line.strip().startswith("server ")]
    assert [s[1] for s in servers] == [*(f"app-{z}" for z in ZONES), *(f"qdrant-{z}" for z in
                                                                        ZONES)]
    assert all(s[2] == f"{s[1]}:{8000 if s[1].startswith('app') else 6333}" for s in servers)
    assert "nameserver dns 127.0.0.11:53" in text
    defaults = [line for line in text.splitlines() if line.strip().startswith("default-server")]
    assert defaults and all("resolvers docker init-addr last,libc,none" in d for d in defaults)
    assert "stats socket ipv4@0.0.0.0:9999 level admin" in text
    assert f"stats socket {configs.RUNTIME_SOCKET} mode 666 level admin" in text
    assert text.index("resolvers docker") < text.index("\ndefaults\n")
    for bind in ("bind 0.0.0.0:8080", "bind 0.0.0.0:8404", "bind 0.0.0.0:6333"):
        assert bind in text


def test_dockerize_refuses_an_address_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="does not know"):
        configs.dockerize_haproxy("global\n\ndefaults\n  mode http\n"
                                  "  server x 10.0.0.1:1 __zone__az-q:1\n  bind __zone__az-a:1\n")


def test_sentinel_config_uses_hostnames_in_the_right_order() -> None:
    knobs = resolve_knobs({"sentinel.down_after_ms": 1500, "sentinel.quorum": 3,
                           "sentinel.failover_timeout_ms": 4000, "sentinel.parallel_syncs": 2})
    for zone in ZONES:
        lines = configs.sentinel_config(zone, knobs).splitlines()
        first_host = min(i for i, ln in enumerate(lines) if "redis-az" in ln or "sentinel-az" in ln)
        assert lines.index("sentinel resolve-hostnames yes") < first_host
        assert "sentinel announce-hostnames yes" in lines
        assert f"sentinel announce-ip sentinel-{zone}" in lines
        assert "sentinel monitor mymaster redis-az-a 6379 3" in lines
        assert "sentinel down-after-milliseconds mymaster 1500" in lines
        assert "sentinel failover-timeout mymaster 4000" in lines
        assert "sentinel parallel-syncs mymaster 2" in lines
        peers = [ln.split() for ln in lines if ln.startswith("sentinel known-sentinel")]
        assert sorted(p[3] for p in peers) == sorted(f"sentinel-{z}" for z in ZONES if z != zone)
        assert all(p[5] == configs.sentinel_id(p[3].removeprefix("sentinel-")) for p in peers)
    ids = {configs.sentinel_id(z) for z in ZONES}
    assert len(ids) == 3 and all(len(i) == 40 and int(i, 16) >= 0 for i in ids)


def test_redis_config_starts_az_a_as_master_and_announces_names() -> None:
    knobs = resolve_knobs({"redis.min_replicas_to_write": 0, "redis.min_replicas_max_lag": 9})
    for zone in ZONES:
        lines = configs.redis_config(zone, knobs).splitlines()
        assert f"replica-announce-ip redis-{zone}" in lines
        assert "min-replicas-to-write 0" in lines and "min-replicas-max-lag 9" in lines
        assert ("replicaof redis-az-a 6379" in lines) == (zone != "az-a")


def test_toxiproxy_has_the_contract_proxies_with_reachable_upstreams() -> None:
    proxies = configs.toxiproxy_config()
    assert {p["name"] for p in proxies} == {"provider-primary", "provider-fallback", "qdrant",
                                            "redis-az-a", "redis-az-b", "redis-az-c"}
    toxi_nets = set(layout.service("toxiproxy").networks)
    for p in proxies:
        host, port = p["upstream"].split(":")
        assert set(layout.service(host).networks) & toxi_nets, p
        assert int(port) in {q.container_port for q in layout.service(host).ports}, p
        assert p["listen"].startswith("0.0.0.0:") and p["enabled"] is True
        assert int(p["listen"].split(":")[1]) < 32768


def test_app_environment_has_the_same_variables_as_on_local() -> None:
    knobs = resolve_knobs()
    plan = make_plan("abc", netns_mode=False, octet=9)
    local = local_configs.app_env(plan, "az-a", knobs, api_key="k", provider_key="p",
                                  corpus="/c", collection="kb", cluster=True)
    compose = yaml.safe_load((ROOT / layout.COMPOSE_FILE).read_text())
    per_replica = set(compose["services"]["app-az-a"]["environment"])
    docker = configs.app_env(knobs)
    assert set(docker) | per_replica >= set(local)
    assert docker["RAG_QDRANT_MODE"] == "server" and docker["RAG_COLLECTION"] == local[
        "RAG_COLLECTION"]
    assert docker["RAG_PRIMARY_URL"] == "http://toxiproxy:9101/v1"
    assert docker["RAG_REDIS_SENTINELS"] == "sentinel-az-a:26379,sentinel-az-b:26379,sentinel-az-c:26379"
    assert docker["RAG_REDIS_ADDRESS_MAP"].split(",")[1] == "redis-az-b:6379=toxiproxy:9112"
    # knob values reach the replicas
    assert configs.app_env(resolve_knobs({"app.llm_timeout_s": 7}))["RAG_LLM_TIMEOUT_S"] == "7.0"


def test_committed_default_configs_are_current() -> None:
    committed = ROOT / "docker" / "config"
    for rel, content in configs.config_files(resolve_knobs()).items():
        path = committed / rel
        assert path.is_file(), f"{path} missing: run python -m harness.stack.docker.writeconfigs --out docker/config"
        assert path.read_text() == content, (
            f"{path} is stale: run python -m harness.stack.docker.writeconfigs --out docker/config")


def test_write_config_dir_writes_readable_files(tmp_path: Path) -> None:
    written = configs.write_config_dir(tmp_path / "cfg", resolve_knobs({"haproxy.retries": 1}))
    assert len(written) == 3 + 2 * len(ZONES)
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in written)
    assert "  retries 1" in (tmp_path / "cfg/haproxy/haproxy.cfg").read_text()
    assert json.loads((tmp_path / "cfg/toxiproxy/toxiproxy.json").read_text())


def test_the_app_accepts_the_docker_wiring() -> None:
    """The reference app's own config loader reads a docker replica's environment as intended
    (run in a subprocess: the harness and the app never import each other)."""
    import subprocess
    import sys

    compose = yaml.safe_load((ROOT / layout.COMPOSE_FILE).read_text())
    env = {**configs.app_env(resolve_knobs({"app.top_k": 4})),
           **{k: v.replace("${CHAOS_API_KEY:-chaos-dev-key}", "key").replace(
               "${CHAOS_PROVIDER_KEY:-chaos-provider-key}", "pk")
              for k, v in compose["services"]["app-az-b"]["environment"].items()}}
    code = ("import json, os\nfrom reference_app.config import load_settings\n"
            "s = load_settings(os.environ)\n"
            "print(json.dumps([s.replica, s.api_key, s.primary_url, list(map(list, "
            "s.redis_sentinels)), sorted(f'{a[0]}:{a[1]}={b[0]}:{b[1]}' for a, b in "
            "s.redis_address_map.items()), s.qdrant_mode, s.qdrant_url, s.top_k, "
            "s.qdrant_replication, s.host, s.port]))\n")
    out = subprocess.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin", **env},
                         capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        "app-az-b", "key", "http://toxiproxy:9101/v1",
        [[f"sentinel-{z}", 26379] for z in ZONES],
        [f"redis-{z}:6379=toxiproxy:{9111 + i}" for i, z in enumerate(ZONES)],
        "server", "http://toxiproxy:9103", 4, 3, "0.0.0.0", 8000]
