"""``Observers(stack, timeline)``: every observer the stack supports, as one context manager.

Starts one thread per observed thing (HAProxy, each sentinel's pub/sub, the Sentinel/replication
poller, each app replica, each Qdrant node when the stack has a cluster, the provider
simulators), all writing ``obs.state`` / ``obs.event`` to the run's timeline on its clock.
Leaving the block stops and joins every thread, records the providers' final counters and
closes every connection. A part that cannot be set up is recorded as ``observer/<name>``
unhealthy and the rest run: observing never kills a run.

What is observed, and from where on the stack:

* HAProxy: ``stack.haproxy_socket`` (path of the runtime API socket; when that path does not
  exist here, the ``haproxy`` service's ``runtime`` TCP endpoint; skipped with a ``note`` when
  the substrate has neither);
* Sentinel: the ``sentinel`` services' ``main`` endpoints, master ``stack.sentinel_master``
  (default ``mymaster``); addresses are named after the topology's ``redis``/``sentinel``
  services;
* app replicas: the ``app`` services' ``main`` endpoints (``/readyz``);
* Qdrant: when the stack is a :class:`~harness.stack.base.QdrantCluster`;
* providers: when the stack is a :class:`~harness.stack.base.ProviderControl`;
* Prometheus (``prom/<job>/<instance>`` up or down): when the stack has ``prometheus_url``
  (external substrate, ``prometheus:`` in the topology file).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.probes.base import Poller, StateRecorder
from harness.probes.haproxy import HAProxyObserver
from harness.probes.http_probes import AppObserver, ProviderObserver, QdrantObserver
from harness.probes.sentinel import SentinelListener, SentinelPoller
from harness.stack.base import PeerAddressed, ProviderControl, QdrantCluster
from harness.timeline import Timeline
from harness.topology import Kind

__all__ = ["Observers"]

_PROVIDERS = ("primary", "fallback")


class Observers:
    """Context manager running every supported observer (see the module docstring)."""

    def __init__(self, stack: Any, timeline: Timeline, *, interval_s: float = 0.1,
                 haproxy: bool = True, sentinel: bool = True, apps: bool = True,
                 qdrant: bool = True, providers: bool = True,
                 counters_every_s: float = 5.0) -> None:
        self.stack, self.timeline, self.interval_s = stack, timeline, interval_s
        self._want = {"haproxy": haproxy, "sentinel": sentinel, "apps": apps, "qdrant": qdrant,
                      "providers": providers}
        self._counters_every_s = counters_every_s
        self.recorder = StateRecorder(timeline, "observers")
        self._stop = threading.Event()
        self._threads: list[Poller | SentinelListener] = []
        self._closers: list[Callable[[], None]] = []
        self._providers: list[ProviderObserver] = []
        self.final_counters: dict[str, dict[str, int] | None] = {}
        self._started = False

    # -- public ----------------------------------------------------------------------------
    def __enter__(self) -> Observers:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for name, build in (("haproxy", self._haproxy), ("sentinel", self._sentinel),
                            ("apps", self._apps), ("qdrant", self._qdrant),
                            ("providers", self._provider_observers),
                            ("prometheus", self._prometheus)):
            if not self._want.get(name, True):
                continue
            try:
                build()
            except Exception as exc:  # a part that cannot start is recorded, the rest runs
                self.recorder.state(f"observer/{name}", f"failing: {type(exc).__name__}", False,
                                    detail=str(exc)[:300], signal="probe")
        for t in self._threads:
            t.start()
        self.timeline.add_event("note", "observers", text="observers started",
                                observers=sorted(t.name for t in self._threads),
                                interval_s=self.interval_s)

    def stop(self) -> None:
        if not self._started or self._stop.is_set():
            return
        self._stop.set()
        stuck = [t.name for t in self._threads if not t.join(5.0)]
        for p in self._providers:
            self.final_counters[p.name] = p.final()
        for close in self._closers:
            with contextlib.suppress(Exception):
                close()
        if stuck:
            self.timeline.add_event("note", "observers", text="observer threads did not stop",
                                    observers=stuck)

    def subjects(self) -> dict[str, tuple[str, bool]]:
        """The latest (state, healthy) of every subject observed so far."""
        return self.recorder.subjects()

    def polls(self) -> dict[str, int]:
        return {t.name: t.polls for t in self._threads if isinstance(t, Poller)}

    # -- building ----------------------------------------------------------------------------
    def _poller(self, name: str, poll: Callable[[], None], interval_s: float | None = None) -> None:
        self._threads.append(Poller(name, poll, self.recorder,
                                    interval_s=interval_s or self.interval_s, stop=self._stop))

    def _haproxy(self) -> None:
        sock = getattr(self.stack, "haproxy_socket", None)
        if sock and not Path(str(sock)).exists():  # e.g. docker without a bind mount: use TCP
            hap = [s for s in self.stack.topology.of_kind(Kind.HAPROXY) if "runtime" in
                   s.endpoints]
            if hap:
                sock = f"tcp://{hap[0].endpoint('runtime').address}"
        if not sock:
            self.timeline.add_event("note", "observers",
                                    text="HAProxy not observed: the stack exposes no "
                                         "haproxy_socket")
            return
        obs = HAProxyObserver(str(sock), self.recorder)
        self._poller("haproxy", obs.poll)

    def _addresses(self) -> dict[str, str]:
        """Redis/Sentinel addresses -> service names: where the harness reaches each server and,
        on a :class:`~harness.stack.base.PeerAddressed` stack (docker), the address the servers
        use among themselves, which is what Sentinel reports."""
        names = {}
        peered = isinstance(self.stack, PeerAddressed)
        for svc in self.stack.topology.services:
            if svc.kind in (Kind.REDIS, Kind.SENTINEL) and "main" in svc.endpoints:
                names[svc.endpoint("main").address] = svc.name
                if peered:
                    host, port = self.stack.peer_address(svc.name)
                    names[f"{host}:{port}"] = svc.name
        return names

    def _sentinel(self) -> None:
        sentinels = {s.name: (s.endpoint("main").host, s.endpoint("main").port)
                     for s in self.stack.topology.of_kind(Kind.SENTINEL)}
        if not sentinels:
            return
        names = self._addresses()
        master = getattr(self.stack, "sentinel_master", None) or "mymaster"
        for name, (host, port) in sentinels.items():
            self._threads.append(SentinelListener(name, host, port, self.recorder, names=names,
                                                  master=master, stop=self._stop))
        replicas = max(0, len(self.stack.topology.of_kind(Kind.REDIS)) - 1)
        redis_nodes = {s.name: (s.endpoint("main").host, s.endpoint("main").port)
                       for s in self.stack.topology.of_kind(Kind.REDIS) if "main" in s.endpoints}
        poller = SentinelPoller(sentinels, self.recorder, names=names, master=master,
                                expected_replicas=replicas, endpoints=redis_nodes)
        self._closers.append(poller.close)
        self._poller("sentinel-poll", poller.poll)

    def _apps(self) -> None:
        for svc in self.stack.topology.of_kind(Kind.APP):
            if "main" not in svc.endpoints:  # external: a replica the harness cannot reach
                continue
            ep = svc.endpoint("main")
            obs = AppObserver(svc.name, f"http://{ep.host}:{ep.port}", self.recorder)
            self._closers.append(obs.close)
            self._poller(f"app-{svc.name}", obs.poll)

    def _qdrant(self) -> None:
        if not isinstance(self.stack, QdrantCluster):
            return
        stack: Any = self.stack
        for svc in stack.topology.of_kind(Kind.QDRANT):
            obs = QdrantObserver(svc.name, stack.qdrant_url(svc.name),
                                 stack.qdrant_collection, self.recorder)
            self._closers.append(obs.close)
            self._poller(f"qdrant-{svc.name}", obs.poll)

    def _prometheus(self) -> None:
        url = getattr(self.stack, "prometheus_url", None)  # external: the file's prometheus
        if not url:
            return
        from harness.probes.prometheus import PrometheusObserver

        obs = PrometheusObserver(str(url), self.recorder)
        self._closers.append(obs.close)
        self._poller("prometheus", obs.poll, max(self.interval_s, 1.0))

    def _provider_observers(self) -> None:
        if not isinstance(self.stack, ProviderControl):
            return
        from harness.simulators.control import ProviderControlClient

        stack: Any = self.stack
        present = {s.name for s in stack.topology.of_kind(Kind.PROVIDER)}
        for name in _PROVIDERS:
            if f"provider-{name}" not in present:
                continue
            url, token = stack.provider_control(name)
            obs = ProviderObserver(name, ProviderControlClient(url, token, timeout=0.5),
                                   self.recorder, counters_every_s=self._counters_every_s)
            self._providers.append(obs)
            self._closers.append(obs.close)
            self._poller(f"provider-{name}", obs.poll, max(self.interval_s, 0.25))
