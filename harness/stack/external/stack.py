"""``ExternalStack``: a deployment the harness did not start, described by a topology file.

Its capabilities follow from the file: the class of the object
:func:`~harness.stack.external.capabilities.make_external_stack` returns is composed from one mixin per section the file gives (``toxiproxy`` -> ``Proxied``,
``providers`` -> ``ProviderControl``, ``qdrant`` -> ``QdrantCluster``, ``haproxy`` ->
``HAProxyRuntime``, ``redis.admin: true`` -> ``RedisAdmin``), so the faults' ordinary
``isinstance(stack, Proxied)`` checks decide, and a missing one raises ``UnsupportedFault`` whose
reason names the section to add (:meth:`ExternalStack.capability_hint`). It is never
``Killable``, ``Pausable`` or ``ZoneIsolatable``: the harness has no process or network powers
over someone else's deployment (use a ``user-command`` fault for those).

It never starts or stops anything: ``down()`` only removes the harness's own scratch directory,
and ``harness.faults.heal_all`` removes only what the harness added (toxics named ``chaos-*``,
faults set on the provider simulators) besides reverting the faults it injected.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.errors import ConfigError, StackError
from harness.polling import PollTimeout, poll_until
from harness.stack import haproxy_api
from harness.stack.base import (
    HAProxyRuntime,
    ProviderControl,
    Proxied,
    QdrantCluster,
    RedisAdmin,
    ServiceStatus,
    StackStatus,
)
from harness.stack.external.model import TopologyFile
from harness.stack.external.safety import admit
from harness.stack.toxiproxy_api import toxiproxy_get
from harness.timeline import Timeline
from harness.topology import EDGE, EXTERNAL, Endpoint, Kind, Service, Topology

__all__ = ["ExternalStack", "build_topology", "capabilities"]

_HINTS = {
    "Proxied": "add a 'toxiproxy:' section (api + proxies) to the topology file",
    "ProviderControl": "add a 'providers:' section: provider endpoints that are the harness's "
                       "simulator, with their control API",
    "QdrantCluster": "add a 'qdrant:' section (collection + nodes) to the topology file",
    "HAProxyRuntime": "add 'haproxy: {runtime_api: tcp://HOST:PORT}' (a stats socket at level "
                      "admin) to the topology file",
    "RedisAdmin": "add a 'redis:' section with sentinels, nodes and 'admin: true' to the "
                  "topology file",
    "Killable": "the external substrate has no process powers; run your own command with the "
                "'user-command' fault (e.g. 'kubectl delete pod ...')",
    "Pausable": "the external substrate has no process powers; use 'redis-master-hang' for a "
                "Redis master, or a 'user-command' fault",
    "ZoneIsolatable": "the external substrate cannot cut zones; use a 'user-command' fault "
                      "(e.g. a NetworkPolicy applied with kubectl)",
    "NetworkFaults": "the external substrate cannot partition networks; use a 'user-command' "
                     "fault or Toxiproxy toxics",
}


def _endpoint(address: str, scheme: str = "tcp") -> Endpoint:
    if "://" in address:
        scheme, _, address = address.partition("://")
    host, _, port = address.rstrip("/").rpartition(":")
    return Endpoint(host=host.strip("[]"), port=int(port), scheme=scheme)


def build_topology(spec: TopologyFile, *, api_key: str) -> Topology:
    """The :class:`Topology` every consumer sees, from the file (pure)."""
    services: list[Service] = []
    for app in spec.apps:
        eps = {"main": _endpoint(app.url, "http")} if app.url else {}
        services.append(Service(name=app.name, kind=Kind.APP, zone=app.zone, endpoints=eps))
    front = _endpoint(spec.front_door.url, "http")
    if spec.haproxy is not None:
        eps = {"main": front}
        if spec.haproxy.runtime_api.startswith("tcp://"):
            eps["runtime"] = _endpoint(spec.haproxy.runtime_api.removeprefix("tcp://"))
        services.append(Service(name="haproxy", kind=Kind.HAPROXY, zone=EDGE, endpoints=eps))
    if spec.redis is not None:
        for node in spec.redis.nodes:
            services.append(Service(name=node.name, kind=Kind.REDIS, zone=node.zone,
                                    endpoints={"main": _endpoint(node.address, "redis")}))
        for node in spec.redis.sentinels:
            services.append(Service(name=node.name, kind=Kind.SENTINEL, zone=node.zone,
                                    endpoints={"main": _endpoint(node.address, "redis")}))
    if spec.qdrant is not None:
        for q in spec.qdrant.nodes:
            services.append(Service(name=q.name, kind=Kind.QDRANT, zone=q.zone,
                                    endpoints={"main": _endpoint(q.url, "http")}))
    if spec.toxiproxy is not None:
        services.append(Service(name="toxiproxy", kind=Kind.TOXIPROXY, zone=EDGE,
                                endpoints={"main": _endpoint(spec.toxiproxy.api, "http")}))
    for p in spec.providers:
        services.append(Service(name=f"provider-{p.name}", kind=Kind.PROVIDER, zone=EXTERNAL,
                                endpoints={"main": _endpoint(p.url, "http"),
                                           "control": _endpoint(p.control_url, "http")}))
    return Topology(run_id=f"external-{spec.name}", substrate="external",
                    services=tuple(services), front_door=front, api_key=api_key,
                    vector_mode="cluster" if spec.qdrant is not None else "unknown",
                    zone_isolation=False)


def _redis(ep: Endpoint, timeout: float = 0.5) -> redis.Redis:
    return redis.Redis(host=ep.host, port=ep.port, socket_timeout=timeout,
                       socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
                       decode_responses=True)


def _tcp(ep: Endpoint, timeout: float) -> bool:
    try:
        with socket.create_connection((ep.host, ep.port), timeout=timeout):
            return True
    except OSError:
        return False


class ExternalStack:
    """Stack over an existing deployment (see the module docstring). Build it with
    :func:`~harness.stack.external.capabilities.make_external_stack` (or
    ``open_external_stack``), which adds the capabilities."""

    name = "external"

    def __init__(self, *, spec: TopologyFile, file: str | None, secrets: Mapping[str, str],
                 timeline: Timeline | None = None, confirmed: bool = False) -> None:
        self.spec = spec
        self.file = file
        self._secrets = dict(secrets)
        self._timeline = timeline
        #: the user confirmed (``--yes-touch-external``) that faults may touch this deployment
        self.confirmed = confirmed
        auth = spec.front_door.auth
        key = self._secrets[auth.value_env] if auth else ""
        plain_key = auth is None or (auth.header.lower() == "x-api-key" and not auth.prefix)
        self.topology: Topology = build_topology(spec, api_key=key if plain_key else "")
        #: headers every load request carries besides X-API-Key (another auth header)
        self.request_headers: dict[str, str] = (
            {} if plain_key or auth is None
            else {auth.header: f"{auth.prefix} {key}" if auth.prefix else key})
        self.knobs: Mapping[str, Any] = {}
        self.state_dir = Path(tempfile.mkdtemp(prefix=f"chaos-external-{spec.name}-"))
        self._down = False
        if spec.redis is not None:
            self.sentinel_master = spec.redis.master_name
        if spec.prometheus is not None:  # observers ask Prometheus which targets are up
            self.prometheus_url = spec.prometheus.url

    # -- safety --------------------------------------------------------------------------------
    @property
    def max_rate(self) -> float:
        return self.spec.limits.max_rate

    def secret_values(self) -> tuple[str, ...]:
        return tuple(v for v in self._secrets.values() if v)

    def redact(self, text: str) -> str:
        """``text`` with every secret value of the topology file replaced by ``***``."""
        for value in sorted(self.secret_values(), key=len, reverse=True):
            text = text.replace(value, "***")
        return text

    def capability_hint(self, capability: str) -> str | None:
        hint = _HINTS.get(capability)
        return f"{hint} ({self.file or 'the topology file'})" if hint else None

    def admit(self, experiment: Any, faults: Sequence[Any]) -> None:
        admit(self, experiment, faults)

    # -- Stack ---------------------------------------------------------------------------------
    def _note(self, text: str, **attrs: Any) -> None:
        if self._timeline is not None:
            self._timeline.add_event("note", "stack.external", text=text, **attrs)

    def roles(self, role: str) -> Sequence[str]:
        if role == "redis-master":
            return self._sentinel_master()
        if role == "redis-replica":
            master = set(self._sentinel_master())
            return [s.name for s in self.topology.of_kind(Kind.REDIS) if s.name not in master]
        try:
            return [s.name for s in self.topology.of_kind(Kind(role))]
        except ValueError:
            raise ConfigError("unknown role", field="role", value=role,
                              allowed=["redis-master", "redis-replica",
                                       *(k.value for k in Kind)]) from None

    def _sentinel_master(self) -> list[str]:
        if self.spec.redis is None:
            return []
        by_addr = {(s.endpoint("main").host, s.endpoint("main").port): s.name
                   for s in self.topology.of_kind(Kind.REDIS)}
        votes: Counter[str] = Counter()
        for s in self.topology.of_kind(Kind.SENTINEL):
            client = _redis(s.endpoint("main"), 0.3)
            try:
                addr = client.execute_command("SENTINEL", "get-master-addr-by-name",
                                              self.spec.redis.master_name)
            except redis.RedisError:
                continue
            finally:
                client.close()
            if addr:
                name = by_addr.get((str(addr[0]), int(addr[1])))
                if name:
                    votes[name] += 1
        return [votes.most_common(1)[0][0]] if votes else []

    def reachable(self, src: str, dst: Endpoint, timeout: float = 1.0) -> bool:
        if src not in (EDGE, EXTERNAL):
            raise StackError(f"the external substrate can test reachability only from the "
                             f"harness's host ('{EDGE}'), not from {src!r}",
                             component="external", hint="use a probe from the harness host")
        return _tcp(dst, timeout)

    def log_tail(self, service: str, lines: int = 20) -> list[str]:
        return [f"(the external substrate has no access to {service}'s logs)"]

    def _problems(self) -> list[str]:
        out = []
        front = self.topology.front_door
        if not _tcp(front, 1.0):
            out.append(f"front door {front.address} refuses connections")
        hap = getattr(self, "haproxy_socket", None)
        if hap and self.spec.haproxy is not None:
            try:
                haproxy_api.haproxy_servers(hap, self.spec.haproxy.backend)
            except (OSError, ValueError) as exc:
                out.append(f"HAProxy runtime API {hap}: {exc}")
        for s in self.topology.of_kind(Kind.SENTINEL):
            client = _redis(s.endpoint("main"))
            try:
                client.ping()
            except redis.RedisError as exc:
                out.append(f"{s.name} does not answer PING: {exc}")
            finally:
                client.close()
        if self.spec.toxiproxy is not None:
            try:
                toxiproxy_get(self.spec.toxiproxy.api, "/version")
            except (httpx.HTTPError, ValueError) as exc:
                out.append(f"Toxiproxy API {self.spec.toxiproxy.api}: {exc}")
        for p in self.spec.providers:
            try:
                httpx.get(p.control_url + "/faults", timeout=1.0,
                          headers={"Authorization": f"Bearer {self._secrets[p.token_env]}"},
                          ).raise_for_status()
            except httpx.HTTPError as exc:
                out.append(f"provider {p.name} control API: {type(exc).__name__}")
        return out

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Every part the file describes answers (front door, HAProxy API, sentinels,
        Toxiproxy, provider control APIs); the steady-state check judges the service itself."""
        try:
            poll_until(self._problems, timeout, interval=0.5, until=lambda p: not p,
                       what="every part of the topology file answering")
        except PollTimeout as timed_out:
            raise StackError("the deployment described by the topology file is not "
                             "reachable: " + "; ".join(timed_out.last), component="external",
                             hint=f"check the addresses in {self.file or 'the file'} "
                                  "and that this host may reach them") from None

    def undo_substrate_faults(self) -> list[str]:
        """Nothing: the harness has no process or network powers here. What it added to the
        deployment (toxics named ``chaos-*``, faults set on the provider simulators) is removed
        by ``harness.faults.heal_all``, which never resets Toxiproxy on this substrate."""
        return []

    def status(self) -> StackStatus:
        services = []
        master = set(self._sentinel_master())
        for s in self.topology.services:
            ep = s.endpoints.get("main")
            health = "unknown" if ep is None else ("up" if _tcp(ep, 0.5) else "down")
            role = s.kind.value
            if s.kind is Kind.REDIS:
                role = "master" if s.name in master else "replica"
            services.append(ServiceStatus(name=s.name, kind=s.kind.value, zone=s.zone,
                                          address=ep.address if ep else "-", role=role, pid=None,
                                          health=health))
        return StackStatus(run_id=self.topology.run_id, substrate=self.name,
                           vector_mode=self.topology.vector_mode, zone_isolation=False,
                           front_door=self.topology.front_door.url, api_key="***",
                           state_dir=str(self.state_dir), services=tuple(services),
                           notes=(f"described by {self.file}",) if self.file else ())

    def down(self) -> None:
        """Forget the deployment: removes the harness's scratch directory, stops nothing."""
        if self._down:
            return
        self._down = True
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def __repr__(self) -> str:
        return (f"<ExternalStack {self.spec.name} front_door={self.topology.front_door.url} "
                f"capabilities={sorted(capabilities(self))}>")


def capabilities(stack: Any) -> tuple[str, ...]:
    """Names of the capabilities this stack object has."""
    caps = {"Proxied": Proxied, "ProviderControl": ProviderControl,
            "QdrantCluster": QdrantCluster, "HAProxyRuntime": HAProxyRuntime,
            "RedisAdmin": RedisAdmin}
    return tuple(n for n, p in caps.items() if isinstance(stack, p))
