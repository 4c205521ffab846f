"""The write path: document ingestion (upsert and delete) and invalidation of cached answers.

``POST /v1/documents`` with ``{"op": "upsert"|"delete", "id": <int>, "write_id": "<str>",
"name": "...", "title": "...", "text": "..."}`` (title/text only for upserts). ``id`` is the
Qdrant point id; ``name`` is the document's source name (``metadata.id``, what answers cite in
``sources``; default ``doc-<id>``). In this order:

1. **Qdrant** (the system of record): ``upsert``/``delete`` of point ``id`` with ``wait=true``
   and an explicit write ordering (``RAG_QDRANT_WRITE_ORDERING``: ``weak``, ``medium``
   (default) or ``strong``); the write consistency is the collection's
   ``write_consistency_factor`` (``RAG_QDRANT_WRITE_CONSISTENCY`` when the service creates the
   collection; the local stack creates it with 2 of 3 replicas). The point's payload is what
   LangChain's ``QdrantVectorStore`` reads (``page_content``, ``metadata``) plus the
   ``write_id`` in the metadata. The point's previous name is read first, so cached answers
   citing the old or the new name are both invalidated. If Qdrant refuses or times out (``RAG_INGEST_TIMEOUT_S``), the
   write is **not acknowledged** (HTTP 503) and nothing else is done.
2. **Redis** (only when the cache is on), one Lua script on the master, atomically: delete every
   cached answer whose sources cite the document (the cache keeps ``rag:src:<id>``, the set of
   answer keys per cited document), record the document's last write in ``rag:doc:<id>`` (the
   ``write_id``; deleted for a delete) and append the ``write_id`` to ``rag:ingest:log``. A
   Redis failure (unreachable, ``NOREPLICAS`` under ``min-replicas-to-write``) does not undo the
   Qdrant write: the response says which stores acknowledged it.

The response (HTTP 200) names the stores that acknowledged the write in ``acknowledged`` and in
the ``X-Write-Acked`` header (``qdrant`` or ``qdrant,redis``), which is what a client may count
on; ``invalidated`` is the number of cached answers removed.

**Embedded mode** (no Qdrant server): the write goes to this replica's own in-memory collection
only (``"qdrant_scope": "replica"`` in the response; other replicas never see it) and the
replica drops the memoised search results the write can change. Readers through the front door may therefore miss it; a
harness must not count such writes as lost or readable in Qdrant (the acknowledged-write checks
skip the Qdrant store in embedded mode and say so).

A known race, bounded by the cache TTL: an answer computed from the old passages *while* a write
runs can be cached after the invalidation.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from qdrant_client import QdrantClient, models

from reference_app.cache import SentinelCache
from reference_app.config import Settings
from reference_app.retrieval import Retriever

#: threads for blocking Qdrant writes (server mode), apart from the searches' threads
INGEST_THREADS = 8

__all__ = ["IngestError", "IngestResult", "Ingestor", "WriteRequest", "parse_write"]

MAX_TEXT = 20_000
MAX_WRITE_ID = 128


class IngestError(Exception):
    """The write was not acknowledged by Qdrant (the HTTP layer answers 503)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteRequest:
    op: str  # "upsert" | "delete"
    doc_id: int
    write_id: str
    name: str = ""
    title: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    request: WriteRequest
    acknowledged: tuple[str, ...]  # stores that acknowledged: "qdrant", "redis"
    qdrant_scope: str  # "cluster" (server mode) | "replica" (embedded)
    ordering: str
    invalidated: int
    redis_error: str

    def to_json(self) -> dict[str, Any]:
        r = self.request
        return {"op": r.op, "id": r.doc_id, "write_id": r.write_id,
                "acknowledged": list(self.acknowledged), "qdrant_scope": self.qdrant_scope,
                "ordering": self.ordering, "invalidated": self.invalidated,
                "redis_error": self.redis_error}


def parse_write(body: Any) -> WriteRequest:
    """A WriteRequest from a decoded JSON body; ValueError with the reason otherwise."""
    if not isinstance(body, dict):
        raise ValueError('expected a JSON object {"op", "id", "write_id", ...}')
    op = body.get("op")
    if op not in ("upsert", "delete"):
        raise ValueError(f"op={op!r}; allowed: upsert, delete")
    doc_id = body.get("id")
    if not isinstance(doc_id, int) or isinstance(doc_id, bool) or not 0 <= doc_id < 2**63:
        raise ValueError(f"id={doc_id!r}: expected an integer >= 0")
    write_id = body.get("write_id")
    if not isinstance(write_id, str) or not 0 < len(write_id) <= MAX_WRITE_ID:
        raise ValueError(f"write_id must be a non-empty string of at most {MAX_WRITE_ID} "
                         "characters")
    name = body.get("name") or f"doc-{doc_id}"
    if not isinstance(name, str) or len(name) > MAX_WRITE_ID:
        raise ValueError(f"name must be a string of at most {MAX_WRITE_ID} characters")
    if op == "delete":
        return WriteRequest(op=op, doc_id=doc_id, write_id=write_id, name=name)
    title, text = body.get("title", ""), body.get("text")
    if not isinstance(title, str) or not isinstance(text, str) or not text.strip():
        raise ValueError("an upsert needs a non-empty string 'text' (and a string 'title')")
    if len(text) + len(title) > MAX_TEXT:
        raise ValueError(f"title + text longer than {MAX_TEXT} characters")
    return WriteRequest(op=op, doc_id=doc_id, write_id=write_id, name=name, title=title,
                        text=text)


class Ingestor:
    """Applies writes to Qdrant, then to Redis (see the module docstring)."""

    def __init__(self, settings: Settings, retriever: Retriever,
                 cache: SentinelCache | None) -> None:
        self.settings = settings
        self.retriever = retriever
        self.cache = cache
        self.ordering = models.WriteOrdering(settings.qdrant_write_ordering)
        self.embedded = settings.qdrant_mode == "embedded"
        # Server mode: a client of its own, so a write's timeout is not the search timeout.
        self.client: QdrantClient = retriever.client if self.embedded else QdrantClient(
            url=settings.qdrant_url, prefer_grpc=False,
            timeout=settings.ingest_timeout_s)  # type: ignore[arg-type]
        # writes block for up to ingest_timeout_s when Qdrant cannot reach its write
        # consistency: their own threads, so they never queue the searches behind them
        self._executor = ThreadPoolExecutor(max_workers=INGEST_THREADS,
                                            thread_name_prefix="qdrant-ingest")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if not self.embedded:
            self.client.close()

    async def apply(self, req: WriteRequest) -> IngestResult:
        try:
            if self.embedded:
                names = self._qdrant(req)
            else:
                loop = asyncio.get_running_loop()
                names = await asyncio.wait_for(
                    loop.run_in_executor(self._executor, self._qdrant, req),
                    timeout=self.settings.ingest_timeout_s)
        except Exception as exc:  # any Qdrant failure: the write is not acknowledged
            raise IngestError(f"qdrant: {type(exc).__name__}: {exc}"[:300]) from exc
        acked = ["qdrant"]
        invalidated, redis_error = 0, ""
        if self.cache is None:
            redis_error = "cache disabled: no Redis state to update"
        else:
            try:
                invalidated = await self.cache.arecord_write(
                    doc_id=req.doc_id, write_id=req.write_id, delete=req.op == "delete",
                    names=names)
                acked.append("redis")
            except Exception as exc:  # Redis down or refusing writes: Qdrant's ack stands
                redis_error = f"{type(exc).__name__}: {exc}"[:300]
        return IngestResult(request=req, acknowledged=tuple(acked),
                            qdrant_scope="replica" if self.embedded else "cluster",
                            ordering=self.ordering.value, invalidated=invalidated,
                            redis_error=redis_error)

    def _qdrant(self, req: WriteRequest) -> list[str]:
        """Apply the write; returns the document's names before and after (to invalidate)."""
        name = self.settings.collection
        names = [req.name]
        for point in self.client.retrieve(name, [req.doc_id], with_payload=True):
            meta = (point.payload or {}).get("metadata") or {}
            if meta.get("id") is not None:
                names.append(str(meta["id"]))
        vector: list[float] | None = None
        if req.op == "delete":
            self.client.delete(name, points_selector=models.PointIdsList(points=[req.doc_id]),
                               wait=True, ordering=self.ordering)
        else:
            content = f"{req.title}. {req.text}" if req.title else req.text
            vector = self.retriever.embeddings.embed_documents([content])[0]
            payload = {"page_content": content,
                       "metadata": {"id": req.name, "title": req.title,
                                    "write_id": req.write_id}}
            self.client.upsert(name, points=[models.PointStruct(id=req.doc_id, vector=vector,
                                                                 payload=payload)],
                               wait=True, ordering=self.ordering)
        if self.embedded:
            self.retriever.forget(req.doc_id, vector)
        return names
