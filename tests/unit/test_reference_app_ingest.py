"""The embedded write path: a write is searchable at once, and the search memo drops only the
results a write can change (real in-memory Qdrant, no Redis: the cache is off)."""

from __future__ import annotations

import asyncio

import pytest

from reference_app.config import Settings
from reference_app.ingest import Ingestor, parse_write
from reference_app.retrieval import Retriever


@pytest.fixture(scope="module")
def parts() -> tuple[Retriever, Ingestor]:
    settings = Settings(api_key="k", primary_url="http://127.0.0.1:9/v1")
    retriever = Retriever(settings)
    return retriever, Ingestor(settings, retriever, None)


def _apply(ing: Ingestor, **body: object) -> object:
    return asyncio.run(ing.apply(parse_write(body)))


def test_unrelated_write_keeps_the_memo_related_write_drops_it(
        parts: tuple[Retriever, Ingestor]) -> None:
    retriever, ing = parts
    q = "How does Redis Sentinel promote a replica when the master fails?"
    other = "What does HAProxy do when a backend server fails its health check?"
    before = [d.metadata["id"] for d in asyncio.run(retriever.search(q))]
    asyncio.run(retriever.search(other))
    assert len(retriever._memo) == 2
    # tokens no question uses: scores ~0, no memoised result can change
    res = _apply(ing, op="upsert", id=5_000_001, write_id="u1", name="noise",
                 text="zqaa11 zqbb22 zqcc33")
    assert len(retriever._memo) == 2
    assert res.acknowledged == ("qdrant",) and res.qdrant_scope == "replica"  # type: ignore[attr-defined]
    # a document that is the question itself enters q's top-k: q's entry is dropped
    _apply(ing, op="upsert", id=5_000_002, write_id="u2", name="answer-doc", text=q)
    assert q not in retriever._memo and other in retriever._memo
    now = [d.metadata["id"] for d in asyncio.run(retriever.search(q))]
    assert now[0] == "answer-doc" and now[1:] == before[:-1]
    # deleting a point drops the entries that hold it; the next search no longer sees it
    _apply(ing, op="delete", id=5_000_002, write_id="d2")
    assert q not in retriever._memo
    assert [d.metadata["id"] for d in asyncio.run(retriever.search(q))] == before


def test_parse_write_defaults_the_name() -> None:
    req = parse_write({"op": "delete", "id": 7, "write_id": "x"})
    assert (req.name, req.op, req.doc_id) == ("doc-7", "delete", 7)
