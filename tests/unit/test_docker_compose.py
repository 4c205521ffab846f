"""docker-compose.ha.yml: parses, and has the topology the harness expects (no engine needed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.knobs import resolve_knobs
from harness.stack.docker import layout
from harness.stack.docker.engine import compose_problem
from harness.stack.docker.record import DockerRun
from harness.topology import EDGE, EXTERNAL, ZONES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / layout.COMPOSE_FILE
VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")
EPHEMERAL = range(32768, 61000)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _interpolate(text: str, env: dict[str, str]) -> str:
    return VAR.sub(lambda m: env.get(m[1], m[2] if m[2] is not None else ""), text)


def _published(svc: dict[str, Any]) -> list[str]:
    return [str(p) for p in svc.get("ports", [])]


def test_services_are_the_contract_names(compose: dict[str, Any]) -> None:
    expected = {f"{k}-{z}" for k in ("app", "redis", "sentinel", "qdrant") for z in ZONES}
    expected |= {"haproxy", "toxiproxy", "provider-primary", "provider-fallback"}
    assert set(compose["services"]) == expected == {s.name for s in layout.SERVICES}


def test_one_network_per_zone_plus_edge_and_interzone(compose: dict[str, Any]) -> None:
    assert set(compose["networks"]) == {*ZONES, "edge", "interzone"} == set(layout.NETWORKS)


def test_each_service_sits_on_the_networks_of_its_place(compose: dict[str, Any]) -> None:
    for s in layout.SERVICES:
        nets = compose["services"][s.name]["networks"]
        assert set(nets) == set(s.networks), s.name
        if s.zone in ZONES:
            assert set(nets) == {s.zone, "interzone"}, s.name
        elif s.zone == EDGE:
            assert set(nets) == {"edge", "interzone"}, s.name
        else:
            assert s.zone == EXTERNAL and set(nets) == {"edge"}, s.name
        # the service name is its DNS alias on every network (re-added after a reconnect)
        assert all(v["aliases"] == [s.name] for v in nets.values()), s.name


def test_a_zone_network_holds_only_its_zone(compose: dict[str, Any]) -> None:
    for zone in ZONES:
        members = {n for n, svc in compose["services"].items() if zone in svc["networks"]}
        assert members == {f"{k}-{zone}" for k in ("app", "redis", "sentinel", "qdrant")}


def test_gateway_networks_sort_before_the_one_a_zone_cut_removes() -> None:
    # Docker picks a container's gateway (where its published ports live) in network-name
    # order among equals; the interzone backbone must never be it.
    for s in layout.SERVICES:
        kept = [n for n in s.networks if n != layout.INTERZONE_NETWORK]
        assert kept and min(s.networks) in kept, s.name


def test_published_ports_match_the_layout(compose: dict[str, Any]) -> None:
    for s in layout.SERVICES:
        want = {f"127.0.0.1:${{{layout.port_variable(s.name, p.endpoint)}:-"
                f"{layout.DEFAULT_PORT_BASE + p.offset}}}:{p.container_port}" for p in s.ports}
        assert set(_published(compose["services"][s.name])) == want, s.name


def test_ports_are_loopback_only_and_outside_the_ephemeral_range(compose: dict[str, Any]) -> None:
    run = _run(port_base=layout.PORT_RANGE[1] - 50)
    env = run.compose_variables(resolve_knobs())
    seen = []
    for svc in compose["services"].values():
        for spec in _published(svc):
            host_ip, host_port, _ = _interpolate(spec, env).split(":")
            assert host_ip == "127.0.0.1"
            seen.append(int(host_port))
    assert len(seen) == len(set(seen)) == sum(len(s.ports) for s in layout.SERVICES)
    assert not [p for p in seen if p in EPHEMERAL]
    assert all(run.port_base <= p < run.port_base + layout.PORT_BLOCK for p in seen)


def _run(port_base: int = layout.DEFAULT_PORT_BASE) -> DockerRun:
    return DockerRun(run_id="t1", project="chaos-t1", context=str(ROOT),
                     compose_file=layout.COMPOSE_FILE, state_dir="/tmp/x", port_base=port_base,
                     api_key="k", provider_key="p", control_token="c", seed=7)


def test_the_harness_sets_every_variable_the_file_uses() -> None:
    used = set(VAR.findall(COMPOSE.read_text()))
    names = {name for name, _ in used}
    harness_sets = set(_run().compose_variables(resolve_knobs()))
    images = {n for n in names if n.endswith("_IMAGE")}  # optional overrides, defaults pinned
    assert names - images <= harness_sets
    assert all(default for name, default in used), "every variable needs a default for by-hand use"


def test_official_images_and_versions(compose: dict[str, Any]) -> None:
    s = compose["services"]
    image = {n: _interpolate(v["image"], {}) for n, v in s.items()}
    assert image["haproxy"] == "haproxy:2.6"
    assert image["toxiproxy"] == "ghcr.io/shopify/toxiproxy:2.12.0"
    assert all(image[f"redis-{z}"] == image[f"sentinel-{z}"] == "redis:7.4" for z in ZONES)
    assert all(image[f"qdrant-{z}"].startswith("qdrant/qdrant:v1.") for z in ZONES)


def test_app_and_simulators_are_built_from_this_repository(compose: dict[str, Any]) -> None:
    dockerfile = ROOT / "docker" / "harness.Dockerfile"
    text = dockerfile.read_text()
    for name, target in (("app-az-a", "app"), ("provider-primary", "simulator")):
        build = compose["services"][name]["build"]
        assert build["context"] == "." and build["target"] == target
        assert (ROOT / build["dockerfile"]) == dockerfile
        assert f" AS {target}\n" in text
    assert 'CMD ["python", "-m", "reference_app"]' in text
    assert 'pip install -c scripts/constraints.txt ".[app]"' in text
    for p in ("primary", "fallback"):
        cmd = compose["services"][f"provider-{p}"]["command"]
        assert cmd[:3] == ["python", "-m", "harness.simulators.provider"]
        assert cmd[cmd.index("--name") + 1] == p
        for flag in ("--host", "--port", "--control-host", "--control-port", "--token",
                     "--latency-ms", "--tokens-per-s", "--seed"):
            assert flag in cmd


def test_app_replicas_get_their_name_and_secrets(compose: dict[str, Any]) -> None:
    for z in ZONES:
        svc = compose["services"][f"app-{z}"]
        assert svc["environment"]["RAG_REPLICA"] == f"app-{z}"
        assert set(svc["environment"]) == {"RAG_REPLICA", "RAG_API_KEY", "RAG_PROVIDER_KEY"}
        assert svc["env_file"] == ["${CHAOS_CONFIG_DIR:-./docker/config}/app.env"]


def test_qdrant_cluster_bootstraps_through_the_first_node(compose: dict[str, Any]) -> None:
    s = compose["services"]
    assert s["qdrant-az-a"]["command"] == ["./qdrant", "--uri", "http://qdrant-az-a:6335"]
    for z in ZONES[1:]:
        assert s[f"qdrant-{z}"]["command"] == [
            "./qdrant", "--bootstrap", "http://qdrant-az-a:6335", "--uri",
            f"http://qdrant-{z}:6335"]
    for z in ZONES:
        assert s[f"qdrant-{z}"]["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        if z != "az-a":  # bootstrap only once the first node's peer port answers
            assert s[f"qdrant-{z}"]["depends_on"] == {
                "qdrant-az-a": {"condition": "service_healthy"}}
    assert "6335" in " ".join(s["qdrant-az-a"]["healthcheck"]["test"])


def test_toxiproxy_creates_its_proxies_from_the_config(compose: dict[str, Any]) -> None:
    t = compose["services"]["toxiproxy"]
    assert "-host=0.0.0.0" in t["command"] and "-config=/config/toxiproxy.json" in t["command"]
    mount = t["volumes"][0]
    assert mount.endswith("/toxiproxy:/config:ro")


def test_mounted_config_files_exist_by_default(compose: dict[str, Any]) -> None:
    env = {"CHAOS_CONFIG_DIR": str(ROOT / "docker" / "config")}
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes", []):
            src = _interpolate(vol, env).split(":")[0]
            if "/" not in src:  # a named volume: declared at the top level
                assert src in compose["volumes"], (name, src)
                continue
            assert Path(src).is_dir(), (name, src)
        for word in " ".join(svc.get("entrypoint", [])).split():
            if word.startswith("/config/"):  # files the entrypoint copies out of the mount
                mount = Path(_interpolate(svc["volumes"][0], env).split(":")[0])
                assert (mount / word.removeprefix("/config/")).is_file(), (name, word)


def test_redis_and_sentinel_keep_a_writable_copy_of_their_config(compose: dict[str, Any]) -> None:
    for z in ZONES:
        for kind, conf in (("redis", "redis.conf"), ("sentinel", "sentinel.conf")):
            svc = compose["services"][f"{kind}-{z}"]
            script = svc["entrypoint"][2]
            assert f"cp /config/{kind}-{z}.conf /data/{conf}" in script
            assert f"[ -f /data/{conf} ] ||" in script  # a restart keeps what Sentinel rewrote
            assert svc["volumes"][0].endswith(":/config:ro")
        assert "--sentinel" in compose["services"][f"sentinel-{z}"]["entrypoint"][2]


def test_haproxy_runtime_socket_directory_is_mounted(compose: dict[str, Any]) -> None:
    vols = compose["services"]["haproxy"]["volumes"]
    assert "${CHAOS_HAPROXY_RUNTIME_DIR:-haproxy-runtime}:/var/lib/haproxy" in vols
    assert compose["volumes"] == {"haproxy-runtime": {}}


def test_nothing_restarts_on_its_own(compose: dict[str, Any]) -> None:
    # a killed container must stay down until the harness starts it (fault semantics)
    assert all(svc["restart"] == "no" for svc in compose["services"].values())
    assert not any("container_name" in svc for svc in compose["services"].values())


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client on PATH")
def test_docker_compose_config_accepts_the_file() -> None:
    problem = compose_problem()
    if problem:
        pytest.skip(f"cannot run 'docker compose config' offline here: {problem}")
    proc = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "-p", "chaos-check",
                           "config", "--quiet"], capture_output=True, text=True, timeout=60,
                          check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_running_services_are_not_health_checked_more_than_every_10_s(
        compose: dict[str, Any]) -> None:
    """Each healthcheck is a process exec'd in the container. At 1-2 s intervals the twelve
    checks of the app, Redis and Sentinel services cost ~40 % of a core on a 2-core machine
    (idle stack: 54 % of a core with them, 11 % at 10 s), which pushed a Redis master kill at
    250 req/s into 925 slow answers. Qdrant's check gates the other nodes' bootstrap, so it
    stays fast (and Qdrant runs only with its profile)."""
    for name, svc in compose["services"].items():
        check = svc.get("healthcheck")
        if check is None or name.startswith("qdrant-"):
            continue
        interval = check["interval"]
        assert interval.endswith("s") and float(interval[:-1]) >= 10, (name, interval)
