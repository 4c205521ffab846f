"""Engine detection: a missing engine is reported fast, with a reason a person can act on."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

import harness.stack as stack_api
from harness.errors import StackError
from harness.stack.docker import engine

REASON_START = "no Docker engine reachable: "
REASON_END = "; start Docker or use --substrate local"


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point the SDK at a socket that does not exist (deterministic, engine or not)."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")


@pytest.mark.usefixtures("no_engine")
def test_missing_engine_gives_the_reason_within_milliseconds() -> None:
    engine.engine_problem()  # first call pays the SDK import
    started = time.perf_counter()
    reason = engine.engine_problem()
    elapsed = time.perf_counter() - started
    assert reason is not None
    assert reason.startswith(REASON_START) and reason.endswith(REASON_END)
    assert "no-such-docker.sock" in reason or "No such file" in reason
    assert elapsed < 0.5, f"detection took {elapsed:.3f} s"
    assert "\n" not in reason


@pytest.mark.usefixtures("no_engine")
def test_available_substrates_reports_the_engine_reason() -> None:
    reason = stack_api.available_substrates()["docker"]
    assert reason is not None and reason.startswith(REASON_START) and reason.endswith(REASON_END)


@pytest.mark.usefixtures("no_engine")
def test_open_stack_on_docker_fails_fast_with_the_reason() -> None:
    started = time.perf_counter()
    with pytest.raises(StackError) as info, stack_api.open_stack(substrate="docker"):
        pytest.fail("the stack must not come up without an engine")
    assert time.perf_counter() - started < 2.0
    assert REASON_START in str(info.value) and "--substrate local" in str(info.value)


@pytest.mark.usefixtures("no_engine")
def test_attach_docker_without_runs_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("CHAOS_HARNESS_RUN_DIR", str(tmp_path / "runs"))
    (tmp_path / "runs").mkdir()
    with pytest.raises(StackError, match="expected exactly one docker stack, found none"):
        stack_api.attach(substrate="docker")


def test_an_engine_that_answers_is_no_problem() -> None:
    pings = []

    class Client:
        def ping(self) -> bool:
            pings.append(1)
            return True

        def close(self) -> None:
            pass

    assert engine.engine_problem(client_factory=lambda timeout: Client()) is None
    assert pings == [1]


def test_a_failing_factory_is_reported_on_one_line() -> None:
    def factory(timeout: float) -> object:
        raise RuntimeError("bad\nDOCKER_HOST   value")

    assert engine.engine_problem(client_factory=factory) == (
        f"{REASON_START}bad DOCKER_HOST value{REASON_END}")


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_missing_compose_plugin_is_named(tmp_path: Path) -> None:
    fake = _script(tmp_path / "docker", "echo \"docker: unknown command: docker $1\" >&2; exit 1")
    reason = engine.compose_problem(docker_bin=fake)
    assert reason is not None and "Docker Compose v2 plugin is missing" in reason
    assert "unknown command" in reason and "--substrate local" in reason


def test_present_compose_plugin_is_no_problem(tmp_path: Path) -> None:
    fake = _script(tmp_path / "docker", "echo 'Docker Compose version v2.40.0'")
    assert engine.compose_problem(docker_bin=fake) is None


def test_no_docker_client_at_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = engine.compose_problem()
    assert reason is not None and "not on PATH" in reason


@pytest.mark.usefixtures("no_engine")
def test_docker_problem_checks_the_engine_first(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(engine, "compose_problem", lambda: calls.append(1))
    reason = engine.docker_problem()
    assert reason is not None and reason.startswith(REASON_START) and calls == []
    assert os.environ["DOCKER_HOST"].startswith("unix://")


def test_a_socket_nobody_listens_on_goes_through_the_sdk(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    import socket

    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(path))  # the file stays after close: connect is refused
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    started = time.perf_counter()
    reason = engine.engine_problem()
    assert time.perf_counter() - started < 2.0
    assert reason is not None and reason.startswith(REASON_START) and reason.endswith(REASON_END)
    assert "does not exist" not in reason  # the SDK said it, not the socket shortcut


def test_a_closed_tcp_port_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    reason = engine.engine_problem(timeout=1.0)
    assert reason is not None and reason.startswith(REASON_START)


def test_asking_is_cheap_in_a_fresh_process(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    code = ("import json, sys, time\n"
            "from harness.stack import available_substrates\n"
            "t = time.perf_counter(); r = available_substrates()['docker']\n"
            "print(json.dumps([r, time.perf_counter() - t,\n"
            "                  [m for m in ('testcontainers', 'docker') if m in sys.modules]]))\n")
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, env=env).stdout
    reason, seconds, heavy = json.loads(out)
    assert reason.startswith(REASON_START) and reason.endswith(REASON_END)
    assert heavy == []  # neither testcontainers nor the SDK is imported just to ask
    assert seconds < 1.0, f"first available_substrates() took {seconds:.3f} s"
