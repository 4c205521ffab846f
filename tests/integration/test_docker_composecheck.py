"""docker-compose.ha.yml through compose-go, the loader ``docker compose`` itself uses.

There is no Compose plugin and no engine here, so ``docker/composecheck`` (a few lines of Go over
compose-go) is built once per machine and loads the file the way ``docker compose config``
would: schema validation, interpolation, anchors and merges, ``env_file`` reading. Skips when Go
or the Go module proxy is unavailable.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from harness.knobs import resolve_knobs
from harness.stack.docker import configs, layout
from harness.stack.docker.record import DockerRun
from harness.topology import ZONES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "docker" / "composecheck"
_OFFLINE = ("dial tcp", "no such host", "i/o timeout", "proxy.golang.org", "connection refused",
            "TLS handshake")


@pytest.fixture(scope="module")
def composecheck() -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed: composecheck (compose-go) cannot be built")
    digest = hashlib.sha256(b"".join((SRC / f).read_bytes() for f in ("main.go", "go.mod",
                                                                    "go.sum"))).hexdigest()[:12]
    binary = Path(tempfile.gettempdir()) / f"chaos-harness-composecheck-{digest}"
    if not binary.exists():
        tmp = binary.with_suffix(f".{os.getpid()}")
        proc = subprocess.run([go, "build", "-o", str(tmp), "."], cwd=SRC, capture_output=True,
                              text=True, timeout=540, check=False,
                              env={**os.environ, "GOFLAGS": "-buildvcs=false"})
        if proc.returncode != 0:
            if any(m in proc.stderr for m in _OFFLINE):
                pytest.skip(f"cannot fetch compose-go through the Go module proxy: "
                            f"{proc.stderr.strip()[-300:]}")
            pytest.fail(f"composecheck did not build:\n{proc.stderr}")
        tmp.replace(binary)
    return binary


def _load(binary: Path, *args: str, compose: Path | None = None) -> dict[str, Any]:
    proc = subprocess.run([str(binary), "-f", str(compose or ROOT / layout.COMPOSE_FILE),
                           "-p", "chaos-check", *args], capture_output=True, text=True,
                          timeout=60, check=False, cwd=ROOT,
                          env={k: v for k, v in os.environ.items() if not k.startswith("CHAOS_")})
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_the_checker_rejects_what_compose_rejects(composecheck: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  a:\n    image: x\n    networks: [nope]\n")
    proc = subprocess.run([str(composecheck), "-f", str(bad)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 1 and "undefined network nope" in proc.stderr


def test_compose_file_loads_with_its_defaults(composecheck: Path) -> None:
    project = _load(composecheck)
    assert project["name"] == "chaos-check"
    # the Qdrant nodes are in profile "qdrant" (started only when the engine has a Qdrant image)
    qdrant = {s.name for s in layout.SERVICES if s.name.startswith("qdrant-")}
    assert qdrant and set(project["services"]) == {s.name for s in layout.SERVICES} - qdrant
    with_qdrant = _load(composecheck, "-profile", "qdrant")
    assert set(with_qdrant["services"]) == {s.name for s in layout.SERVICES}
    assert set(project["networks"]) == set(layout.NETWORKS)
    app = project["services"]["app-az-b"]
    # env_file (the default docker/config/app.env) is merged with the per-replica variables
    assert app["environment"]["RAG_REPLICA"] == "app-az-b"
    assert app["environment"]["RAG_QDRANT_URL"] == configs.app_env(resolve_knobs())[
        "RAG_QDRANT_URL"]
    assert app["build"]["target"] == "app"
    assert project["services"]["haproxy"]["image"] == "haproxy:2.6"


def test_compose_file_with_a_runs_variables_publishes_the_topology(composecheck: Path,
                                                                   tmp_path: Path) -> None:
    run = DockerRun(run_id="cc", project="chaos-cc", context=str(ROOT),
                    compose_file=layout.COMPOSE_FILE, state_dir=str(tmp_path), port_base=27050,
                    api_key="key-1", provider_key="pk", control_token="ct", seed=3)
    knobs = resolve_knobs({"app.llm_timeout_s": 9})
    configs.write_config_dir(run.config_dir, knobs)
    env = run.compose_variables(knobs)
    run.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    project = _load(composecheck, "-env-file", str(run.env_file), "-profile", "qdrant")
    topo = layout.build_topology(run_id="cc", port_base=27050, api_key="key-1")
    for s in layout.SERVICES:
        published = {(p["host_ip"], int(p["published"]), p["target"])
                     for p in project["services"][s.name].get("ports", [])}
        want = {("127.0.0.1", topo.service(s.name).endpoint(p.endpoint).port, p.container_port)
                for p in s.ports}
        assert published == want, s.name
    app = project["services"]["app-az-c"]["environment"]
    assert app["RAG_API_KEY"] == "key-1" and app["RAG_LLM_TIMEOUT_S"] == "9.0"
    mounts = project["services"]["sentinel-az-a"]["volumes"]
    assert mounts[0]["source"] == str(run.config_dir / "sentinel") and mounts[0]["read_only"]
    cmd = project["services"]["provider-primary"]["command"]
    assert cmd[cmd.index("--token") + 1] == "ct" and cmd[cmd.index("--seed") + 1] == "3"
    for z in ZONES:
        assert set(project["services"][f"redis-{z}"]["networks"]) == {z, "interzone"}
