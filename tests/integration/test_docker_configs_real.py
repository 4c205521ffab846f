"""The docker substrate's generated configs, loaded by the real servers installed here.

The containers run the same programs (HAProxy 2.6+, Redis/Sentinel 7, Toxiproxy 2.12). Only what
ties a config to a container is rewritten for loopback: the listen port, ``bind`` and ``dir``.
Docker hostnames do not resolve here, which the configs are built to tolerate (HAProxy
``init-addr none``, Sentinel ``resolve-hostnames``).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from harness.knobs import resolve_knobs
from harness.simulators.control import ProviderControlClient
from harness.stack import haproxy_api
from harness.stack.docker import clients, configs, layout
from harness.topology import ZONES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

KNOBS = resolve_knobs({"sentinel.down_after_ms": 1700, "sentinel.quorum": 2,
                       "redis.min_replicas_to_write": 1, "haproxy.retries": 2})


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (scripts/setup.sh installs it)")
    return path


def _free_port() -> int:
    """A free loopback port below the ephemeral range (outgoing connections never hold it)."""
    for _ in range(200):
        port = random.randrange(17000, 21000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 17000-20999 on 127.0.0.1")


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            pytest.fail(f"server exited with {proc.returncode}:\n{out[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    pytest.fail(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


@contextlib.contextmanager
def _server(argv: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()


def _loopback(text: str, *, port: int, data: Path) -> str:
    out = []
    for line in text.splitlines():
        if line.startswith("port "):
            line = f"port {port}"
        elif line.startswith("bind "):
            line = "bind 127.0.0.1"
        elif line.startswith("dir "):
            line = f"dir {data}"
        out.append(line)
    return "\n".join(out) + "\n"


def test_haproxy_accepts_the_generated_config(tmp_path: Path) -> None:
    haproxy = _need("haproxy")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(configs.haproxy_config(KNOBS))
    proc = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Configuration file is valid" in proc.stdout + proc.stderr
    alerts = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "[ALERT]" in ln]
    assert alerts == []
    warnings = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "[WARNING]" in ln]
    assert all("could not resolve address" in w for w in warnings), warnings


def test_haproxy_runs_the_generated_config_and_answers_on_both_runtime_apis(
        tmp_path: Path) -> None:
    haproxy = _need("haproxy")
    ports = {name: _free_port() for name in ("front", "stats", "qdrant", "runtime")}
    sock = tmp_path / "admin.sock"
    text = configs.haproxy_config(KNOBS)
    text = (text.replace("bind 0.0.0.0:8080", f"bind 127.0.0.1:{ports['front']}")
            .replace("bind 0.0.0.0:8404", f"bind 127.0.0.1:{ports['stats']}")
            .replace("bind 0.0.0.0:6333", f"bind 127.0.0.1:{ports['qdrant']}")
            .replace("ipv4@0.0.0.0:9999", f"ipv4@127.0.0.1:{ports['runtime']}")
            .replace(configs.RUNTIME_SOCKET, str(sock)))
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    with _server([haproxy, "-db", "-f", str(cfg)], ports["front"]):
        via_tcp = clients.haproxy_command("127.0.0.1", ports["runtime"], "show stat")
        with socket.socket(socket.AF_UNIX) as s:  # the UNIX socket the observers use
            s.settimeout(2)
            s.connect(str(sock))
            s.sendall(b"show stat\n")
            via_unix = b"".join(iter(lambda: s.recv(65536), b"")).decode()
        metrics = httpx.get(f"http://127.0.0.1:{ports['stats']}/metrics", timeout=2)
    for text_out in (via_tcp, via_unix):
        app = haproxy_api.backend_states(text_out, "app")
        assert set(app) == {f"app-{z}" for z in ZONES}
        # names do not resolve outside Docker: servers wait in MAINT instead of failing start
        assert all(v.startswith("MAINT") for v in app.values()), app
        assert set(haproxy_api.backend_states(text_out, "qdrant")) == {f"qdrant-{z}" for z in ZONES}
    assert metrics.status_code == 200 and "haproxy_server_status" in metrics.text


@pytest.mark.parametrize("zone", ZONES)
def test_redis_loads_the_generated_config(tmp_path: Path, zone: str) -> None:
    server = _need("redis-server")
    port = _free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(_loopback(configs.redis_config(zone, KNOBS), port=port, data=tmp_path))
    with _server([server, str(conf)], port):
        client = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
        try:
            got = {k: client.config_get(k)[k] for k in (
                "replica-announce-ip", "min-replicas-to-write", "min-replicas-max-lag",
                "save", "appendonly")}
            role = client.execute_command("ROLE")[0]
        finally:
            client.close()
    assert got == {"replica-announce-ip": f"redis-{zone}", "min-replicas-to-write": "1",
                   "min-replicas-max-lag": "2", "save": "", "appendonly": "no"}
    assert role == ("master" if zone == "az-a" else "slave")


def test_sentinel_loads_the_generated_config_with_its_peers(tmp_path: Path) -> None:
    sentinel = _need("redis-sentinel")
    port = _free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(_loopback(configs.sentinel_config("az-b", KNOBS), port=port, data=tmp_path))
    with _server([sentinel, str(conf)], port):
        client = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
        try:
            master = client.execute_command("SENTINEL", "MASTER", "mymaster")
            myid = client.execute_command("SENTINEL", "MYID")
        finally:
            client.close()
    info = master if isinstance(master, dict) else dict(zip(master[::2], master[1::2],
                                                             strict=True))
    info = {k: str(v) for k, v in info.items()}
    assert info["ip"] == "redis-az-a" and info["port"] == "6379"
    assert (info["quorum"], info["down-after-milliseconds"], info["failover-timeout"]) == (
        "2", "1700", "3000")
    assert info["num-slaves"] == "2" and info["num-other-sentinels"] == "2"
    assert myid == configs.sentinel_id("az-b")
    # Sentinel rewrote its own config: the reason the containers copy it out of the mount
    assert "sentinel known-sentinel" in conf.read_text()


def test_toxiproxy_creates_the_generated_proxies(tmp_path: Path) -> None:
    toxiproxy = _need("toxiproxy-server")
    api = _free_port()
    proxies = configs.toxiproxy_config()
    for p in proxies:  # listen on loopback instead of the container's 0.0.0.0
        p["listen"] = f"127.0.0.1:{_free_port()}"
    cfg = tmp_path / "toxiproxy.json"
    cfg.write_text(json.dumps(proxies))
    with _server([toxiproxy, "-host=127.0.0.1", f"-port={api}", f"-config={cfg}"], api):
        got = httpx.get(f"http://127.0.0.1:{api}/proxies", timeout=2).json()
    assert {n: (p["upstream"], p["enabled"]) for n, p in got.items()} == {
        p["name"]: (p["upstream"], True) for p in proxies}


def test_the_provider_simulator_runs_with_the_compose_command(tmp_path: Path) -> None:
    """The exact command line of ``provider-primary`` in docker-compose.ha.yml (defaults
    interpolated), moved to loopback ports: it starts and its control API takes the token."""
    compose = yaml.safe_load((ROOT / layout.COMPOSE_FILE).read_text())
    argv = [re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", a)
            for a in compose["services"]["provider-primary"]["command"]]
    api, control = _free_port(), _free_port()
    for flag, value in (("--host", "127.0.0.1"), ("--control-host", "127.0.0.1"),
                        ("--port", str(api)), ("--control-port", str(control))):
        argv[argv.index(flag) + 1] = value
    assert argv[:3] == ["python", "-m", "harness.simulators.provider"]
    token = argv[argv.index("--token") + 1]
    with _server([sys.executable, *argv[1:]], control) as proc:
        _wait_port(api, proc)
        with ProviderControlClient(f"http://127.0.0.1:{control}", token, timeout=2.0) as ctl:
            assert ctl.faults() == {}
        models = httpx.get(f"http://127.0.0.1:{api}/v1/models", timeout=2.0)
    assert models.status_code == 200  # the OpenAI-compatible side answers
