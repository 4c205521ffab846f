"""Prometheus metrics of one replica (its own registry, so tests can build several apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["BREAKER_STATE_VALUE", "Metrics"]

#: rag_breaker_state values
BREAKER_STATE_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0, "disabled": -1.0}


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("rag_requests", "Answer requests by HTTP status and provider",
                                ["status", "provider"], registry=r)
        self.latency = Histogram(
            "rag_request_latency_seconds", "Answer latency inside the replica", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10))
        self.degraded = Counter("rag_degraded_answers", "Degraded answers by reason",
                                ["reason"], registry=r)
        self.cache = Counter("rag_cache", "LLM cache lookups and writes by result "
                             "(hit, miss, error, skipped, write, write_error)", ["result"],
                             registry=r)
        self.provider_calls = Counter("rag_provider_calls", "LLM calls by provider",
                                      ["provider"], registry=r)
        self.provider_failures = Counter("rag_provider_failures",
                                         "Failed LLM calls by provider and error class",
                                         ["provider", "error"], registry=r)
        self.provider_skipped = Counter("rag_provider_skipped",
                                        "Calls not made because the breaker was open",
                                        ["provider"], registry=r)
        self.retrieval_failures = Counter("rag_retrieval_failures",
                                          "Failed vector searches by error class", ["error"],
                                          registry=r)
        self.writes = Counter("rag_writes", "Document writes by op and the stores that "
                              "acknowledged them (qdrant, qdrant+redis, none)", ["op", "acked"],
                              registry=r)
        self.breaker_state = Gauge("rag_breaker_state",
                                   "Circuit breaker state: 0 closed, 1 half-open, 2 open, "
                                   "-1 disabled", ["breaker"], registry=r)
        self.breaker_opens = Gauge("rag_breaker_opens", "Times each breaker has opened",
                                   ["breaker"], registry=r)
        self._cache_children = {k: self.cache.labels(k) for k in
                                ("hit", "miss", "error", "skipped", "write", "write_error",
                                 "replica_hit", "replica_miss", "replica_error")}

    def cache_result(self, result: str) -> None:
        self._cache_children[result].inc()
