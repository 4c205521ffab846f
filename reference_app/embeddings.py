"""A deterministic, local, provider-independent embedding: feature-hashed bag of words.

Each token (lower-cased word, crudely stemmed, stop words dropped) and each pair of adjacent
tokens is hashed (blake2b, so it does not depend on ``PYTHONHASHSEED``) to one of ``dim``
buckets with a sign; the vector is L2-normalised, so cosine similarity is the overlap of
vocabulary weighted like TF. Good enough for retrieval over a small knowledge base, costs a few
microseconds per query (cached per distinct text), and needs no model, no network, no GPU.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from hashlib import blake2b

import numpy as np
from langchain_core.embeddings import Embeddings

__all__ = ["HashingEmbeddings", "tokenize"]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "before", "by", "can", "do", "does", "for", "from", "how", "i", "in", "is", "it", "its", "not", "of", "on", "or", "should", "so", "that", "the", "their", "then", "there", "this", "to", "what", "when", "where", "which", "who", "why", "will", "with", "after", "about", "into", "only", "one", "my", "our", "we", "you", "your", "me"])


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokenize(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


@lru_cache(maxsize=65536)
def _bucket(token: str, dim: int) -> tuple[int, float]:
    digest = int.from_bytes(blake2b(token.encode(), digest_size=8).digest(), "little")
    return digest % dim, (1.0 if (digest >> 63) & 1 else -1.0)


class HashingEmbeddings(Embeddings):
    """Feature-hashing embeddings (``dim`` buckets, unigrams + bigrams, L2-normalised)."""

    def __init__(self, dim: int = 512, *, bigram_weight: float = 0.5) -> None:
        if dim < 8:
            raise ValueError(f"dim must be at least 8 (got {dim})")
        self.dim = dim
        self.bigram_weight = bigram_weight
        self._cached = lru_cache(maxsize=8192)(self._frozen)

    def _frozen(self, text: str) -> np.ndarray:
        vec = self._embed(text)
        vec.flags.writeable = False
        return vec

    def _embed(self, text: str) -> np.ndarray:
        tokens = tokenize(text)
        grams = tokens + [a + " " + b for a, b in itertools.pairwise(tokens)]
        if not grams:  # no known word: a fixed unit vector so search still returns something
            unit = np.zeros(self.dim, dtype=np.float32)
            unit[0] = 1.0
            return unit
        buckets = [_bucket(g, self.dim) for g in grams]
        weights = [sign if i < len(tokens) else sign * self.bigram_weight
                   for i, (_, sign) in enumerate(buckets)]
        vec = np.bincount([b for b, _ in buckets], weights=weights, minlength=self.dim)
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0], norm = 1.0, 1.0
        return (vec / norm).astype(np.float32)

    def query_array(self, text: str) -> np.ndarray:
        """The query vector as a read-only numpy array, cached per text (questions repeat
        under load, so a repeated question costs a dict lookup instead of hashing)."""
        return self._cached(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t).tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.query_array(text).tolist()
