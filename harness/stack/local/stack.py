"""``LocalStack``: a running local run, driven through its record on disk.

The same object serves the process that started the stack (``open_stack``) and any other
process that attaches to it (``chaos-harness fault ...`` after ``chaos-harness up``): every
mutation (a restarted service's new PID) is written back to the run record under the store lock,
and every read refreshes from it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import subprocess
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, StackError
from harness.knobs import resolve_knobs
from harness.polling import PollTimeout, always, poll_until
from harness.stack.base import ProcessState, ServiceStatus, StackStatus
from harness.stack.local import clients
from harness.stack.local import netns as net
from harness.stack.local.configs import MASTER_NAME
from harness.stack.local.plan import PROVIDERS, SENTINEL_PORT, RunPlan, make_plan
from harness.stack.local.procs import (
    log_tail,
    proc_alive,
    proc_gone,
    proc_state,
    signal_group,
    spawn,
)
from harness.stack.local.ready import wait_ready
from harness.stack.local.record import RunRecord, RunStore
from harness.timeline import Timeline
from harness.topology import ZONES, Endpoint, Kind, Topology

__all__ = ["LocalStack"]


class LocalStack:
    """Stack + Killable + Pausable + Proxied + ProviderControl (see harness.stack.base)."""

    name = "local"
    sentinel_master = MASTER_NAME
    redis_admin = True  # RedisAdmin: the harness owns this Redis (SENTINEL FAILOVER, CLIENT PAUSE)

    def __init__(self, *, store: RunStore, record: RunRecord,
                 timeline: Timeline | None = None) -> None:
        self._store = store
        self._rec = record
        self._timeline = timeline
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self.plan: RunPlan = make_plan(record.run_id, netns_mode=record.netns_mode,
                                       octet=record.octet)
        self.topology: Topology = Topology.from_json(record.extra["topology"])
        self.state_dir = Path(record.state_dir)
        self.knobs: Mapping[str, Any] = resolve_knobs(record.extra.get("knobs", {}))
        self.toxiproxy_url = self.topology.service("toxiproxy").endpoint("main").url
        self._down = False
        #: seconds until each readiness check passed, from the last wait_ready()
        self.ready_timings: dict[str, float] = {}

    # -- record ----------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self._rec.run_id

    @property
    def record(self) -> RunRecord:
        return self._rec

    def _refresh(self) -> RunRecord:
        fresh = self._store.load(self._rec.key)
        if fresh is not None:
            self._rec = fresh
        return self._rec

    def _note(self, text: str, **attrs: Any) -> None:
        if self._timeline is not None:
            self._timeline.add_event("note", "stack.local", text=text, **attrs)

    @property
    def haproxy_socket(self) -> str:
        return str(self.state_dir / "haproxy.sock")

    def _service_names(self) -> list[str]:
        return [s.name for s in self.topology.services]

    def _check_service(self, service: str) -> None:
        if service not in self._rec.procs and service not in self._service_names():
            raise ConfigError("unknown service", field="service", value=service,
                              allowed=self._service_names())

    def _pid_start(self, service: str) -> tuple[int | None, int | None]:
        self._check_service(service)
        p = self._refresh().procs.get(service, {})
        return p.get("pid"), p.get("start")

    # -- Killable ----------------------------------------------------------------------------
    def pid(self, service: str) -> int | None:
        pid, start = self._pid_start(service)
        return pid if proc_alive(pid, start) else None

    def is_running(self, service: str) -> bool:
        return self.pid(service) is not None

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        pid, start = self._pid_start(service)
        if not proc_alive(pid, start):
            return
        assert pid is not None
        signal_group(pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            if sig != signal.SIGKILL:
                signal_group(pid, signal.SIGCONT)  # a paused process cannot exit
            with contextlib.suppress(PollTimeout):  # bounded wait, as before: then carry on
                poll_until(lambda: not proc_alive(pid, start), 5.0, interval=0.005,
                           what=f"{service} (pid {pid}) to exit")
        self._reap_child(service)
        self._note(f"signal {signal.Signals(sig).name} to {service}", service=service, pid=pid)

    def _reap_child(self, service: str) -> None:
        child = self._children.get(service)
        if child is not None and child.poll() is not None:
            del self._children[service]

    def hand_over(self) -> None:
        """Leave the run to the CLI (``chaos-harness up``): it stays up after this process
        exits, is not reaped as stale, and ``chaos-harness down`` removes it."""
        with self._store.lock():
            rec = self._refresh()
            rec.detached = True
            self._store.save(rec)
        self.detach()

    def detach(self) -> None:
        """Hand the processes over (``chaos-harness up``): they outlive this process."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            self._children.clear()

    def start(self, service: str) -> None:
        """(Re)start with the original command line and config file (which Redis/Sentinel may
        have rewritten since, as they would on a real host)."""
        self._check_service(service)
        self._reap_child(service)
        with self._store.lock():  # checked under the lock: two healers never start it twice
            rec = self._refresh()
            if proc_alive(rec.procs[service].get("pid"), rec.procs[service].get("start")):
                return
            spec = rec.spec(service)
            proc = spawn(spec, rec.key)
            self._children[service] = proc
            rec.set_proc(spec, proc.pid)
            self._store.save(rec)
        self._note(f"started {service}", service=service, pid=proc.pid)

    # -- Pausable ----------------------------------------------------------------------------
    def pause(self, service: str) -> None:
        pid = self.pid(service)
        if pid is None:
            raise StackError(f"cannot pause {service}: it is not running (expected a live "
                             f"process)", component=service, hint="start it first")
        signal_group(pid, signal.SIGSTOP)
        with contextlib.suppress(PollTimeout):
            poll_until(lambda: proc_state(pid) in ("T", "t"), 2.0, interval=0.002,
                       what=f"{service} (pid {pid}) to stop")

    def resume(self, service: str) -> None:
        pid = self.pid(service)
        if pid is not None:
            signal_group(pid, signal.SIGCONT)

    def is_paused(self, service: str) -> bool:
        pid = self.pid(service)
        return pid is not None and proc_state(pid) in ("T", "t")

    # -- ProcessProbe: /proc of this host ---------------------------------------------------------
    def process_state(self, service: str, pid: int | None = None) -> ProcessState:
        pid = self.pid(service) if pid is None else pid
        if proc_gone(pid):
            return "gone"
        assert pid is not None
        return "paused" if proc_state(pid) in ("T", "t") else "running"

    # -- Proxied / ProviderControl ---------------------------------------------------------------
    def proxies(self) -> Mapping[str, str]:
        names = [n for n in self.topology.service("toxiproxy").endpoints if n != "main"]
        return {n: ("haproxy" if n == "qdrant" else n) for n in names}

    def provider_control(self, provider: str) -> tuple[str, str]:
        name = provider.removeprefix("provider-")
        if name not in PROVIDERS:
            raise ConfigError("unknown provider", field="provider", value=provider,
                              allowed=list(PROVIDERS))
        url = self.topology.service(f"provider-{name}").endpoint("control").url
        return url, self._rec.extra["provider_token"]

    # -- roles -------------------------------------------------------------------------------
    def _sentinel_ask(self, *args: str) -> list[Any]:
        answers = []
        for zone in ZONES:
            with contextlib.suppress(Exception):
                answers.append(clients.redis_call(self.plan.ip(zone), SENTINEL_PORT, *args,
                                                  timeout=0.3))
        return answers

    def _redis_by_ip(self, ip: str) -> str | None:
        place = self.plan.place_of_ip(ip)
        return f"redis-{place}" if place in ZONES else None

    def roles(self, role: str) -> Sequence[str]:
        if role == "redis-master":
            votes: dict[str, int] = {}
            for ans in self._sentinel_ask("SENTINEL", "get-master-addr-by-name", MASTER_NAME):
                if ans:
                    name = self._redis_by_ip(ans[0])
                    if name:
                        votes[name] = votes.get(name, 0) + 1
            return [max(votes, key=lambda n: votes[n])] if votes else []
        if role == "redis-replica":
            master = set(self.roles("redis-master"))
            return [s.name for s in self.topology.of_kind(Kind.REDIS) if s.name not in master]
        try:
            return [s.name for s in self.topology.of_kind(Kind(role))]
        except ValueError:
            raise ConfigError("unknown role", field="role", value=role,
                              allowed=["redis-master", "redis-replica",
                                       *(k.value for k in Kind)]) from None

    # -- reachability, logs ----------------------------------------------------------------------
    def reachable(self, src: str, dst: Endpoint, timeout: float = 1.0) -> bool:
        if src not in self.plan.addresses:
            raise ConfigError("unknown place", field="src", value=src,
                              allowed=list(self.plan.addresses))
        return net.tcp_connect(dst.host, dst.port, netns=self.plan.netns(src),
                               source=self.plan.ip(src), timeout=timeout)

    def log_tail(self, service: str, lines: int = 20) -> list[str]:
        self._check_service(service)
        return log_tail(self._refresh().procs[service]["log"], lines)

    def log_path(self, service: str) -> str:
        return str(self._refresh().procs[service]["log"])

    # -- readiness -----------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 30.0) -> None:
        self.ready_timings = wait_ready(self, timeout=timeout)

    # -- heal ----------------------------------------------------------------------------------
    def _heal_network(self) -> list[str]:
        return []

    def undo_substrate_faults(self) -> list[str]:
        """Rejoin links, drop our iptables rules, resume paused and start stopped processes,
        put drained HAProxy servers back. Returns what was done (empty when nothing was needed).
        Toxiproxy and the provider simulators are healed by ``harness.faults.heal_all``."""
        done = self._heal_network()
        for service in self._rec.procs:
            if self.is_paused(service):
                self.resume(service)
                done.append(f"resumed {service}")
        for service in self._rec.procs:
            if not self.is_running(service):
                self.start(service)
                done.append(f"restarted {service}")
        done += self._heal_haproxy()
        if done:
            self._note("undo_substrate_faults", what=done)
        return done

    def _heal_haproxy(self) -> list[str]:
        """Servers an operator or a fault put in maintenance or drain go back to ready."""
        done: list[str] = []
        backends = ["app"] + (["qdrant"] if self.topology.vector_mode == "cluster" else [])
        deadline = time.monotonic() + 3.0  # one patience for all backends
        for backend in backends:

            def servers(backend: str = backend) -> dict[str, str]:
                return clients.haproxy_servers(self.haproxy_socket, backend)

            try:  # just restarted: the socket comes back in a moment
                states = poll_until(servers, deadline - time.monotonic(), interval=0.05,
                                    until=always, retry=(OSError,),
                                    what="the haproxy stats socket")
            except PollTimeout:
                return [*done, "haproxy stats socket not answering"]
            for server, state in states.items():
                if state.startswith(("MAINT", "DRAIN")):
                    clients.haproxy_command(self.haproxy_socket,
                                            f"set server {backend}/{server} state ready")
                    done.append(f"haproxy {backend}/{server} {state} -> ready")
        return done

    # -- status ----------------------------------------------------------------------------------
    def _service_status(self, name: str, hap: Mapping[str, str],
                        redis_roles: Mapping[str, str]) -> ServiceStatus:
        svc = self.topology.service(name)
        main = svc.endpoint("main")
        pid = self.pid(name)
        detail = []
        if pid is None:
            health = "stopped"
        elif proc_state(pid) in ("T", "t"):
            health = "paused"
        else:
            health = "up" if net.tcp_connect(main.host, main.port, netns=None, source=None,
                                             timeout=0.3) else "down"
        if svc.zone in ZONES and self.topology.zone_isolation and self._zone_cut(svc.zone):
            detail.append("zone isolated")
        role = svc.kind.value
        if svc.kind is Kind.REDIS:
            role = redis_roles.get(name, "unknown")
        if name in hap:
            detail.append(f"haproxy {hap[name]}")
        return ServiceStatus(name=name, kind=svc.kind.value, zone=svc.zone, address=main.address,
                             role=role, pid=pid, health=health, detail="; ".join(detail))

    def _zone_cut(self, zone: str) -> bool:
        return False

    def _redis_roles(self) -> dict[str, str]:
        out = {}
        for svc in self.topology.of_kind(Kind.REDIS):
            ep = svc.endpoint("main")
            try:
                role = str(clients.redis_call(ep.host, ep.port, "ROLE", timeout=0.3)[0])
                out[svc.name] = "replica" if role == "slave" else role
            except Exception:
                out[svc.name] = "unknown"
        return out

    def status(self) -> StackStatus:
        self._refresh()
        try:
            hap = clients.haproxy_servers(self.haproxy_socket, "app")
            if self.topology.vector_mode == "cluster":
                hap.update(clients.haproxy_servers(self.haproxy_socket, "qdrant"))
        except OSError:
            hap = {}
        roles = self._redis_roles()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            services = tuple(pool.map(lambda n: self._service_status(n, hap, roles),
                                      self._service_names()))
        return StackStatus(
            run_id=self.run_id, substrate=self.name, vector_mode=self.topology.vector_mode,
            zone_isolation=self.topology.zone_isolation, front_door=self.topology.front_door.url,
            api_key=self.topology.api_key, state_dir=str(self.state_dir), services=services,
            notes=tuple(self._rec.extra.get("notes", ())))

    # -- lifecycle -----------------------------------------------------------------------------
    def down(self) -> None:
        """Stop everything of this run and remove every trace (idempotent)."""
        if self._down:
            return
        self._down = True
        self._refresh()
        done = self._store.teardown(self._rec)
        for proc in self._children.values():
            with contextlib.suppress(Exception):
                proc.wait(timeout=1.0)
        self._note("stack down", what=done)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} run={self.run_id} front_door="
                f"{self.topology.front_door.url} vector={self.topology.vector_mode}>")
