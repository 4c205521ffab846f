"""Read every write back after the heal (the I/O half of the acknowledged-write checks).

``read_back(stack, timeline)`` collects the documents the run's ``writes.op`` events touched and
asks each store what it holds now, once the stack is ready again, appending one
``writes.readback`` event per store (``store``, ``ok``, ``detail``, ``docs``: doc id -> write id
held or None, ``counts``: write id -> copies held). :mod:`harness.analysis.writes` judges them.

* **redis**: the master Sentinel names now (``stack.roles("redis-master")``), ``GET
  rag:doc:<id>`` for every document and ``LRANGE rag:ingest:log`` for the copies of each write
  id (the reference service's write path keeps both);
* **qdrant**: when the stack runs a real cluster (:class:`~harness.stack.base.QdrantCluster`),
  through the Qdrant front door: ``POST /collections/{c}/points`` by id with read consistency
  ``majority``, and a scroll filtered on ``metadata.write_id`` for the copies. In embedded mode
  each app replica holds its own in-memory collection, nothing shared can be read back: the
  event says so (``ok`` false) and the Qdrant store is reported as not checked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import redis

from harness.stack.base import QdrantCluster
from harness.timeline import Timeline
from harness.topology import Kind

__all__ = ["read_back"]

SOURCE = "readback"
_BATCH = 500


def _touched(tl: Timeline) -> tuple[list[int], list[str]]:
    docs: dict[int, None] = {}
    ids: dict[str, None] = {}
    for e in tl.events_of("writes.op"):
        docs[int(e.get("doc_id"))] = None
        ids[str(e.get("write_id"))] = None
    return list(docs), list(ids)


def read_back(stack: Any, timeline: Timeline, *, ready_timeout: float = 60.0) -> None:
    """Append one ``writes.readback`` per store (nothing when the run sent no write)."""
    docs, ids = _touched(timeline)
    if not docs:
        return
    ready = ""
    try:
        stack.wait_ready(ready_timeout)
    except Exception as exc:  # read anyway: a store that answers is still worth checking
        ready = f"stack not ready after heal ({type(exc).__name__}: {str(exc)[:200]}); "
    for store, fn in (("redis", _redis), ("qdrant", _qdrant)):
        try:
            held, counts, detail = fn(stack, docs, ids)
        except Exception as exc:  # the store cannot be read: the check is not done, said why
            timeline.add_event("writes.readback", SOURCE, store=store, ok=False,
                               detail=f"{ready}{type(exc).__name__}: {str(exc)[:300]}",
                               docs={}, counts={})
            continue
        ok = held is not None
        timeline.add_event("writes.readback", SOURCE, store=store, ok=ok,
                           detail=ready + detail, docs=held or {}, counts=counts)


def _redis(stack: Any, docs: list[int], ids: list[str]
           ) -> tuple[dict[int, str | None] | None, dict[str, int], str]:
    if not stack.topology.of_kind(Kind.REDIS):
        return None, {}, "the stack has no Redis"
    masters = list(stack.roles("redis-master"))
    if not masters:
        return None, {}, "Sentinel names no master"
    ep = stack.topology.service(masters[0]).endpoint("main")
    client = redis.Redis(host=ep.host, port=ep.port, socket_timeout=5.0,
                         socket_connect_timeout=5.0, decode_responses=True)
    try:
        held: dict[int, str | None] = {}
        for i in range(0, len(docs), _BATCH):
            chunk = docs[i:i + _BATCH]
            values = client.mget([f"rag:doc:{d}" for d in chunk])
            held.update((d, None if v is None else str(v))
                        for d, v in zip(chunk, values, strict=True))
        wanted = set(ids)
        log = Counter(str(w) for w in client.lrange("rag:ingest:log", 0, -1)
                      if str(w) in wanted)
    finally:
        client.close()
    return held, dict(log), f"master {masters[0]} ({ep.address})"


def _qdrant(stack: Any, docs: list[int], ids: list[str]
            ) -> tuple[dict[int, str | None] | None, dict[str, int], str]:
    if not isinstance(stack, QdrantCluster):
        return None, {}, ("embedded vector tier: each app replica holds its own in-memory "
                          "collection, so there is no shared store to read back")
    cluster: Any = stack
    front = cluster.topology.service("haproxy").endpoint("qdrant").url
    coll = cluster.qdrant_collection
    held: dict[int, str | None] = dict.fromkeys(docs)
    counts: Counter[str] = Counter()
    with httpx.Client(base_url=front, timeout=10.0) as http:
        for i in range(0, len(docs), _BATCH):
            resp = http.post(f"/collections/{coll}/points", params={"consistency": "majority"},
                             json={"ids": docs[i:i + _BATCH], "with_payload": True})
            resp.raise_for_status()
            for p in resp.json()["result"]:
                held[int(p["id"])] = _write_id(p)
        for i in range(0, len(ids), _BATCH):
            offset: Any = None
            while True:
                body: dict[str, Any] = {
                    "limit": 1000, "with_payload": True, "with_vector": False,
                    "filter": {"must": [{"key": "metadata.write_id",
                                         "match": {"any": ids[i:i + _BATCH]}}]}}
                if offset is not None:
                    body["offset"] = offset
                resp = http.post(f"/collections/{coll}/points/scroll",
                                 params={"consistency": "majority"}, json=body)
                resp.raise_for_status()
                res = resp.json()["result"]
                counts.update(w for w in (_write_id(p) for p in res["points"]) if w)
                offset = res.get("next_page_offset")
                if offset is None:
                    break
    return held, dict(counts), f"front door {front}, read consistency majority"


def _write_id(point: dict[str, Any]) -> str | None:
    meta = (point.get("payload") or {}).get("metadata") or {}
    w = meta.get("write_id")
    return None if w is None else str(w)
