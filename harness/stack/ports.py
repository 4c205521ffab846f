"""Server ports, the same on every substrate (each place has its own address on local; each
service its own container on docker), so one HAProxy generator serves both."""

from __future__ import annotations

__all__ = ["APP_PORT", "FRONT_PORT", "QDRANT_FRONT_PORT", "QDRANT_GRPC_PORT", "QDRANT_HTTP_PORT",
           "QDRANT_P2P_PORT", "REDIS_PORT", "SENTINEL_PORT", "STATS_PORT", "TOXIPROXY_PORT"]

APP_PORT = 8000
REDIS_PORT = 6379
SENTINEL_PORT = 26379
QDRANT_HTTP_PORT = 6333
QDRANT_GRPC_PORT = 6334
QDRANT_P2P_PORT = 6335
FRONT_PORT = 8080  # HAProxy front door (edge)
STATS_PORT = 8404  # HAProxy stats page + Prometheus exporter (edge)
QDRANT_FRONT_PORT = 6333  # HAProxy frontend balancing the Qdrant nodes (edge)
TOXIPROXY_PORT = 8474  # Toxiproxy API (edge)
