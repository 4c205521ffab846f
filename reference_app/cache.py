"""The LLM response cache: Redis through Sentinel, failing open.

A LangChain ``BaseCache`` (so it can also be handed to a chat model) whose every Redis error,
timeout or missing master becomes a cache miss (lookup) or a dropped write (update), never an
exception. A small breaker skips Redis for a second after three consecutive connection-level
errors, so a blackholed Redis costs three timeouts, not one per request (a write refused by a
reachable Redis, e.g. ``NOREPLICAS`` under ``min-replicas-to-write``, does not trip it). Retries are off and timeouts are
explicit (redis-py retries by default, also on Sentinel connections).

While the master is unreachable (its breaker open, or a lookup just failed), lookups go to a
replica Sentinel names (``RAG_CACHE_REPLICA_READS``, on by default; a replica serves stale data
while its master is gone). Without that, a master loss turns every request into an LLM call for
the seconds a failover takes: measured at 300 answers/s on 2 cores, that surge of cache misses
saturated all three replicas, HAProxy's health checks timed out, and 670 requests failed.

With ``RAG_REDIS_VIA_TOXIPROXY=true`` the master address Sentinel hands out is remapped through
``RAG_REDIS_ADDRESS_MAP`` to the Toxiproxy proxy in front of that Redis, so Redis toxics apply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.retry
import redis.sentinel
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.outputs import Generation
from redis.backoff import NoBackoff

from reference_app.breaker import CircuitBreaker

__all__ = ["DOC_PREFIX", "INGEST_LOG", "SRC_PREFIX", "SentinelCache"]

Address = tuple[str, int]

#: ``rag:src:<doc id>``: the set of cached answer keys whose prompt cited that document.
SRC_PREFIX = "rag:src:"
#: ``rag:doc:<doc id>``: the ``write_id`` of the document's last acknowledged upsert.
DOC_PREFIX = "rag:doc:"
#: every acknowledged write's ``write_id``, in the order the master applied them.
INGEST_LOG = "rag:ingest:log"

# KEYS: doc key, log, then one src set per name the document had or has; ARGV: write_id,
# "delete" | "upsert". Invalidates every cached answer citing the document and records the
# write, atomically (one round trip, one replication unit). Returns the answers removed.
_RECORD_WRITE = """
local removed = 0
for i = 3, #KEYS do
  local keys = redis.call('SMEMBERS', KEYS[i])
  for _, k in ipairs(keys) do removed = removed + redis.call('DEL', k) end
  redis.call('DEL', KEYS[i])
end
if ARGV[2] == 'delete' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('RPUSH', KEYS[2], ARGV[1])
return removed
"""


def _remap(address: Address, mapping: Mapping[Address, Address]) -> Address:
    host, port = address[0], int(address[1])
    return mapping.get((host, port), (host, port))


class _RemapSentinelAsync(redis.asyncio.sentinel.Sentinel):
    address_map: Mapping[Address, Address] = {}

    async def discover_master(self, service_name: str) -> Address:
        return _remap(await super().discover_master(service_name), self.address_map)

    async def discover_slaves(self, service_name: str) -> list[Address]:
        found = await super().discover_slaves(service_name)
        return [_remap((str(host), int(port)), self.address_map) for host, port in found]


class _RemapSentinelSync(redis.sentinel.Sentinel):
    address_map: Mapping[Address, Address] = {}

    def discover_master(self, service_name: str) -> Address:
        return _remap(super().discover_master(service_name), self.address_map)


class SentinelCache(BaseCache):
    """Fail-open LLM cache. Keys: ``rag:llm:<sha256(llm_string, prompt)>``, values JSON."""

    def __init__(self, *, sentinels: Sequence[Address], master: str, socket_timeout: float,
                 connect_timeout: float, sentinel_timeout: float,
                 address_map: Mapping[Address, Address] | None = None, ttl_s: int = 3600,
                 breaker: CircuitBreaker, replica_breaker: CircuitBreaker | None = None,
                 on_result: Callable[[str], None] = lambda result: None) -> None:
        self.master = master
        self.ttl_s = ttl_s
        self.breaker = breaker
        self._on_result = on_result
        self.last_error = ""
        self._args = (list(sentinels), sentinel_timeout, socket_timeout, connect_timeout,
                      dict(address_map or {}))
        sentinel_kw, conn_kw = self._kwargs(redis.asyncio.retry.Retry(NoBackoff(), 0))
        asentinel = _RemapSentinelAsync(list(sentinels), sentinel_kwargs=sentinel_kw, **conn_kw)
        asentinel.address_map = self._args[4]
        self._asentinel = asentinel
        self._async = asentinel.master_for(master, **conn_kw)
        # Replica reads are off when no replica breaker is given.
        self.replica_breaker = replica_breaker
        self._areplica = (asentinel.slave_for(master, **conn_kw)
                          if replica_breaker is not None else None)
        self._sync: redis.Redis | None = None
        self._ssentinel: _RemapSentinelSync | None = None

    def _kwargs(self, retry: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(sentinel kwargs, connection kwargs): explicit timeouts, no retries."""
        _, sentinel_timeout, socket_timeout, connect_timeout, _ = self._args
        common = {"retry": retry, "retry_on_error": [], "driver_info": None}
        return ({"socket_timeout": sentinel_timeout, "socket_connect_timeout": sentinel_timeout,
                 **common},
                {"socket_timeout": socket_timeout, "socket_connect_timeout": connect_timeout,
                 **common})

    @staticmethod
    def key(prompt: str, llm_string: str) -> str:
        digest = hashlib.sha256(f"{llm_string}\x00{prompt}".encode()).hexdigest()
        return f"rag:llm:{digest}"

    def _failed(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        self.breaker.failure()

    # -- asyncio (what the service uses) --------------------------------------------------------

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        key = self.key(prompt, llm_string)
        if self.breaker.allow():
            try:
                raw = await self._async.get(key)
            except (TimeoutError, redis.RedisError, OSError) as exc:
                self._failed(exc)
                self._on_result("error")  # the master failed; a replica may still answer
                if self._areplica is None:
                    return None
            else:
                self.breaker.success()
                self._on_result("miss" if raw is None else "hit")
                return None if raw is None else _decode(raw)
        return await self._replica_lookup(key)

    async def _replica_lookup(self, key: str) -> RETURN_VAL_TYPE | None:
        """The master is unreachable: a replica still has (nearly) every entry."""
        if self._areplica is None or self.replica_breaker is None:
            self._on_result("skipped")
            return None
        if not self.replica_breaker.allow():
            self._on_result("skipped")
            return None
        try:
            raw = await self._areplica.get(key)
        except (TimeoutError, redis.RedisError, OSError) as exc:
            self.last_error = f"replica: {type(exc).__name__}: {exc}"[:300]
            self.replica_breaker.failure()
            self._on_result("replica_error")
            return None
        self.replica_breaker.success()
        self._on_result("replica_miss" if raw is None else "replica_hit")
        return None if raw is None else _decode(raw)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        if not self.breaker.allow():
            self._on_result("skipped")
            return
        try:
            await self._async.set(self.key(prompt, llm_string), _encode(return_val),
                                  ex=self.ttl_s)
        except redis.ResponseError as exc:  # e.g. NOREPLICAS: Redis is up, just refusing writes
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            self._on_result("write_error")
            return
        except (TimeoutError, redis.RedisError, OSError) as exc:
            self._failed(exc)
            self._on_result("write_error")
            return
        self.breaker.success()
        self._on_result("write")

    async def astore(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE,
                     sources: Sequence[str]) -> None:
        """``aupdate`` plus the source index (``rag:src:<id>``) the write path invalidates by;
        one pipelined round trip, same fail-open rules."""
        if not sources:
            await self.aupdate(prompt, llm_string, return_val)
            return
        if not self.breaker.allow():
            self._on_result("skipped")
            return
        key = self.key(prompt, llm_string)
        try:
            async with self._async.pipeline(transaction=False) as pipe:
                pipe.set(key, _encode(return_val), ex=self.ttl_s)
                for doc in sources:
                    pipe.sadd(f"{SRC_PREFIX}{doc}", key)
                    pipe.expire(f"{SRC_PREFIX}{doc}", self.ttl_s)
                await pipe.execute()
        except redis.ResponseError as exc:  # e.g. NOREPLICAS
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            self._on_result("write_error")
            return
        except (TimeoutError, redis.RedisError, OSError) as exc:
            self._failed(exc)
            self._on_result("write_error")
            return
        self.breaker.success()
        self._on_result("write")

    async def arecord_write(self, *, doc_id: int, write_id: str, delete: bool,
                            names: Sequence[str]) -> int:
        """The write path's Redis step (see :mod:`reference_app.ingest`): NOT fail-open --
        raises the Redis error, so the caller can tell the client Redis did not acknowledge.
        ``names``: the document's source names (``metadata.id``) before and after the write.
        Returns the number of cached answers invalidated."""
        keys = [f"{DOC_PREFIX}{doc_id}", INGEST_LOG,
                *(f"{SRC_PREFIX}{n}" for n in dict.fromkeys(names))]
        n = await self._async.eval(_RECORD_WRITE, len(keys), *keys, write_id,
                                   "delete" if delete else "upsert")
        return int(n)

    async def aclear(self, **kwargs: Any) -> None:
        try:
            async for key in self._async.scan_iter(match="rag:llm:*", count=500):
                await self._async.delete(key)
        except (TimeoutError, redis.RedisError, OSError) as exc:
            self._failed(exc)

    async def aping(self) -> tuple[bool, str]:
        """For /readyz: can we reach the current master?"""
        try:
            await self._async.ping()
        except (TimeoutError, redis.RedisError, OSError) as exc:
            return False, f"{type(exc).__name__}: {exc}"[:300]
        return True, "ok"

    async def aclose(self) -> None:
        """Close every connection (master, replicas and sentinels, async and sync)."""
        await self._async.aclose()
        await self._async.connection_pool.disconnect()
        if self._areplica is not None:
            await self._areplica.aclose()
            await self._areplica.connection_pool.disconnect()
        for client in self._asentinel.sentinels:
            await client.aclose()
        self.close()

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync.connection_pool.disconnect()
        if self._ssentinel is not None:
            for client in self._ssentinel.sentinels:
                client.close()

    # -- sync (BaseCache's required interface; same fail-open rules) -----------------------------

    def _sync_client(self) -> redis.Redis:
        if self._sync is None:
            sentinels, mapping = self._args[0], self._args[4]
            sentinel_kw, conn_kw = self._kwargs(redis.retry.Retry(NoBackoff(), 0))
            sentinel = _RemapSentinelSync(sentinels, sentinel_kwargs=sentinel_kw, **conn_kw)
            sentinel.address_map = mapping
            self._ssentinel = sentinel
            self._sync = sentinel.master_for(self.master, **conn_kw)
        return self._sync

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        if not self.breaker.allow():
            return None
        try:
            raw = self._sync_client().get(self.key(prompt, llm_string))
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return None
        self.breaker.success()
        return None if raw is None else _decode(raw)

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        if not self.breaker.allow():
            return
        try:
            self._sync_client().set(self.key(prompt, llm_string), _encode(return_val),
                                    ex=self.ttl_s)
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return
        self.breaker.success()

    def clear(self, **kwargs: Any) -> None:
        try:
            client = self._sync_client()
            for key in client.scan_iter(match="rag:llm:*", count=500):
                client.delete(key)
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)


def _encode(return_val: RETURN_VAL_TYPE) -> str:
    return json.dumps([g.text for g in return_val])


def _decode(raw: bytes | str) -> RETURN_VAL_TYPE | None:
    try:
        texts = json.loads(raw)
        return [Generation(text=str(t)) for t in texts] if isinstance(texts, list) else None
    except ValueError:
        return None
