"""Redis replication as seen from outside: what Sentinel says, what each server says.

Used to find the master to kill, to rejoin a restarted server as a replica of the *current*
master, and to verify recovery: every reachable sentinel agrees on one master, and every other
Redis server is its replica with ``master_link_status:up``.
"""

from __future__ import annotations

from collections import Counter

import redis

from harness.faults.checks import Check, main_endpoint, redis_client
from harness.stack.base import PeerAddressed, Stack
from harness.topology import Endpoint, Kind

__all__ = [
    "MASTER_NAME",
    "current_master",
    "ensure_replica",
    "master_name",
    "replication_converged",
    "sentinel_views",
]

MASTER_NAME = "mymaster"


def master_name(stack: Stack) -> str:
    """The name Sentinel monitors the master under (``stack.sentinel_master``, else the
    reference stack's ``mymaster``)."""
    return str(getattr(stack, "sentinel_master", None) or MASTER_NAME)


def _redis_by_address(stack: Stack, host: str, port: int) -> str | None:
    servers = stack.topology.of_kind(Kind.REDIS)
    if host in {s.name for s in servers}:  # announce-hostnames (docker): the service name itself
        return host
    for s in servers:
        ep = main_endpoint(s)
        if ep.host == host and ep.port == port:
            return s.name
    same_port = [s.name for s in servers if main_endpoint(s).port == port]
    return same_port[0] if len(same_port) == 1 else None


def peer_address(stack: Stack, service: str) -> tuple[str, int]:
    """Where the stack's servers reach ``service`` (PeerAddressed), else its main endpoint."""
    if isinstance(stack, PeerAddressed):
        return stack.peer_address(service)
    ep = main_endpoint(stack.topology.service(service))
    return ep.host, ep.port


def _follows(stack: Stack, info: dict[str, str], master: str) -> bool:
    """Whether a replica's INFO names ``master`` (by its peer address or its endpoint)."""
    ep = main_endpoint(stack.topology.service(master))
    seen = (info.get("master_host"), info.get("master_port"))
    host, port = peer_address(stack, master)
    return seen in ((host, str(port)), (ep.host, str(ep.port)))


def sentinel_views(stack: Stack, timeout: float = 0.5) -> dict[str, str]:
    """Sentinel name -> the master it names (a service name, ``host:port`` if unknown, or an
    ``error: ...`` string when the sentinel does not answer)."""
    views = {}
    for s in stack.topology.of_kind(Kind.SENTINEL):
        client = redis_client(main_endpoint(s), timeout)
        try:
            addr = client.execute_command("SENTINEL", "get-master-addr-by-name",
                                          master_name(stack))
        except redis.RedisError as exc:
            views[s.name] = f"error: {exc}"
            continue
        finally:
            client.close()
        if not addr:
            views[s.name] = "error: no master known"
            continue
        host, port = str(addr[0]), int(addr[1])
        views[s.name] = _redis_by_address(stack, host, port) or f"{host}:{port}"
    return views


def current_master(stack: Stack) -> str | None:
    """The master named by a majority of all sentinels, else None."""
    views = sentinel_views(stack)
    named = Counter(v for v in views.values() if not v.startswith("error:"))
    if not named:
        return None
    master, votes = named.most_common(1)[0]
    return master if votes > len(views) // 2 else None


def _info(ep: Endpoint, timeout: float = 0.5) -> dict[str, str]:
    client = redis_client(ep, timeout)
    try:
        raw = client.execute_command("INFO", "replication")
    finally:
        client.close()
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    out = {}
    for line in str(raw).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def ensure_replica(stack: Stack, name: str) -> str | None:
    """Make ``name`` a replica of the master Sentinel names now, if it is not one already.

    A restarted old master comes back believing it is master, and a restarted replica may
    follow a master that has since been demoted; Sentinel corrects both eventually (its INFO
    period to replicas is 10 s), so the fault layer does it at once. Returns what was done.
    """
    master = current_master(stack)
    if master is None or master == name:
        return None
    peer_host, peer_port = peer_address(stack, master)
    ep = main_endpoint(stack.topology.service(name))
    info = _info(ep)
    if info.get("role") == "slave" and _follows(stack, info, master):
        return None
    client = redis_client(ep)
    try:
        client.execute_command("REPLICAOF", peer_host, str(peer_port))
    finally:
        client.close()
    return f"REPLICAOF {master} sent to {name} (was role={info.get('role')})"


def replication_converged(stack: Stack, expected: tuple[str, ...] | None = None) -> Check:
    """Sentinels agree on one master and every other expected server is linked to it."""
    views = sentinel_views(stack)
    answers = {k: v for k, v in views.items() if not v.startswith("error:")}
    named = set(answers.values())
    if len(answers) != len(views) or len(named) != 1:
        return Check(False, f"sentinels do not agree on one master: {views}")
    master = named.pop()
    servers = expected or tuple(s.name for s in stack.topology.of_kind(Kind.REDIS))
    if master not in {s.name for s in stack.topology.of_kind(Kind.REDIS)}:
        return Check(False, f"sentinels name {master}, which is no Redis of this stack")
    m_ep = main_endpoint(stack.topology.service(master))
    try:
        m_info = _info(m_ep)
    except redis.RedisError as exc:
        return Check(False, f"master {master} named by all sentinels does not answer: {exc}")
    if m_info.get("role") != "master":
        return Check(False, f"sentinels name {master} but it says role={m_info.get('role')}")
    problems = []
    for name in servers:
        if name == master:
            continue
        try:
            info = _info(main_endpoint(stack.topology.service(name)))
        except redis.RedisError as exc:
            problems.append(f"{name} does not answer ({exc})")
            continue
        linked = (info.get("role") == "slave" and info.get("master_link_status") == "up"
                  and _follows(stack, info, master))
        if not linked:
            problems.append(f"{name} role={info.get('role')} master={info.get('master_host')}:"
                            f"{info.get('master_port')} link={info.get('master_link_status')}")
    if problems:
        return Check(False, f"master {master}; not linked: {'; '.join(problems)}")
    replicas = [n for n in servers if n != master]
    return Check(True, f"all {len(views)} sentinels name {master}; replicas linked: "
                       f"{', '.join(replicas)} (connected_slaves="
                       f"{m_info.get('connected_slaves')})")
