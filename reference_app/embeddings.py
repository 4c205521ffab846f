"""A deterministic, local, provider-independent embedding: feature-hashed bag of words.

Each token (lower-cased word, crudely stemmed, stop words dropped) and each pair of adjacent
tokens is hashed (blake2b, so it does not depend on ``PYTHONHASHSEED``) to one of ``dim``
buckets with a sign; the vector is L2-normalised, so cosine similarity is the overlap of
vocabulary weighted like TF. Good enough for retrieval over a small knowledge base, costs a few
microseconds per query, and needs no model, no network, no GPU.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from hashlib import blake2b

from langchain_core.embeddings import Embeddings

__all__ = ["HashingEmbeddings", "tokenize"]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be before by can do does for from how i in is it its not of on or "
    "should so that the their then there this to what when where which who why will with "
    "after about into only one my our we you your me".split())


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

    def _embed(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        tokens = tokenize(text)
        for tok in tokens:
            i, sign = _bucket(tok, self.dim)
            vec[i] += sign
        if self.bigram_weight:
            for a, b in zip(tokens, tokens[1:], strict=False):
                i, sign = _bucket(a + " " + b, self.dim)
                vec[i] += sign * self.bigram_weight
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:  # no known word: a fixed unit vector so search still returns something
            vec[0] = 1.0
            return vec
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)
