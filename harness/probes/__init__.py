"""Observers: what the stack's own failover machinery saw, on the run's clock.

``with Observers(stack, timeline): ...`` -- see :mod:`harness.probes.observers`.
"""

from harness.probes.base import Poller, StateRecorder
from harness.probes.haproxy import HAProxyObserver, server_healthy
from harness.probes.http_probes import (
    AppObserver,
    ProviderObserver,
    QdrantObserver,
    qdrant_shard_states,
)
from harness.probes.observers import Observers
from harness.probes.sentinel import SentinelListener, SentinelPoller, parse_sentinel_message

__all__ = [
    "AppObserver",
    "HAProxyObserver",
    "Observers",
    "Poller",
    "ProviderObserver",
    "QdrantObserver",
    "SentinelListener",
    "SentinelPoller",
    "StateRecorder",
    "parse_sentinel_message",
    "qdrant_shard_states",
    "server_healthy",
]
