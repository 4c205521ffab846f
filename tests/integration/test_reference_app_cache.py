"""SentinelCache against a real redis-server + redis-sentinel: both interfaces, fail-open,
the cache breaker, and the Toxiproxy address remap."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from langchain_core.outputs import Generation

sys.path.insert(0, str(Path(__file__).parent))
from conftest_app import RedisHA, free_port, redis_with_sentinel

from reference_app.breaker import CircuitBreaker
from reference_app.cache import SentinelCache

pytestmark = pytest.mark.integration


def make(ha: RedisHA, results: list[str], **kw: object) -> SentinelCache:
    return SentinelCache(sentinels=[("127.0.0.1", ha.sentinel_port)], master="mymaster",
                         socket_timeout=0.25, connect_timeout=0.25, sentinel_timeout=0.25,
                         breaker=CircuitBreaker("cache", fail_max=3, reset_s=0.5),
                         on_result=results.append, **kw)  # type: ignore[arg-type]


def test_round_trips_sync_and_async_and_fails_open_when_redis_dies() -> None:
    with redis_with_sentinel() as ha:
        results: list[str] = []
        cache = make(ha, results)

        async def scenario() -> None:
            assert await cache.alookup("p1", "llm") is None
            await cache.aupdate("p1", "llm", [Generation(text="answer one")])
            hit = await cache.alookup("p1", "llm")
            assert hit is not None and hit[0].text == "answer one"
            assert await cache.alookup("p1", "other-llm") is None  # the model is in the key
            assert (await cache.aping())[0] is True
            ha.redis.kill()
            ha.redis.wait(5)
            for _ in range(5):  # errors are misses, never exceptions
                assert await cache.alookup("p1", "llm") is None
            await cache.aupdate("p2", "llm", [Generation(text="x")])
            assert (await cache.aping())[0] is False
            await cache.aclose()

        cache.update("s1", "llm", [Generation(text="sync answer")])
        got = cache.lookup("s1", "llm")
        assert got is not None and got[0].text == "sync answer"
        asyncio.run(scenario())
        # three errors opened the breaker: later calls were skipped without touching Redis
        assert results[:4] == ["miss", "write", "hit", "miss"]
        assert results[4:7] == ["error", "error", "error"]
        assert set(results[7:]) == {"skipped"}
        assert cache.breaker.state in ("open", "half_open") and cache.breaker.opens == 1
        assert cache.lookup("s1", "llm") is None  # sync path fails open too
        assert "Connection" in cache.last_error or "Timeout" in cache.last_error


def test_address_map_redirects_the_master_address() -> None:
    with redis_with_sentinel() as ha:
        dead = free_port()
        results: list[str] = []
        cache = make(ha, results, address_map={("127.0.0.1", ha.redis_port):
                                               ("127.0.0.1", dead)})

        async def scenario() -> tuple[bool, str]:
            t0 = time.monotonic()
            assert await cache.alookup("p", "llm") is None
            assert time.monotonic() - t0 < 1.0
            ping = await cache.aping()
            await cache.aclose()
            return ping

        ok, detail = asyncio.run(scenario())
    # Redis itself is up, but the remapped address refuses: proof the map was applied
    assert results == ["error"] and ok is False
    assert str(dead) in detail or "refused" in detail.lower() or "Connect" in detail


def test_lookups_go_to_a_replica_while_the_master_is_down() -> None:
    with redis_with_sentinel(replicas=1) as ha:
        import redis as redis_py

        results: list[str] = []
        cache = make(ha, results,
                     replica_breaker=CircuitBreaker("cache-replica", fail_max=3, reset_s=0.5))
        sentinel = redis_py.Redis(port=ha.sentinel_port, socket_timeout=1)
        replica = redis_py.Redis(port=ha.replica_ports[0], socket_timeout=1)

        async def scenario() -> None:
            await cache.aupdate("p1", "llm", [Generation(text="kept on the replica")])
            deadline = time.monotonic() + 15
            while not (sentinel.execute_command("SENTINEL", "REPLICAS", "mymaster")
                       and replica.get(cache.key("p1", "llm"))):
                assert time.monotonic() < deadline, "sentinel never saw the replica in sync"
                await asyncio.sleep(0.1)
            ha.redis.kill()
            ha.redis.wait(5)
            hit = await cache.alookup("p1", "llm")  # master refuses -> the replica answers
            assert hit is not None and hit[0].text == "kept on the replica"
            assert await cache.alookup("p2", "llm") is None  # a real miss stays a miss
            await cache.aclose()

        asyncio.run(scenario())
        sentinel.close()
        replica.close()
    assert "replica_hit" in results and "replica_miss" in results, results
    # the master lookup failed (an error), then the replica answered
    assert results[results.index("replica_hit") - 2:results.index("replica_hit")] == [
        "write", "error"]


def test_without_replica_reads_a_master_loss_is_a_miss() -> None:
    with redis_with_sentinel(replicas=1) as ha:
        results: list[str] = []
        cache = make(ha, results)

        async def scenario() -> None:
            await cache.aupdate("p1", "llm", [Generation(text="x")])
            ha.redis.kill()
            ha.redis.wait(5)
            assert await cache.alookup("p1", "llm") is None
            await cache.aclose()

        asyncio.run(scenario())
    assert results == ["write", "error"]
