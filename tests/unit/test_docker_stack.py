"""DockerStack's orchestration against an in-memory stand-in for the Docker SDK (pure logic: which
container is signalled, which network links a zone cut removes and restores, with which aliases).
The same operations against a real engine are in tests/integration/test_docker_engine_stack.py."""

from __future__ import annotations

import dataclasses
import signal
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError, StackError
from harness.stack import base
from harness.stack.docker import layout
from harness.stack.docker import stack as stack_mod
from harness.stack.docker.compose import ProjectCompose, compose_for
from harness.stack.docker.record import DockerRun
from harness.stack.docker.stack import DockerClusterStack, DockerStack
from harness.topology import ZONES, Endpoint

PROJECT = "chaos-unit"


class FakeNetwork:
    def __init__(self, short: str, client: FakeClient) -> None:
        self.short, self.name, self.client = short, f"{PROJECT}_{short}", client
        self.labels = {"com.docker.compose.project": PROJECT, "com.docker.compose.network": short}
        self.calls: list[tuple[str, str, Any]] = []

    def disconnect(self, container: FakeContainer, force: bool = False) -> None:
        assert force and container.nets.pop(self.name, None) is not None
        self.calls.append(("disconnect", container.service, None))

    def connect(self, container: FakeContainer, aliases: list[str] | None = None) -> None:
        assert self.name not in container.nets
        container.nets[self.name] = {"Aliases": aliases}
        self.calls.append(("connect", container.service, aliases))


class FakeContainer:
    def __init__(self, service: str, networks: tuple[str, ...]) -> None:
        self.service, self.status, self.pid = service, "running", 1000
        self.labels = {"com.docker.compose.project": PROJECT,
                       "com.docker.compose.service": service}
        self.nets: dict[str, Any] = {f"{PROJECT}_{n}": {"Aliases": [service]} for n in networks}
        self.signals: list[int] = []
        self.execs: list[list[str]] = []
        self.exec_code = 0

    @property
    def attrs(self) -> dict[str, Any]:
        return {"State": {"Pid": self.pid if self.status in ("running", "paused") else 0},
                "NetworkSettings": {"Networks": self.nets}}

    def reload(self) -> None:
        pass

    def kill(self, signal: int) -> None:
        if self.status == "paused":
            raise RuntimeError("container is paused. Unpause the container before killing")
        self.signals.append(signal)
        if signal in (9, 15, 2):
            self.status = "exited"

    def start(self) -> None:
        self.status, self.pid = "running", self.pid + 1

    def pause(self) -> None:
        self.status = "paused"

    def unpause(self) -> None:
        self.status = "running"

    def logs(self, tail: int) -> bytes:
        return b"".join(f"{self.service} line {i}\n".encode() for i in range(tail + 5))

    def exec_run(self, cmd: list[str]) -> tuple[int, bytes]:
        self.execs.append(cmd)
        return self.exec_code, b""


class _Manager:
    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def list(self, all: bool = False, filters: dict[str, list[str]] | None = None) -> list[Any]:
        wanted = dict(f.split("=", 1) for f in (filters or {}).get("label", []))
        return [i for i in self.items if all_match(i.labels, wanted)]


def all_match(labels: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


class FakeClient:
    def __init__(self) -> None:
        self.by_service = {s.name: FakeContainer(s.name, s.networks) for s in layout.SERVICES}
        self.by_network = {n: FakeNetwork(n, self) for n in layout.NETWORKS}
        self.containers = _Manager(list(self.by_service.values()))
        self.networks = _Manager(list(self.by_network.values()))


def _run(tmp_path: Path) -> DockerRun:
    return DockerRun(run_id="unit", project=PROJECT, context=str(tmp_path), compose_file=
                     layout.COMPOSE_FILE, state_dir=str(tmp_path / "state"), port_base=23000,
                     api_key="k", provider_key="p", control_token="tok", seed=1)


@pytest.fixture
def fake() -> FakeClient:
    return FakeClient()


@pytest.fixture
def stack(tmp_path: Path, fake: FakeClient) -> DockerStack:
    return DockerClusterStack(run=_run(tmp_path), client=fake)


def test_it_offers_every_capability_but_raw_network_faults(stack: DockerStack) -> None:
    for proto in (base.Stack, base.Killable, base.Pausable, base.ZoneIsolatable, base.Proxied,
                  base.ProviderControl, base.QdrantCluster):
        assert isinstance(stack, proto), proto.__name__
    assert not isinstance(stack, base.NetworkFaults)
    assert "docker" in base.CAPABILITY_SUBSTRATES["ZoneIsolatable"]


def test_kill_waits_for_exit_and_start_brings_it_back(stack: DockerStack, fake: FakeClient) -> None:
    assert stack.is_running("redis-az-b") and stack.pid("redis-az-b") == 1000
    stack.kill("redis-az-b")
    assert fake.by_service["redis-az-b"].signals == [signal.SIGKILL]
    assert not stack.is_running("redis-az-b") and stack.pid("redis-az-b") is None
    stack.kill("redis-az-b")  # already down: nothing sent
    assert fake.by_service["redis-az-b"].signals == [signal.SIGKILL]
    stack.start("redis-az-b")
    assert stack.is_running("redis-az-b") and stack.pid("redis-az-b") == 1001


def test_killing_a_paused_container_thaws_it_first(stack: DockerStack,
                                                   fake: FakeClient) -> None:
    stack.pause("sentinel-az-a")
    stack.kill("sentinel-az-a", signal.SIGTERM)
    assert fake.by_service["sentinel-az-a"].signals == [signal.SIGTERM]
    assert not stack.is_running("sentinel-az-a")


def test_pause_resume(stack: DockerStack, fake: FakeClient) -> None:
    stack.pause("app-az-c")
    assert stack.is_paused("app-az-c") and stack.is_running("app-az-c")
    stack.pause("app-az-c")  # idempotent
    stack.resume("app-az-c")
    assert not stack.is_paused("app-az-c")
    fake.by_service["app-az-c"].status = "exited"
    with pytest.raises(StackError, match="expected 'running'"):
        stack.pause("app-az-c")


def test_zone_cut_removes_the_zones_backbone_links_and_rejoin_restores_aliases(
        stack: DockerStack, fake: FakeClient) -> None:
    assert not any(stack.is_isolated(z) for z in ZONES)
    stack.isolate_zone("az-b")
    assert stack.is_isolated("az-b") and not stack.is_isolated("az-a")
    for kind in ("app", "redis", "sentinel", "qdrant"):
        nets = fake.by_service[f"{kind}-az-b"].nets
        assert set(nets) == {f"{PROJECT}_az-b"}  # still on its own zone network
        assert f"{PROJECT}_interzone" in fake.by_service[f"{kind}-az-a"].nets
    for edge in ("haproxy", "toxiproxy"):  # the edge tier is untouched: its ports stay put
        assert set(fake.by_service[edge].nets) == {f"{PROJECT}_edge", f"{PROJECT}_interzone"}
    stack.isolate_zone("az-b")  # twice is harmless
    stack.rejoin_zone("az-b")
    assert not stack.is_isolated("az-b")
    calls = [c for n in fake.by_network.values() for c in n.calls]
    assert sorted(c for c in calls if c[0] == "connect") == sorted(
        ("connect", f"{k}-az-b", [f"{k}-az-b"]) for k in ("app", "redis", "sentinel", "qdrant"))
    assert len([c for c in calls if c[0] == "disconnect"]) == 4
    assert fake.by_network["interzone"].calls and not fake.by_network["az-b"].calls
    with pytest.raises(ConfigError, match="unknown zone"):
        stack.isolate_zone("az-z")


def test_undo_substrate_faults_undoes_zones_and_containers(stack: DockerStack,
                                                          fake: FakeClient) -> None:
    stack.isolate_zone("az-c")
    stack.pause("haproxy")
    stack.kill("app-az-a")
    done = stack.undo_substrate_faults()
    assert done == ["rejoined zone az-c", "resumed haproxy", "restarted app-az-a"]
    assert not stack.is_isolated("az-c") and stack.is_running("app-az-a")
    assert stack.undo_substrate_faults() == []


def test_roles_follow_the_sentinel_majority(stack: DockerStack,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([["redis-az-b", "6379"], ["redis-az-b", "6379"], ["redis-az-a", "6379"]])

    def fake_call(host: str, port: int, *args: Any, timeout: float) -> Any:
        assert host == "127.0.0.1" and args[:2] == ("SENTINEL", "get-master-addr-by-name")
        return next(answers)

    monkeypatch.setattr(stack_mod, "redis_call", fake_call)
    assert stack.roles("redis-master") == ["redis-az-b"]
    assert stack.roles("app") == ["app-az-a", "app-az-b", "app-az-c"]
    with pytest.raises(ConfigError):
        stack.roles("leader")


def test_reachable_probes_from_inside_docker_with_container_addresses(
        stack: DockerStack, fake: FakeClient) -> None:
    dst = stack.topology.service("redis-az-c").endpoint("main")
    assert stack.reachable("az-a", dst, timeout=0.5)
    assert fake.by_service["app-az-a"].execs == [
        ["timeout", "0.5", "bash", "-c", "exec 3<>/dev/tcp/redis-az-c/6379"]]
    fake.by_service["haproxy"].exec_code = 1
    assert not stack.reachable("edge", stack.topology.front_door)
    fake.by_service["provider-primary"].status = "paused"
    stack.reachable("external", Endpoint(host="toxiproxy", port=9101))
    assert fake.by_service["provider-fallback"].execs[-1][-1] == "exec 3<>/dev/tcp/toxiproxy/9101"
    for s in ("app-az-b", "redis-az-b", "sentinel-az-b", "qdrant-az-b"):
        fake.by_service[s].status = "exited"
    with pytest.raises(StackError, match="no running container in place 'az-b'"):
        stack.reachable("az-b", dst)


def test_proxies_provider_control_qdrant_urls_and_logs(stack: DockerStack,
                                                       tmp_path: Path) -> None:
    assert stack.proxies() == {"provider-primary": "provider-primary",
                               "provider-fallback": "provider-fallback", "qdrant": "haproxy",
                               "redis-az-a": "redis-az-a", "redis-az-b": "redis-az-b",
                               "redis-az-c": "redis-az-c"}
    assert stack.provider_control("fallback") == ("http://127.0.0.1:23007", "tok")
    assert stack.provider_control("provider-primary")[0] == "http://127.0.0.1:23005"
    assert stack.qdrant_url("qdrant-az-b") == "http://127.0.0.1:23023"
    assert stack.toxiproxy_url == "http://127.0.0.1:23003"
    assert stack.haproxy_socket == str(tmp_path / "state" / "haproxy-runtime" / "admin.sock")
    assert stack.sentinel_master == "mymaster"
    with pytest.raises(ConfigError):
        stack.qdrant_url("app-az-a")
    assert stack.log_tail("haproxy", 3) == [f"haproxy line {i}" for i in (5, 6, 7)]
    with pytest.raises(ConfigError, match="unknown service"):
        stack.container("nope")


def test_project_compose_command_names_the_project_and_env_file(tmp_path: Path) -> None:
    run = _run(tmp_path)
    compose = compose_for(run)
    assert isinstance(compose, ProjectCompose)
    cmd = compose.docker_compose_command()
    assert cmd[:4] == ["docker", "compose", "--project-name", PROJECT]
    assert cmd[4:] == ["-f", layout.COMPOSE_FILE, "--profile", "qdrant",
                       "--env-file", str(run.env_file)]
    assert not compose.build and not compose.wait
    assert compose_for(run, build=True).build
    embedded = compose_for(dataclasses.replace(run, cluster=False))
    assert "--profile" not in embedded.docker_compose_command()


def test_up_and_down_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []

    def fake_run(self: Any, cmd: list[str], context: str | None = None) -> Any:
        ran.append(cmd)
        return None

    monkeypatch.setattr(ProjectCompose, "_run_command", fake_run)
    compose = compose_for(_run(tmp_path), build=True)
    compose.start()
    compose.stop(down=True)
    assert ran[0][-3:] == ["up", "--build", "--detach"]  # no flags newer Compose versions added
    assert ran[1][-2:] == ["down", "--volumes"]
    assert all(c[:4] == ["docker", "compose", "--project-name", PROJECT] for c in ran)


def test_down_resumes_paused_containers_first(stack: DockerStack, fake: FakeClient,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(stack_mod, "compose_down", lambda run: seen.extend(
        s for s, c in fake.by_service.items() if c.status == "paused"))
    stack.pause("redis-az-a")
    stack.down()
    assert seen == [] and not stack.is_paused("redis-az-a")
