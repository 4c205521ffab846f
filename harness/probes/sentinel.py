"""Redis Sentinel: its pub/sub events, its view of every instance, and replication health.

* ``SentinelListener`` (a thread per sentinel): ``PSUBSCRIBE *`` and every event except the
  ``__sentinel__:hello`` gossip as ``obs.event`` (``event`` = the channel: ``+sdown``,
  ``-sdown``, ``+odown``, ``+switch-master``, ``+failover-end``, ...; ``subject`` =
  ``sentinel/<master>/<instance service>``). ``sentinel/<sentinel service>`` is ``unreachable``
  while its connection is down (it reconnects).
* ``SentinelPoller`` (polled): flags of the master and replicas as every reachable sentinel sees
  them -> ``sentinel/<master>/<redis service>`` state ``ok`` / ``s_down`` / ``o_down`` /
  ``disconnected`` (healthy only when no sentinel flags it); ``redis/master`` = the service the
  sentinels name; ``redis/replication`` from ``INFO replication`` on that master: healthy when
  it is a master with every expected replica ``online``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.probes.base import StateRecorder

__all__ = ["SentinelListener", "SentinelPoller", "parse_sentinel_message"]

_CONN_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


def client(host: str, port: int, *, timeout: float) -> redis.Redis:
    """No retries (redis-py 8 retries by default, which hides a dead server for seconds)."""
    return redis.Redis(host=host, port=port, socket_timeout=timeout,
                       socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
                       decode_responses=True)


def parse_sentinel_message(channel: str, data: str, names: Mapping[str, str],
                           master: str) -> str:
    """The subject of one Sentinel event: ``sentinel/<master>/<service or ip:port>``.

    Formats: ``<type> <name> <ip> <port> [@ <master> <ip> <port>]`` for instance events, and
    ``<master> <old ip> <old port> <new ip> <new port>`` for ``+switch-master``.
    """
    parts = data.split()
    if channel == "+switch-master" and len(parts) >= 5:
        addr = f"{parts[3]}:{parts[4]}"
        return f"sentinel/{parts[0]}/{names.get(addr, addr)}"
    if len(parts) >= 4 and parts[0] in ("master", "slave", "sentinel", "replica"):
        addr = f"{parts[2]}:{parts[3]}"
        if "@" in parts and len(parts) > parts.index("@") + 1:
            master = parts[parts.index("@") + 1]
        elif parts[0] == "master":
            master = parts[1]
        return f"sentinel/{master}/{names.get(addr, addr)}"
    return f"sentinel/{master}"


class SentinelListener:
    """A thread subscribed to one sentinel's events; reconnects until stopped."""

    def __init__(self, name: str, host: str, port: int, recorder: StateRecorder, *,
                 names: Mapping[str, str], master: str, stop: threading.Event,
                 timeout: float = 0.5) -> None:
        self.name, self.host, self.port = name, host, port
        self._rec, self._names, self._master = recorder, names, master
        self._stop, self._timeout = stop, timeout
        self.events = 0
        self._thread = threading.Thread(target=self._run, name=f"observer-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        subject = f"sentinel/{self.name}"
        while not self._stop.is_set():
            conn = client(self.host, self.port, timeout=self._timeout)
            pubsub = conn.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe("*")
                self._rec.state(subject, "connected", True, signal="probe")
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.1)
                    if msg is not None:
                        self._handle(str(msg["channel"]), str(msg["data"]))
            except _CONN_ERRORS as exc:
                self._rec.state(subject, "unreachable", False, detail=f"{type(exc).__name__}",
                                signal="probe")
                self._stop.wait(0.2)
            except Exception as exc:
                self._rec.state(f"observer/{self.name}", f"failing: {type(exc).__name__}",
                                False, detail=str(exc)[:300], signal="probe")
                self._stop.wait(0.5)
            finally:
                pubsub.close()
                conn.close()

    def _handle(self, channel: str, data: str) -> None:
        if channel.startswith("__sentinel__"):
            return
        self.events += 1
        subject = parse_sentinel_message(channel, data, self._names, self._master)
        self._rec.event(subject, channel, detail=data, sentinel=self.name)


def _flag_state(flags: str) -> str:
    fl = set(flags.split(","))
    for bad in ("o_down", "s_down", "disconnected"):
        if bad in fl:
            return bad
    return "ok"


_SEVERITY = {"ok": 0, "disconnected": 1, "s_down": 2, "o_down": 3}


class SentinelPoller:
    """Per poll: instance flags from every reachable sentinel, the master, replication."""

    def __init__(self, sentinels: Mapping[str, tuple[str, int]], recorder: StateRecorder, *,
                 names: Mapping[str, str], master: str, expected_replicas: int,
                 timeout: float = 0.3,
                 connect: Callable[[str, int], redis.Redis] | None = None,
                 endpoints: Mapping[str, tuple[str, int]] | None = None) -> None:
        self._rec, self._names, self._master = recorder, names, master
        # service name -> where the harness reaches it (docker: the published port, not the
        # service-name address Sentinel reports)
        self._endpoints = dict(endpoints or {})
        self._expected = expected_replicas
        self._connect = connect or (lambda h, p: client(h, p, timeout=timeout))
        self._clients = {name: self._connect(h, p) for name, (h, p) in sentinels.items()}
        self._redis: dict[str, redis.Redis] = {}

    def close(self) -> None:
        for c in [*self._clients.values(), *self._redis.values()]:
            c.close()

    def poll(self) -> None:
        views: dict[str, str] = {}
        masters: dict[str, int] = {}
        for c in self._clients.values():
            try:
                m = c.execute_command("SENTINEL", "MASTER", self._master)
                reps = c.execute_command("SENTINEL", "REPLICAS", self._master)
            except _CONN_ERRORS:
                continue
            for inst in [m, *reps]:
                d = inst if isinstance(inst, dict) else dict(zip(inst[::2], inst[1::2],
                                                               strict=False))
                addr = f"{d.get('ip')}:{d.get('port')}"
                name = self._names.get(addr, addr)
                st = _flag_state(str(d.get("flags", "")))
                if _SEVERITY[st] >= _SEVERITY.get(views.get(name, "ok"), 0):
                    views[name] = st
                if inst is m:
                    masters[name] = masters.get(name, 0) + 1
        for name, st in views.items():
            self._rec.state(f"sentinel/{self._master}/{name}", st, st == "ok")
        if not masters:
            self._rec.state("redis/master", "unknown", False, detail="no sentinel answered",
                            signal="probe")
            return
        master = max(masters, key=lambda n: masters[n])
        self._rec.state("redis/master", master, True)
        self._replication(master)

    def _replication(self, master: str) -> None:
        if master in self._endpoints:
            host, port_n = self._endpoints[master]
        else:
            addr = next((a for a, n in self._names.items() if n == master), master)
            host, _, port = addr.rpartition(":")
            port_n = int(port)
        c = self._redis.get(f"{host}:{port_n}")
        if c is None:
            c = self._redis[f"{host}:{port_n}"] = self._connect(host, port_n)
        try:
            info = c.info("replication")
        except _CONN_ERRORS as exc:
            self._rec.state("redis/replication", f"master {master} unreachable", False,
                            detail=type(exc).__name__, signal="probe")
            return
        role = info.get("role", "?")
        online = sum(1 for k, v in info.items() if k.startswith("slave") and k[5:].isdigit()
                     and isinstance(v, dict) and v.get("state") == "online")
        healthy = role == "master" and online >= self._expected
        self._rec.state("redis/replication",
                        f"master={master} role={role} replicas_online={online}", healthy)
