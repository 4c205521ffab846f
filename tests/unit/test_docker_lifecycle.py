"""Run records, per-run files and teardown on a failed start (no engine needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError, StackError
from harness.knobs import resolve_knobs
from harness.stack.docker import compose, layout, lifecycle
from harness.stack.docker.record import DockerRun, default_run_dir, load_run, run_files


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAOS_HARNESS_RUN_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_new_run_writes_record_env_and_configs(run_dir: Path) -> None:
    run = lifecycle._new_run("r-one", {"haproxy.retries": 1}, resolve_knobs(
        {"haproxy.retries": 1}), seed=5, cluster=True)
    assert default_run_dir() == run_dir
    record, state = run_files(run_dir, "chaos-r-one")
    assert load_run(record) == run and Path(run.state_dir) == state
    assert record.stat().st_mode & 0o777 == 0o600
    env = dict(line.split("=", 1) for line in run.env_file.read_text().splitlines())
    assert env["COMPOSE_PROJECT_NAME"] == "chaos-r-one"
    assert env["CHAOS_CONFIG_DIR"] == str(state / "config")
    assert env["CHAOS_SEED"] == "5" and env["CHAOS_API_KEY"] == run.api_key
    assert env["CHAOS_PORT_HAPROXY_MAIN"] == str(run.port_base)
    assert "  retries 1" in (state / "config/haproxy/haproxy.cfg").read_text()
    assert env["CHAOS_HAPROXY_RUNTIME_DIR"] == str(state / "haproxy-runtime")
    assert (state / "haproxy-runtime").stat().st_mode & 0o777 == 0o777
    assert (Path(run.context) / layout.COMPOSE_FILE).is_file()
    assert json.loads(record.read_text())["knobs"] == {"haproxy.retries": 1}
    with pytest.raises(ConfigError, match="already exists"):
        lifecycle._new_run("r-one", {}, resolve_knobs(), seed=None, cluster=True)


def test_a_failed_start_tears_down_and_keeps_the_original_error(
        run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    downs: list[str] = []
    monkeypatch.setattr(lifecycle, "docker_problem", lambda: None)
    monkeypatch.setattr(lifecycle, "docker_client", lambda: object())

    def up(run: DockerRun, *, build: bool) -> None:
        raise StackError("'docker compose up' failed", component="docker")

    def stop(self: Any, down: bool = True) -> None:
        downs.append(f"{self.project_name} down={down}")

    monkeypatch.setattr(lifecycle, "compose_up", up)
    monkeypatch.setattr(compose.ProjectCompose, "stop", stop)
    with pytest.raises(StackError, match="compose up' failed"):
        lifecycle.start_docker_stack(run_id="r-two")
    assert downs == ["chaos-r-two down=True"]
    assert list(run_dir.iterdir()) == []  # record and state dir removed


def test_a_failing_teardown_is_noted_on_the_original_error(
        run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "docker_problem", lambda: None)
    monkeypatch.setattr(lifecycle, "docker_client", lambda: object())

    def up(run: DockerRun, *, build: bool) -> None:
        raise KeyboardInterrupt

    def down(run: DockerRun) -> None:
        raise StackError("'docker compose down' failed", component="docker")

    monkeypatch.setattr(lifecycle, "compose_up", up)
    monkeypatch.setattr(lifecycle, "compose_down", down)
    with pytest.raises(KeyboardInterrupt) as info:
        lifecycle.start_docker_stack(run_id="r-three")
    assert any("teardown failed too" in n for n in info.value.__notes__)


def test_without_an_engine_nothing_is_written(run_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "docker_problem", lambda: "no Docker engine reachable: x")
    with pytest.raises(StackError, match="cannot run here: no Docker engine reachable"):
        lifecycle.start_docker_stack(run_id="r-four")
    assert not run_dir.exists() or list(run_dir.iterdir()) == []
