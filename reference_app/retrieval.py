"""Retrieval through ``langchain_qdrant.QdrantVectorStore``: embedded or against a Qdrant server.

* ``embedded`` (default): ``QdrantClient(":memory:")`` inside the replica, loaded from
  ``RAG_CORPUS`` at startup. Searches run inline (pure CPU, sub-millisecond) and are memoised
  per question (LRU, 4096 questions); a write through :mod:`reference_app.ingest` drops the
  memoised results it can change (those citing the point, or whose k-th score the new vector
  reaches), and only this replica's collection changes.
* ``server``: a ``QdrantClient`` against ``RAG_QDRANT_URL`` (the HAProxy front door of the
  cluster). The store is built without validating the collection, so the replica starts while
  Qdrant is down; a background thread creates the collection (explicit shards, replication
  and write consistency) and loads the corpus once Qdrant answers. Searches run in a worker
  thread under ``RAG_RETRIEVAL_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_qdrant import QdrantVectorStore
from qdrant_client import QdrantClient, models

from reference_app.config import Settings
from reference_app.embeddings import HashingEmbeddings

__all__ = ["MEMO_SIZE", "Retriever", "load_corpus"]

MEMO_SIZE = 4096  # memoised questions (embedded mode)


@dataclass(frozen=True, slots=True)
class _Memo:
    docs: tuple[Document, ...]
    ids: frozenset[Any]  # point ids in the result
    kth: float  # the k-th (lowest) score; -inf when fewer than k points came back


def load_corpus(path: Path) -> list[Document]:
    """``documents.jsonl`` rows (id, title, text) as LangChain documents."""
    docs = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                docs.append(Document(page_content=f"{row['title']}. {row['text']}",
                                     metadata={"id": row["id"], "title": row["title"]}))
    if not docs:
        raise ValueError(f"corpus {path} has no documents")
    return docs


#: threads for blocking Qdrant searches (server mode), apart from asyncio's default executor
SEARCH_THREADS = 16


class Retriever:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embeddings = HashingEmbeddings(settings.embed_dim)
        self.documents = load_corpus(settings.corpus)
        self.loaded = threading.Event()
        self.last_error = ""
        self._stop = threading.Event()
        self._loader: threading.Thread | None = None
        # Server mode: searches block in the Qdrant client, so they run in threads of their own.
        # asyncio's default executor (min(32, cpus + 4) threads) is shared with every other
        # blocking call, and a search that timed out still holds its thread until the client
        # gives up: slow writes during a Qdrant partition starved the searches behind them.
        self._executor = ThreadPoolExecutor(max_workers=SEARCH_THREADS,
                                            thread_name_prefix="qdrant-search")
        # Embedded mode: results are memoised per question (questions repeat under load);
        # a write drops only the entries it can change (see forget). Server mode never
        # memoises: every search reaches Qdrant, so vector-tier faults show.
        self._memo: OrderedDict[str, _Memo] = OrderedDict()
        if settings.qdrant_mode == "embedded":
            self.client = QdrantClient(":memory:")
            self._ensure_collection()
        else:
            self.client = QdrantClient(url=settings.qdrant_url, prefer_grpc=False,
                                       timeout=settings.retrieval_timeout_s)  # type: ignore[arg-type]
            self._loader = threading.Thread(target=self._bootstrap, name="qdrant-bootstrap",
                                            daemon=True)
        self.store = QdrantVectorStore(client=self.client, collection_name=settings.collection,
                                       embedding=self.embeddings,
                                       validate_collection_config=False)
        if self._loader is not None:
            self._loader.start()

    def _ensure_collection(self) -> None:
        s = self.settings
        name = s.collection
        if not self.client.collection_exists(name):
            try:
                self.client.create_collection(
                    name, vectors_config=models.VectorParams(
                        size=s.embed_dim, distance=models.Distance.COSINE),
                    shard_number=s.qdrant_shards, replication_factor=s.qdrant_replication,
                    write_consistency_factor=s.qdrant_write_consistency)
            except Exception:  # another replica created it first (409): fine if it exists now
                if not self.client.collection_exists(name):
                    raise
        vectors = self.client.get_collection(name).config.params.vectors
        size = getattr(vectors, "size", None)
        if size is not None and size != s.embed_dim:
            raise ValueError(f"collection {name!r} has vectors of size {size}, but "
                             f"RAG_EMBED_DIM is {s.embed_dim}: set RAG_EMBED_DIM={size} or "
                             "recreate the collection")
        count = self.client.count(name, exact=True).count
        if count < len(self.documents):  # deterministic ids: re-loading is idempotent
            store = QdrantVectorStore(client=self.client, collection_name=name,
                                      embedding=self.embeddings)
            store.add_documents(self.documents, ids=list(range(len(self.documents))))
        self.loaded.set()

    def _bootstrap(self) -> None:
        while not self._stop.is_set():
            try:
                self._ensure_collection()
                self.last_error = ""
                return
            except Exception as exc:  # Qdrant not up yet: keep trying, report in /readyz
                self.last_error = f"bootstrap: {type(exc).__name__}: {exc}"[:300]
            self._stop.wait(1.0)

    async def search(self, question: str) -> list[Document]:
        """Top-k passages; raises whatever the client raised (or TimeoutError)."""
        if self.settings.qdrant_mode == "embedded":
            return list(self._memoised(question))
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._executor, self._search, question),
                                      timeout=self.settings.retrieval_timeout_s)

    def _memoised(self, question: str) -> tuple[Document, ...]:
        hit = self._memo.get(question)
        if hit is not None:
            self._memo.move_to_end(question)
            return hit.docs
        points = self._points(question)
        docs = tuple(self._document(p) for p in points)
        full = len(points) >= self.settings.top_k
        self._memo[question] = _Memo(docs=docs, ids=frozenset(p.id for p in points),
                                     kth=float(points[-1].score) if full else -math.inf)
        if len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return docs

    def _search(self, question: str) -> list[Document]:
        return [self._document(p) for p in self._points(question)]

    def _document(self, p: models.ScoredPoint) -> Document:
        store = self.store
        return store._document_from_point(p, store.collection_name, store.content_payload_key,
                                          store.metadata_payload_key)

    def _points(self, question: str) -> list[models.ScoredPoint]:
        """``QdrantVectorStore.similarity_search`` minus two costs on the hot path.

        The query vector goes in as a cached numpy array (the local client deep-copies a list
        query, 512 floats, on every search) and ``similarity_search_by_vector`` is avoided (it
        fetches the collection's config on every call, an extra round trip in server mode).
        """
        store = self.store
        return self.client.query_points(
            store.collection_name, query=self.embeddings.query_array(question),
            using=store.vector_name or None, limit=self.settings.top_k, with_payload=True,
            with_vectors=False).points

    def forget(self, point_id: int, vector: Sequence[float] | None) -> int:
        """A write changed point ``point_id`` (``vector``: its new vector; None for a delete):
        drop the memoised results it can change -- those holding the point, and, for an
        upsert, those whose k-th score the new vector reaches (cosine: the stored and query
        vectors are unit length). Returns how many entries were dropped."""
        stale = [q for q, m in self._memo.items() if point_id in m.ids]
        if vector is not None and self._memo:
            keys = list(self._memo)
            queries = np.stack([self.embeddings.query_array(q) for q in keys])
            v = np.asarray(vector, dtype=np.float32)
            v = v / max(float(np.linalg.norm(v)), 1e-12)
            scores = queries @ v
            stale += [q for q, sc in zip(keys, scores.tolist(), strict=True)
                      if sc >= self._memo[q].kth - 1e-6]
        for q in set(stale):
            del self._memo[q]
        return len(set(stale))

    def readiness(self) -> dict[str, Any]:
        mode = self.settings.qdrant_mode
        if mode == "embedded":
            return {"ok": True, "mode": mode, "documents": len(self.documents)}
        try:
            info = self.client.get_collection(self.settings.collection)
            ok = self.loaded.is_set() and info.points_count is not None
            return {"ok": bool(ok), "mode": mode, "points": info.points_count,
                    "detail": self.last_error or "ok"}
        except Exception as exc:
            return {"ok": False, "mode": mode, "detail": f"{type(exc).__name__}: {exc}"[:300]}

    def close(self) -> None:
        self._stop.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.client.close()
