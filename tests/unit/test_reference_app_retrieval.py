"""Retrieval with the hashing embedding over the committed corpus: recall@k is high."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reference_app.config import load_settings
from reference_app.embeddings import HashingEmbeddings, tokenize
from reference_app.retrieval import Retriever

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fixtures" / "corpus"


@pytest.fixture(scope="module")
def retriever() -> Retriever:
    r = Retriever(load_settings({"RAG_API_KEY": "k", "RAG_PRIMARY_URL": "http://x/v1",
                                 "RAG_CORPUS": str(CORPUS / "documents.jsonl"),
                                 "RAG_TOP_K": "3"}))
    yield r
    r.close()


def test_embedding_is_deterministic_and_normalised() -> None:
    emb = HashingEmbeddings(256)
    a = emb.embed_query("How does Redis failover promote a standby?")
    b = HashingEmbeddings(256).embed_documents(["How does Redis failover promote a standby?"])[0]
    assert a == pytest.approx(b)
    assert len(a) == 256 and float(np.linalg.norm(a)) == pytest.approx(1.0, abs=1e-5)
    assert emb.embed_query("the of and")[0] == 1.0  # only stop words: fixed unit vector
    assert tokenize("Backups snapshots restoring") == ["backup", "snapshot", "restor"]


def test_query_vector_is_cached_and_read_only() -> None:
    emb = HashingEmbeddings(64)
    v = emb.query_array("kafka partition")
    assert v is emb.query_array("kafka partition")
    with pytest.raises(ValueError):
        v[0] = 3.0


def test_recall_at_3_is_high(retriever: Retriever) -> None:
    questions = [json.loads(line) for line in
                 (CORPUS / "questions.jsonl").read_text().splitlines()]
    assert len(questions) >= 300
    found = 0
    for q in questions:
        docs = asyncio.run(retriever.search(q["question"]))
        assert len(docs) == 3
        found += any(d.metadata["id"] in q["relevant"] for d in docs)
    recall = found / len(questions)
    assert recall >= 0.97, f"recall@3 {recall:.3f} below 0.97"


def test_documents_come_back_as_langchain_documents(retriever: Retriever) -> None:
    docs = asyncio.run(retriever.search("Kafka network partition split brain minority"))
    assert docs[0].metadata["id"].startswith("kb-")
    assert "Kafka" in docs[0].page_content and "partition" in docs[0].page_content


def test_committed_corpus_matches_its_generator() -> None:
    result = subprocess.run([sys.executable, str(CORPUS / "generate.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    docs = (CORPUS / "documents.jsonl").read_text().splitlines()
    assert 200 <= len(docs) <= 1000
    ids = [json.loads(d)["id"] for d in docs]
    assert len(set(ids)) == len(ids)


def test_a_collection_of_another_vector_size_is_refused_clearly() -> None:
    from qdrant_client import models

    settings = load_settings({"RAG_API_KEY": "k", "RAG_PRIMARY_URL": "http://x/v1",
                              "RAG_CORPUS": str(CORPUS / "documents.jsonl")})
    r = Retriever(settings)
    try:
        r.client.delete_collection("kb")
        r.client.create_collection("kb", vectors_config=models.VectorParams(
            size=64, distance=models.Distance.COSINE))
        with pytest.raises(ValueError, match="size 64, but RAG_EMBED_DIM is 512"):
            r._ensure_collection()
    finally:
        r.close()
