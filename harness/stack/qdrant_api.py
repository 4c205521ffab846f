"""The Qdrant cluster's collection, the same on every substrate: explicit shards, replication
factor 3 and write consistency 2 (a server-side default alone creates no replicas, upstream
#5215), created through HAProxy's Qdrant frontend; the replicas' matching ``RAG_QDRANT_*``.
"""

from __future__ import annotations

import httpx

__all__ = ["COLLECTION", "EMBED_DIM", "QDRANT_IMAGE", "REPLICATION", "SHARDS", "TESTED_VERSION",
           "WRITE_CONSISTENCY", "app_qdrant_env", "create_collection"]

#: The Qdrant server version this project tests, on every substrate: the compose image tag, the
#: image the docker substrate looks for, and the binary the local cluster mode was measured
#: with; qdrant-client is pinned in scripts/constraints.txt (tests/unit/test_qdrant_versions.py
#: keeps them one).
TESTED_VERSION = "1.19.0"
QDRANT_IMAGE = f"qdrant/qdrant:v{TESTED_VERSION}"

COLLECTION = "kb"
SHARDS = 3
REPLICATION = 3
WRITE_CONSISTENCY = 2
EMBED_DIM = 512  # reference_app.embeddings.HashingEmbeddings default (RAG_EMBED_DIM)


def app_qdrant_env() -> dict[str, str]:
    return {"RAG_QDRANT_SHARDS": str(SHARDS), "RAG_QDRANT_REPLICATION": str(REPLICATION),
            "RAG_QDRANT_WRITE_CONSISTENCY": str(WRITE_CONSISTENCY),
            "RAG_EMBED_DIM": str(EMBED_DIM)}


def create_collection(front_url: str, *, timeout: float = 10.0) -> str:
    """Create the collection with explicit replication; 'created' or 'exists'."""
    with httpx.Client(base_url=front_url, timeout=timeout) as http:
        if http.get(f"/collections/{COLLECTION}").status_code == 200:
            return "exists"
        resp = http.put(f"/collections/{COLLECTION}", json={
            "vectors": {"size": EMBED_DIM, "distance": "Cosine"},
            "shard_number": SHARDS, "replication_factor": REPLICATION,
            "write_consistency_factor": WRITE_CONSISTENCY})
        if resp.status_code == 409 or (resp.status_code == 400 and "exists" in resp.text):
            return "exists"
        resp.raise_for_status()
        return "created"
