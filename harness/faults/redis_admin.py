"""Redis faults that need only admin commands, no process powers (capability ``RedisAdmin``):
so they run on the ``external`` substrate when the topology file gives ``redis.admin: true``,
and on the local and docker stacks.

* ``sentinel-failover``: a planned failover, ``SENTINEL FAILOVER <master>`` sent to one
  sentinel. Verified when a majority of the sentinels names another master that says
  ``role:master``. It is not undone (the old master stays a replica, as after a real planned
  failover); recovery is verified as replication converged on the new master.
* ``redis-master-hang``: the master stops answering clients for ``hang_s`` seconds
  (``CLIENT PAUSE <ms> ALL``), as a stalled master would, while its process and sockets stay
  up. The pause ends by itself even if the harness dies. Verified by a PING from the edge that
  gets no answer. Redis 7.0 holds ``CLIENT UNPAUSE`` until the pause ends, so the revert waits
  for the pause to expire; give the step a duration >= ``hang_s``. (``DEBUG SLEEP`` would do the
  same, but Redis 7 refuses DEBUG unless ``enable-debug-command`` is set.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import redis

from harness.errors import FaultError
from harness.faults.base import Fault, Injection
from harness.faults.checks import Check, main_endpoint, redis_client
from harness.faults.params import Param
from harness.faults.registry import register
from harness.faults.sentinel import current_master, master_name, replication_converged
from harness.stack.base import Stack
from harness.topology import Kind

__all__ = ["RedisMasterHang", "SentinelFailover"]


def _master(stack: Stack) -> str:
    master = current_master(stack)
    if master is None:
        raise FaultError("no master is named by a majority of the sentinels; the Redis tier is "
                         "not in a state to fail over (check 'chaos-harness status')")
    return master


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SentinelFailover(Fault):
    NAME: ClassVar[str] = "sentinel-failover"
    FAMILY: ClassVar[str] = "datastore"
    SUMMARY: ClassVar[str] = ("planned Redis failover: SENTINEL FAILOVER; verified when the "
                              "sentinels name a new master (not undone)")
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("RedisAdmin",)
    TARGET_HELP: ClassVar[str] = "none: the master is found through Sentinel"
    VERIFY_TIMEOUT_S: ClassVar[float] = 30.0
    RECOVER_TIMEOUT_S: ClassVar[float] = 60.0

    def touches(self, stack: Stack) -> str:
        return f"SENTINEL FAILOVER {master_name(stack)} (the master moves; not undone)"

    def resolve(self, stack: Stack) -> tuple[str, ...]:
        return (_master(stack),)

    def inject(self, stack: Stack, injection: Injection) -> None:
        old = injection.services[0]
        injection.data.update(old_master=old)
        errors = []
        for s in stack.topology.of_kind(Kind.SENTINEL):
            client = redis_client(main_endpoint(s), 2.0)
            try:
                client.execute_command("SENTINEL", "FAILOVER", master_name(stack))
                injection.data["sentinel"] = s.name
                return
            except redis.RedisError as exc:
                errors.append(f"{s.name}: {exc}")
            finally:
                client.close()
        raise FaultError(f"no sentinel accepted SENTINEL FAILOVER: {'; '.join(errors)}")

    def verify(self, stack: Stack, injection: Injection) -> Check:
        old = injection.data["old_master"]
        now = current_master(stack)
        if now is None or now == old:
            return Check(False, f"the sentinels' majority still names {now or 'no master'}")
        client = redis_client(main_endpoint(stack.topology.service(now)))
        try:
            role = client.execute_command("ROLE")[0]
        finally:
            client.close()
        if str(role) != "master":
            return Check(False, f"sentinels name {now}, which says role {role}")
        return Check(True, f"master moved {old} -> {now} (via {injection.data['sentinel']})")

    def revert(self, stack: Stack, injection: Injection) -> None:
        """A planned failover is not undone: the new master stays."""

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        return replication_converged(stack)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class RedisMasterHang(Fault):
    NAME: ClassVar[str] = "redis-master-hang"
    FAMILY: ClassVar[str] = "datastore"
    SUMMARY: ClassVar[str] = ("the Redis master stops answering clients for hang_s "
                              "(CLIENT PAUSE ALL); process and sockets stay up")
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("RedisAdmin",)
    TARGET_HELP: ClassVar[str] = "none: the master is found through Sentinel"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param(name="hang_s", type="duration", minimum=0.1, maximum=600, default=10.0,
              help="how long the master hangs (the pause ends by itself)"),)
    RECOVER_TIMEOUT_S: ClassVar[float] = 90.0

    hang_s: float = 10.0

    def touches(self, stack: Stack) -> str:
        return f"CLIENT PAUSE {round(self.hang_s * 1000)} ALL on the current Redis master"

    def resolve(self, stack: Stack) -> tuple[str, ...]:
        return (_master(stack),)

    def inject(self, stack: Stack, injection: Injection) -> None:
        node = injection.services[0]
        client = redis_client(main_endpoint(stack.topology.service(node)), 2.0)
        try:
            client.execute_command("CLIENT", "PAUSE", str(round(self.hang_s * 1000)), "ALL")
        finally:
            client.close()
        injection.data.update(node=node, until_unix=time.time() + self.hang_s)

    def verify(self, stack: Stack, injection: Injection) -> Check:
        node = injection.data["node"]
        ep = main_endpoint(stack.topology.service(node))
        client = redis_client(ep, 0.3)
        try:
            client.ping()
        except redis.TimeoutError:
            return Check(True, f"{node} ({ep.address}) accepts connections but does not answer "
                               "PING within 0.3 s")
        except redis.RedisError as exc:
            return Check(False, f"{node} fails differently than a hang: {exc}")
        finally:
            client.close()
        return Check(False, f"{node} answers PING")

    def revert(self, stack: Stack, injection: Injection) -> None:
        node = injection.data.get("node") or injection.services[0]
        left = max(0.0, float(injection.data.get("until_unix", 0)) - time.time())
        client = redis_client(main_endpoint(stack.topology.service(node)), left + 2.0)
        try:  # held by Redis 7.0 until the pause ends; a later Redis ends it at once
            client.execute_command("CLIENT", "UNPAUSE")
        finally:
            client.close()

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        return replication_converged(stack)
