"""The write path (POST /v1/documents) as a real process: embedded Qdrant, real Redis + Sentinel.

Embedded mode is what runs without a Qdrant binary: the write lands in the replica's own
in-memory collection (``qdrant_scope: replica``) and must still be searchable there at once.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

sys.path.insert(0, str(Path(__file__).parent))
from conftest_app import App, RedisHA, app_process, provider_sim, redis_with_sentinel

pytestmark = pytest.mark.integration

_seq = itertools.count()


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[App, RedisHA]]:
    with provider_sim("primary") as primary, redis_with_sentinel() as ha, \
            app_process(primary=primary, redis=ha, replica="app-w") as app:
        yield app, ha


def _redis(ha: RedisHA) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=ha.redis_port, decode_responses=True)


def write(client: httpx.Client, **body: object) -> httpx.Response:
    return client.post("/v1/documents", json=body)


def test_upsert_invalidates_the_cached_answers_citing_the_document(
        stack: tuple[App, RedisHA]) -> None:
    app, ha = stack
    q = f"How does Redis failover promote a standby when the primary dies? w{next(_seq)}"
    with app.client() as client:
        first = client.post("/v1/answer", json={"question": q}).json()
        assert client.post("/v1/answer", json={"question": q}).json()["provider"] == "cache"
        cited = first["sources"][0]
        r = _redis(ha)
        assert r.scard(f"rag:src:{cited}") >= 1  # the cache indexed the answer by source
        # a new point that carries the cited name: the name decides what is invalidated
        resp = write(client, op="upsert", id=900_000, write_id="w-inv-1", name=cited,
                     title="Redis failover", text="Sentinel promotes a replica after quorum.")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["acknowledged"] == ["qdrant", "redis"]
        assert resp.headers["x-write-acked"] == "qdrant,redis"
        assert body["qdrant_scope"] == "replica" and body["ordering"] == "medium"
        assert body["invalidated"] >= 1
        assert r.exists(f"rag:src:{cited}") == 0
        # the cached answer is gone: the same question goes to the provider again
        assert client.post("/v1/answer", json={"question": q}).json()["provider"] != "cache"
        assert r.get("rag:doc:900000") == "w-inv-1"
        assert "w-inv-1" in r.lrange("rag:ingest:log", 0, -1)


def test_embedded_write_is_searchable_on_the_replica_then_deleted(
        stack: tuple[App, RedisHA]) -> None:
    app, ha = stack
    text = "Zorblax quindle frobnicates the vexillary manifold"
    with app.client() as client:
        assert write(client, op="upsert", id=910_001, write_id="w-new-1", name="probe-910001",
                     title="Zorblax", text=text).status_code == 200
        got = client.post("/v1/answer", json={"question": "zorblax quindle vexillary?"}).json()
        assert got["sources"][0] == "probe-910001"  # the memo was cleared: the write is seen
        resp = write(client, op="delete", id=910_001, write_id="w-del-1")
        assert resp.status_code == 200 and resp.json()["acknowledged"] == ["qdrant", "redis"]
        got = client.post("/v1/answer", json={"question": "zorblax quindle vexillary? 2"}).json()
        assert "probe-910001" not in got["sources"]
    r = _redis(ha)
    assert r.exists("rag:doc:910001") == 0
    log = r.lrange("rag:ingest:log", 0, -1)
    assert log.index("w-new-1") < log.index("w-del-1")


def test_bad_writes_are_refused_with_the_reason(stack: tuple[App, RedisHA]) -> None:
    app, _ = stack
    assert httpx.post(f"{app.url}/v1/documents", json={}).status_code == 401
    with app.client() as client:
        for body, words in (({"op": "rename", "id": 1, "write_id": "x"}, "allowed: upsert"),
                            ({"op": "upsert", "id": -1, "write_id": "x", "text": "t"},
                             "integer >= 0"),
                            ({"op": "upsert", "id": 1, "text": "t"}, "write_id"),
                            ({"op": "upsert", "id": 1, "write_id": "x"}, "non-empty string")):
            resp = write(client, **body)
            assert resp.status_code == 400 and words in resp.json()["error"], resp.text


def test_redis_down_acknowledges_qdrant_only() -> None:
    with provider_sim("primary") as primary, redis_with_sentinel() as ha, \
            app_process(primary=primary, redis=ha, replica="app-w2") as app:
        _kill(ha)
        with app.client() as client:
            resp = write(client, op="upsert", id=920_000, write_id="w-nr-1", text="x y z")
        assert resp.status_code == 200
        assert resp.json()["acknowledged"] == ["qdrant"]
        assert resp.headers["x-write-acked"] == "qdrant"
        assert resp.json()["redis_error"]


def _kill(ha: RedisHA) -> None:
    ha.redis.kill()
    ha.redis.wait(5)
