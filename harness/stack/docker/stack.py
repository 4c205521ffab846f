"""``DockerStack``: a running compose project, driven through the Docker SDK.

Capabilities (see :mod:`harness.stack.base`): Killable (``kill``/``start`` of the container),
Pausable (cgroup freezer: ``pause``/``unpause``), ZoneIsolatable (network disconnect/connect,
service aliases re-added), Proxied (Toxiproxy), ProviderControl and QdrantCluster. Containers are
found by their compose labels, so another process can attach from the run record alone.
"""

from __future__ import annotations

import concurrent.futures
import signal
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, StackError
from harness.knobs import resolve_knobs
from harness.polling import PollTimeout, poll_until
from harness.stack import haproxy_api
from harness.stack.base import ProcessState, ServiceStatus, StackStatus
from harness.stack.docker import clients, layout
from harness.stack.docker.compose import compose_down
from harness.stack.docker.configs import COLLECTION
from harness.stack.docker.ready import wait_ready
from harness.stack.docker.record import DockerRun
from harness.stack.redis_api import redis_call
from harness.timeline import Timeline
from harness.topology import EDGE, EXTERNAL, ZONES, Endpoint, Kind, Topology

__all__ = ["DockerClusterStack", "DockerStack", "make_docker_stack"]

_PROJECT = "com.docker.compose.project"
_SERVICE = "com.docker.compose.service"
_NETWORK = "com.docker.compose.network"
#: containers to run a reachability probe from, per place (first running one wins)
_PROBE_FROM: Mapping[str, tuple[str, ...]] = {
    **{z: (f"app-{z}", f"redis-{z}", f"sentinel-{z}", f"qdrant-{z}") for z in ZONES},
    EDGE: ("haproxy",),
    EXTERNAL: ("provider-primary", "provider-fallback"),
}


class DockerStack:
    """Stack + Killable + Pausable + ProcessProbe + ZoneIsolatable + Proxied + ProviderControl;
    :class:`DockerClusterStack` adds QdrantCluster when the run has the 3-node Qdrant cluster."""

    name = "docker"
    sentinel_master = layout.SENTINEL_MASTER
    redis_admin = True  # RedisAdmin: the harness owns this Redis (SENTINEL FAILOVER, CLIENT PAUSE)

    def __init__(self, *, run: DockerRun, client: Any, timeline: Timeline | None = None) -> None:
        self.run = run
        self._client = client
        self._timeline = timeline
        self.state_dir = Path(run.state_dir)
        self.knobs: Mapping[str, Any] = resolve_knobs(run.knobs)
        self.services = layout.run_services(cluster=run.cluster)
        self.topology: Topology = layout.build_topology(run_id=run.run_id,
                                                        port_base=run.port_base,
                                                        api_key=run.api_key, cluster=run.cluster)
        self.toxiproxy_url = self.topology.service("toxiproxy").endpoint("main").url

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def haproxy_socket(self) -> str:
        """HAProxy's runtime API as a UNIX socket on this host (bind-mounted from the container;
        a local engine is required). The same API is on TCP: ``endpoint("runtime")``."""
        return str(self.run.haproxy_runtime_dir / "admin.sock")

    def _note(self, text: str, **attrs: Any) -> None:
        if self._timeline is not None:
            self._timeline.add_event("note", "stack.docker", text=text, **attrs)

    # -- Docker objects --------------------------------------------------------------------------
    def _check_service(self, service: str) -> None:
        names = [s.name for s in self.services]
        if service not in names:
            raise ConfigError("unknown service", field="service", value=service, allowed=names)

    def container(self, service: str) -> Any:
        """The service's container (running or not). StackError when compose never made it."""
        self._check_service(service)
        found = self._client.containers.list(all=True, filters={"label": [
            f"{_PROJECT}={self.run.project}", f"{_SERVICE}={service}"]})
        if not found:
            raise StackError(f"no container for service {service!r} in compose project "
                             f"{self.run.project!r} (expected one)", component=service,
                             hint="the stack is down or was removed; run 'chaos-harness up'")
        return found[0]

    def network(self, name: str) -> Any:
        """A compose network of this project by its short name (``az-a``, ``interzone`` ...)."""
        found = self._client.networks.list(filters={"label": [
            f"{_PROJECT}={self.run.project}", f"{_NETWORK}={name}"]})
        if not found:
            raise StackError(f"no Docker network {name!r} in project {self.run.project!r}",
                             component="docker", hint="the stack is down; run 'chaos-harness up'")
        return found[0]

    def _state(self, service: str) -> str:
        c = self.container(service)
        c.reload()
        return str(c.status)  # created | running | paused | restarting | exited | dead

    # -- Killable --------------------------------------------------------------------------------
    def pid(self, service: str) -> int | None:
        c = self.container(service)
        c.reload()
        pid = int(c.attrs.get("State", {}).get("Pid") or 0)
        return pid if c.status in ("running", "paused") and pid > 0 else None

    def is_running(self, service: str) -> bool:
        return self._state(service) in ("running", "paused")

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        c = self.container(service)
        c.reload()
        if c.status not in ("running", "paused"):
            return
        terminating = sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
        if terminating and c.status == "paused":
            # Engines refuse to signal a frozen container (or queue it until it thaws): thaw it,
            # then signal at once, as a SIGCONT right before the kill would on a host.
            c.unpause()
        c.kill(signal=int(sig))
        if terminating:
            self._wait_state(service, lambda s: s not in ("running", "paused"), 10.0,
                             f"exit after signal {signal.Signals(sig).name}")
        self._note(f"signal {signal.Signals(sig).name} to {service}", service=service)

    def start(self, service: str) -> None:
        """Start the stopped container again: same image, command and mounts; Redis and Sentinel
        keep the config files they rewrote (as a restarted server on a host would)."""
        c = self.container(service)
        c.reload()
        if c.status in ("running", "paused"):
            return
        c.start()
        self._wait_state(service, lambda s: s == "running", 10.0, "run after start")
        self._note(f"started {service}", service=service)

    def _wait_state(self, service: str, ok: Any, timeout: float, what: str) -> None:
        try:
            poll_until(lambda: self._state(service), timeout, interval=0.02, until=ok,
                       what=f"{service} to {what}")
        except PollTimeout as timed_out:
            raise StackError(f"container did not {what} within {timeout:g} s "
                             f"(state {timed_out.last!r})", component=service,
                             log_tail=self.log_tail(service), hint="see docker logs") from None

    # -- Pausable --------------------------------------------------------------------------------
    def pause(self, service: str) -> None:
        c = self.container(service)
        c.reload()
        if c.status == "paused":
            return
        if c.status != "running":
            raise StackError(f"cannot pause {service}: container is {c.status!r}, expected "
                             "'running'", component=service, hint="start it first")
        c.pause()

    def resume(self, service: str) -> None:
        c = self.container(service)
        c.reload()
        if c.status == "paused":
            c.unpause()

    def is_paused(self, service: str) -> bool:
        return self._state(service) == "paused"

    # -- PeerAddressed ----------------------------------------------------------------------------
    def peer_address(self, service: str) -> tuple[str, int]:
        """The service name (a Docker DNS alias) and its main container port."""
        svc = layout.service(service)
        main = next((p for p in svc.ports if p.endpoint == "main"), svc.ports[0])
        return service, main.container_port

    # -- ProcessProbe: the Engine API and the cgroup freezer --------------------------------------
    def process_state(self, service: str, pid: int | None = None) -> ProcessState:
        """From the container's state (Engine API): ``gone`` when it is not running or runs a
        different instance than ``pid`` (a restart gives the init process a new PID);
        ``paused`` when the engine reports it paused and the freezer agrees (where the cgroup
        v1 freezer is visible on this host, its ``freezer.state`` must read ``FROZEN``)."""
        c = self.container(service)
        c.reload()
        state = c.attrs.get("State", {})
        current = int(state.get("Pid") or 0)
        if c.status not in ("running", "paused") or current <= 0:
            return "gone"
        if pid is not None and current != pid:
            return "gone"
        if c.status == "paused" or state.get("Paused"):
            return "paused" if _freezer_state(c.id) in (None, "FROZEN") else "running"
        return "running"

    # -- ZoneIsolatable --------------------------------------------------------------------------
    def _zone_links(self, zone: str) -> list[tuple[str, str]]:
        """(network, service) attachments that a zone cut removes: the zone's containers on the
        interzone backbone (the edge tier reaches the zones over it too)."""
        if zone not in ZONES:
            raise ConfigError("unknown zone", field="zone", value=zone, allowed=ZONES)
        return [(layout.INTERZONE_NETWORK, s.name) for s in self.services if s.zone == zone]

    def _attached(self, network: str, service: str) -> bool:
        c = self.container(service)
        c.reload()
        full = self.network(network).name
        return full in (c.attrs.get("NetworkSettings", {}).get("Networks") or {})

    def isolate_zone(self, zone: str) -> None:
        """Cut ``zone`` from the edge and the other zones: its containers leave the interzone
        backbone, keep running, and still reach each other over the zone network."""
        for net, service in self._zone_links(zone):
            if self._attached(net, service):
                self.network(net).disconnect(self.container(service), force=True)
        self._note(f"isolated zone {zone}", zone=zone)

    def rejoin_zone(self, zone: str) -> None:
        for net, service in self._zone_links(zone):
            if not self._attached(net, service):
                self.network(net).connect(self.container(service), aliases=[service])
        self._note(f"rejoined zone {zone}", zone=zone)

    def is_isolated(self, zone: str) -> bool:
        return any(not self._attached(net, svc) for net, svc in self._zone_links(zone))

    # -- Proxied / ProviderControl / QdrantCluster -------------------------------------------------
    def proxies(self) -> Mapping[str, str]:
        return {name: upstream.split(":", 1)[0]
                for name, (_, upstream) in layout.PROXIES.items()}

    def provider_control(self, provider: str) -> tuple[str, str]:
        name = provider.removeprefix("provider-")
        if name not in ("primary", "fallback"):
            raise ConfigError("unknown provider", field="provider", value=provider,
                              allowed=["primary", "fallback"])
        url = self.topology.service(f"provider-{name}").endpoint("control").url
        return url, self.run.control_token

    # -- roles -----------------------------------------------------------------------------------
    def _sentinel_ask(self, *args: str) -> list[Any]:
        answers = []
        for svc in self.topology.of_kind(Kind.SENTINEL):
            ep = svc.endpoint("main")
            try:
                answers.append(redis_call(ep.host, ep.port, *args, timeout=0.3))
            except Exception:  # a dead or paused sentinel has no vote
                continue
        return answers

    def roles(self, role: str) -> Sequence[str]:
        """``redis-master``: the master most sentinels name (announce-hostnames: the service
        name itself); ``redis-replica``: the other Redis services; a kind: its services."""
        redis_names = {s.name for s in self.topology.of_kind(Kind.REDIS)}
        if role == "redis-master":
            votes: dict[str, int] = {}
            for ans in self._sentinel_ask("SENTINEL", "get-master-addr-by-name",
                                          layout.SENTINEL_MASTER):
                if ans and str(ans[0]) in redis_names:
                    votes[str(ans[0])] = votes.get(str(ans[0]), 0) + 1
            return [max(votes, key=lambda n: votes[n])] if votes else []
        if role == "redis-replica":
            master = set(self.roles("redis-master"))
            return [n for n in sorted(redis_names) if n not in master]
        try:
            return [s.name for s in self.topology.of_kind(Kind(role))]
        except ValueError:
            raise ConfigError("unknown role", field="role", value=role,
                              allowed=["redis-master", "redis-replica",
                                       *(k.value for k in Kind)]) from None

    # -- reachability, logs ----------------------------------------------------------------------
    def _inside(self, dst: Endpoint) -> tuple[str, int]:
        """Where ``dst`` (a host-published endpoint of ours) lives inside the Docker networks."""
        for s in layout.SERVICES:
            for p in s.ports:
                if dst.port == self.run.port_base + p.offset and dst.host in ("127.0.0.1",
                                                                              "localhost"):
                    return s.name, p.container_port
        return dst.host, dst.port

    def reachable(self, src: str, dst: Endpoint, timeout: float = 1.0) -> bool:
        """A TCP connect from a container in place ``src`` to ``dst``, inside Docker."""
        if src not in _PROBE_FROM:
            raise ConfigError("unknown place", field="src", value=src, allowed=list(_PROBE_FROM))
        host, port = self._inside(dst)
        for service in _PROBE_FROM[src]:
            if self._state(service) != "running":
                continue
            cmd = ["timeout", f"{timeout:g}", "bash", "-c", f"exec 3<>/dev/tcp/{host}/{port}"]
            code, _ = self.container(service).exec_run(cmd)
            return int(code) == 0
        raise StackError(f"no running container in place {src!r} to probe from (tried "
                         f"{list(_PROBE_FROM[src])})", component=_PROBE_FROM[src][0],
                         hint="start or resume one of them")

    def log_tail(self, service: str, lines: int = 20) -> list[str]:
        try:
            raw = self.container(service).logs(tail=lines)
        except Exception as exc:  # the container is gone: say so instead of failing
            return [f"(no logs: {exc})"]
        return raw.decode(errors="replace").splitlines()[-lines:]

    # -- readiness, heal -------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_ready(self, timeout=timeout)

    def undo_substrate_faults(self) -> list[str]:
        """Rejoin cut zones, resume paused and start stopped containers. Returns what was done
        (empty when nothing was needed). Toxiproxy and the provider simulators are healed by
        ``harness.faults.heal_all``."""
        done = []
        for zone in ZONES:
            if self.is_isolated(zone):
                self.rejoin_zone(zone)
                done.append(f"rejoined zone {zone}")
        for s in self.services:
            if self.is_paused(s.name):
                self.resume(s.name)
                done.append(f"resumed {s.name}")
        for s in self.services:
            if not self.is_running(s.name):
                self.start(s.name)
                done.append(f"restarted {s.name}")
        if done:
            self._note("undo_substrate_faults", what=done)
        return done

    # -- status ----------------------------------------------------------------------------------
    def _service_status(self, name: str, hap: Mapping[str, str],
                        redis_roles: Mapping[str, str], cut: set[str]) -> ServiceStatus:
        svc = self.topology.service(name)
        main = svc.endpoint("main")
        try:
            state = self._state(name)
        except StackError:
            state = "missing"
        health = {"running": "up", "paused": "paused", "missing": "unknown"}.get(state, "stopped")
        if health == "up" and not _tcp_open(main.host, main.port):
            health = "down"
        detail = [f"container {state}"]
        if svc.zone in cut:
            detail.append("zone isolated")
        if name in hap:
            detail.append(f"haproxy {hap[name]}")
        role = redis_roles.get(name, "unknown") if svc.kind is Kind.REDIS else svc.kind.value
        return ServiceStatus(name=name, kind=svc.kind.value, zone=svc.zone, address=main.address,
                             role=role, pid=self.pid(name) if state != "missing" else None,
                             health=health, detail="; ".join(detail))

    def _redis_roles(self) -> dict[str, str]:
        out = {}
        for svc in self.topology.of_kind(Kind.REDIS):
            ep = svc.endpoint("main")
            try:
                out[svc.name] = str(redis_call(ep.host, ep.port, "ROLE",
                                                             timeout=0.3)[0])
            except Exception:
                out[svc.name] = "unknown"
        return out

    def haproxy_states(self) -> dict[str, str]:
        """HAProxy's view of the app and Qdrant servers (empty when HAProxy is unreachable)."""
        ep = self.topology.service("haproxy").endpoint("runtime")
        try:
            text = clients.haproxy_command(ep.host, ep.port, "show stat")
        except OSError:
            return {}
        return {**haproxy_api.backend_states(text, "app"),
                **haproxy_api.backend_states(text, "qdrant")}

    def status(self) -> StackStatus:
        hap = self.haproxy_states()
        roles = self._redis_roles()
        cut = {z for z in ZONES if self.is_isolated(z)}
        names = [s.name for s in self.topology.services]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            services = tuple(pool.map(lambda n: self._service_status(n, hap, roles, cut), names))
        return StackStatus(
            run_id=self.run_id, substrate=self.name, vector_mode=self.topology.vector_mode,
            zone_isolation=True, front_door=self.topology.front_door.url,
            api_key=self.topology.api_key, state_dir=str(self.state_dir), services=services,
            notes=(f"compose project {self.run.project}",))

    # -- lifecycle -------------------------------------------------------------------------------
    def hand_over(self) -> None:
        """Leave the run to the CLI (``chaos-harness up``). Nothing to do: containers outlive
        this process already, and ``attach_docker`` finds the run by its record."""
        self._note("handed over", project=self.run.project)

    def down(self) -> None:
        """Remove the project's containers, networks and volumes (idempotent)."""
        for s in self.services:  # older engines refuse to stop a paused container
            try:
                self.resume(s.name)
            except Exception:  # already gone, or the engine went away: down reports it
                continue
        compose_down(self.run)
        self._note("stack down", project=self.run.project)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} run={self.run_id} project={self.run.project} "
                f"front_door={self.topology.front_door.url}>")


class DockerClusterStack(DockerStack):
    """A docker run with the 3-node Qdrant cluster: DockerStack + QdrantCluster."""

    qdrant_collection = COLLECTION

    def qdrant_url(self, service: str) -> str:
        svc = self.topology.service(service)
        if svc.kind is not Kind.QDRANT:
            raise ConfigError("not a Qdrant node", field="service", value=service,
                              allowed=[s.name for s in self.topology.of_kind(Kind.QDRANT)])
        return svc.endpoint("main").url


def make_docker_stack(*, run: DockerRun, client: Any, timeline: Timeline | None = None
                      ) -> DockerStack:
    """The stack object for a run: with the QdrantCluster capability only when it has one."""
    cls = DockerClusterStack if run.cluster else DockerStack
    return cls(run=run, client=client, timeline=timeline)


#: where dockerd's cgroupfs driver puts a container's cgroup v1 freezer
_FREEZER = ("/sys/fs/cgroup/freezer/docker/{id}/freezer.state",
            "/sys/fs/cgroup/freezer/system.slice/docker-{id}.scope/freezer.state")


def _freezer_state(container_id: str) -> str | None:
    """``FROZEN`` / ``FREEZING`` / ``THAWED`` from the container's freezer cgroup, None where it
    is not visible (cgroup v2, a remote engine, Docker Desktop)."""
    for pattern in _FREEZER:
        try:
            return Path(pattern.format(id=container_id)).read_text().strip()
        except OSError:
            continue
    return None


def _tcp_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
