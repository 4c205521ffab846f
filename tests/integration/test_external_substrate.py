"""The ``external`` substrate against a real local stack described only by its topology file
(``write_topology_file``): the harness uses nothing of the local substrate's process powers,
only the addresses and secrets the file names. Faults land and are verified from outside;
a user's own command is a fault; secrets never reach a report. ~1-2 min on a quiet machine."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UnsupportedFault
from harness.experiment.model import Experiment
from harness.faults import build_fault, heal_all
from harness.faults.sentinel import current_master
from harness.stack.external import capabilities, open_external_stack, write_topology_file
from harness.stack.haproxy_api import haproxy_servers
from harness.timeline import Timeline

pytestmark = pytest.mark.integration


@pytest.fixture
def external(healed_stack: Any, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict[str, str]]]:
    path = tmp_path / "topology.yaml"
    secrets = write_topology_file(healed_stack, path, max_rate=200)
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    with open_external_stack(path, confirmed=True) as ext:
        yield ext, secrets
        heal_all(ext)


def _haproxy_cmd(sock: str, command: str) -> str:
    return ("python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); "
            f"s.connect(sys.argv[1]); s.sendall(b\"{command}\\n\"); print(s.recv(4096))' {sock}")


def test_the_file_describes_the_stack(external: tuple[Any, dict[str, str]],
                                      healed_stack: Any) -> None:
    ext, _ = external
    assert ext.name == "external"
    assert {"Proxied", "ProviderControl", "HAProxyRuntime", "RedisAdmin"} <= set(
        capabilities(ext))
    assert not hasattr(ext, "kill") and not hasattr(ext, "pause")
    assert list(ext.roles("redis-master")) == list(healed_stack.roles("redis-master"))
    with pytest.raises(UnsupportedFault, match="user-command"):
        build_fault("kill", target="service=app-az-a").check_supported(ext)


def test_server_drain_lands_and_reverts(external: tuple[Any, dict[str, str]]) -> None:
    ext, _ = external
    tl = Timeline()
    fault = build_fault("server-drain", target="service=app-az-b", params={"state": "maint"})
    with fault.applied(ext, tl, fault_id="d1") as h:
        assert h.landed, h.detail
        assert haproxy_servers(ext.haproxy_socket, "app")["app-az-b"].startswith("MAINT")
    assert h.recovered, h.recover_detail
    assert haproxy_servers(ext.haproxy_socket, "app")["app-az-b"].startswith("UP")


def test_planned_failover_and_master_hang(external: tuple[Any, dict[str, str]]) -> None:
    ext, _ = external
    tl = Timeline()
    before = current_master(ext)
    with build_fault("sentinel-failover").applied(ext, tl, fault_id="s1") as h:
        assert h.landed, h.detail
        assert current_master(ext) not in (None, before)
    assert h.recovered, h.recover_detail
    hang = build_fault("redis-master-hang", params={"hang_s": 2})
    with hang.applied(ext, tl, fault_id="s2") as h2:
        assert h2.landed, h2.detail
        assert "does not answer PING" in h2.detail
    assert h2.recovered, h2.recover_detail


def test_user_command_lands_and_is_verified(external: tuple[Any, dict[str, str]]) -> None:
    ext, secrets = external
    sock = ext.haproxy_socket
    tl = Timeline()
    fault = build_fault("user-command", params={
        "inject_command": _haproxy_cmd(sock, "disable server app/app-az-c"),
        "revert_command": _haproxy_cmd(sock, "enable server app/app-az-c"),
        "probe": "haproxy app/app-az-c MAINT", "command_timeout_s": 10})
    with fault.applied(ext, tl, fault_id="u1") as h:
        assert h.landed, h.detail
        assert "HAProxy app/app-az-c is MAINT" in h.detail and "exited 0" in h.detail
    assert h.recovered and "is UP" in h.recover_detail, h.recover_detail
    # a command that succeeds but changes nothing: the probe says it did not land
    noop = build_fault("user-command", params={
        "inject_command": "true", "probe": "haproxy app/app-az-c MAINT",
        "landed_within_s": 1})
    with noop.applied(ext, tl, fault_id="u2") as h2:
        assert not h2.landed and "did not take effect" in h2.detail
    # a failing command is a fault that could not be injected
    leak = build_fault("user-command", params={
        "inject_command": "echo key=$CHAOS_API_KEY; exit 3", "shell": True,
        "probe": f"tcp-open {ext.topology.front_door.address}",
        "probe_reverted": f"tcp-open {ext.topology.front_door.address}"})
    with pytest.raises(Exception, match="exited 3") as err:
        leak.start(ext, tl, fault_id="u3")
    assert secrets["CHAOS_API_KEY"] not in str(err.value) and "key=***" in str(err.value)


def _texts(directory: Path) -> Iterator[tuple[str, str]]:
    for p in directory.rglob("*"):
        if p.suffix == ".zip":
            with zipfile.ZipFile(p) as z:
                for name in z.namelist():
                    yield f"{p.name}/{name}", z.read(name).decode(errors="replace")
        elif p.is_file():
            yield p.name, p.read_bytes().decode(errors="replace")


def test_experiment_to_verdict_and_no_secret_in_the_report(
        external: tuple[Any, dict[str, str]], tmp_path: Path) -> None:
    from harness.experiment.runner import run_experiment

    ext, secrets = external
    exp = Experiment.model_validate({
        "name": "external-smoke", "hypothesis": "the fallback answers",
        "load": {"rate": 20, "warmup": 2, "duration": 14},
        "steady_state": {"duration": 3},
        "stop_conditions": [{"max_bad_fraction": 0.9, "window": 5}],
        "method": [
            {"fault": "provider-5xx", "params": {"status": 503}, "start": 2, "duration": 4},
            {"fault": "user-command", "start": 2, "duration": 4, "params": {
                "inject_command": "echo token=$CHAOS_PROVIDER_TOKEN key=$CHAOS_API_KEY",
                "shell": True, "probe": f"tcp-open {ext.topology.front_door.address}",
                "probe_reverted": f"tcp-open {ext.topology.front_door.address}"}}],
        "recovery": 4, "seed": 7})
    result = run_experiment(exp, stack=ext, substrate="external",
                            report_dir=tmp_path / "reports")
    assert result.verdict in ("PASS", "FAIL", "INCONCLUSIVE") and not result.skipped
    rep = result.report
    assert rep["substrate"] == "external" and rep["requests"] > 100
    assert [f["landed"] for f in rep["faults"]] == [True, True], rep["faults"]
    # both faults start at 2 s and inject concurrently: find the command by name, not position
    (command,) = [f for f in rep["faults"] if f["name"] == "user-command"]
    assert "***" in command["verification"]
    texts = list(_texts(result.directory))
    assert any(name.startswith("timeline.zip/") for name, _ in texts)
    for name, text in texts:
        for env, value in secrets.items():
            assert value not in text, f"{env} leaked into {name}"


def test_experiment_with_a_remote_locust_worker(external: tuple[Any, dict[str, str]],
                                                tmp_path: Path) -> None:
    """``load.remote_workers`` through the runner: the run waits for a worker started with the
    documented command, and the worker's requests are the run's requests."""
    import os
    import socket
    import subprocess
    import sys

    from harness.experiment.runner import run_experiment

    ext, secrets = external
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exp = Experiment.model_validate({
        "name": "external-remote-locust", "hypothesis": "load from another machine counts",
        "load": {"generator": "locust", "rate": 20, "warmup": 2, "duration": 6,
                 "remote_workers": 1, "master_bind": "127.0.0.1", "master_port": port},
        "steady_state": {"duration": 3},
        "stop_conditions": [{"max_bad_fraction": 0.9, "window": 5}], "seed": 11})
    cli = Path(sys.executable).with_name("chaos-harness")
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen([str(cli), "locust-worker", "--master", f"127.0.0.1:{port}"],
                                  stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "CHAOS_API_KEY": secrets["CHAOS_API_KEY"]})
    try:
        result = run_experiment(exp, stack=ext, substrate="external",
                                report_dir=tmp_path / "reports")
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(5)
    rep = result.report
    log_text = (tmp_path / "worker.log").read_text(errors="replace")[-2000:]
    assert rep["generator"]["kind"] == "locust" and rep["requests"] > 50, (rep, log_text)
    assert rep["slos"][0]["bad"] == 0, (rep["verdict_reasons"], log_text)


def test_new_faults_on_the_local_substrate_itself(healed_stack: Any) -> None:
    """server-drain and the Redis admin faults need only HAProxyRuntime / RedisAdmin, which the
    local substrate has too."""
    tl = Timeline()
    drain = build_fault("server-drain", target="zone=az-c,kind=app")
    with drain.applied(healed_stack, tl, fault_id="l1") as h:
        assert h.landed and "app-az-c=DRAIN" in h.detail, h.detail
    assert h.recovered, h.recover_detail
    with build_fault("redis-master-hang", params={"hang_s": 1}).applied(
            healed_stack, tl, fault_id="l2") as h2:
        assert h2.landed, h2.detail
    assert h2.recovered, h2.recover_detail


def test_heal_touches_only_what_the_harness_added(external: tuple[Any, dict[str, str]]) -> None:
    """The owners' own toxic and their server in maintenance survive the harness's heal; a
    server not UP is refused by server-drain."""
    import httpx

    from harness.errors import FaultError
    from harness.stack.haproxy_api import runtime_command

    ext, _ = external
    api = ext.toxiproxy_url
    owners = {"name": "owners-latency", "type": "latency", "stream": "downstream",
              "toxicity": 1.0, "attributes": {"latency": 1, "jitter": 0}}
    httpx.post(f"{api}/proxies/provider-fallback/toxics", json=owners,
               timeout=2.0).raise_for_status()
    runtime_command(ext.haproxy_socket, "set server app/app-az-c state maint")
    try:
        tl = Timeline()
        ours = build_fault("latency", params={"proxy": "provider-fallback", "latency_ms": 5})
        handle = ours.start(ext, tl, fault_id="h1")  # left injected on purpose
        assert handle.landed, handle.detail
        with pytest.raises(FaultError, match="MAINT"):
            build_fault("server-drain", target="service=app-az-c").start(ext, tl,
                                                                          fault_id="h2")
        heal_all(ext, tl)
        toxics = {t["name"] for t in httpx.get(f"{api}/proxies/provider-fallback/toxics",
                                               timeout=2.0).json()}
        assert toxics == {"owners-latency"}, toxics
        assert haproxy_servers(ext.haproxy_socket, "app")["app-az-c"].startswith("MAINT")
    finally:
        httpx.delete(f"{api}/proxies/provider-fallback/toxics/owners-latency", timeout=2.0)
        runtime_command(ext.haproxy_socket, "set server app/app-az-c state ready")
