"""Qdrant's own signals as obs.event: peer dropped/back, leader change/lost, replica Dead/Active
(pure: fed with what a node says, a fake clock)."""

from __future__ import annotations

from harness.analysis.spec import DEFAULT_DETECTION_EVENTS
from harness.probes.base import StateRecorder
from harness.probes.qdrant_signals import QdrantSignals
from harness.timeline import Timeline


def _events(tl: Timeline) -> list[tuple[str, str]]:
    return [(e.get("event"), e.get("detail")) for e in tl.events_of("obs.event")]


def test_leader_change_and_loss_after_a_baseline() -> None:
    tl = Timeline()
    sig = QdrantSignals("qdrant-az-b", StateRecorder(tl, "obs"))
    sig.cluster({"raft_info": {"leader": 1, "term": 2}})
    sig.cluster({"raft_info": {"leader": 1, "term": 2}})
    sig.cluster({"raft_info": {"leader": None, "term": 2}})
    sig.cluster({"raft_info": {"leader": 3, "term": 3}})
    assert _events(tl) == [("qdrant-leader-lost", "was 1"), ("qdrant-leader-change", "None -> 3")]
    e = tl.events_of("obs.event")[-1]
    assert (e.get("subject"), e.get("new"), e.get("term"), e.get("signal")) == (
        "qdrant/qdrant-az-b", 3, 3, "stack")


def test_peer_dropped_when_send_failures_grow_and_back_when_quiet() -> None:
    now = [0.0]
    tl = Timeline()
    sig = QdrantSignals("qdrant-az-b", StateRecorder(tl, "obs"), quiet_s=3.0,
                        clock=lambda: now[0])
    uri = "http://10.0.0.1:6335/"
    for t, count in ((0, 2), (1, 2), (2, 5), (3, 9), (4, 9), (6.5, 9)):
        now[0] = t
        sig.cluster({"raft_info": {"leader": 1},
                     "message_send_failures": {uri: {"count": count, "latest_error": "x"}}})
    assert _events(tl) == [("qdrant-peer-dropped", uri), ("qdrant-peer-back", uri)]
    assert tl.events_of("obs.event")[0].t_ns <= tl.events_of("obs.event")[1].t_ns


def test_replica_dead_then_active() -> None:
    tl = Timeline()
    sig = QdrantSignals("qdrant-az-a", StateRecorder(tl, "obs"))
    sub = "qdrant/qdrant-az-a/shard/1/peer/7"
    for state in ("Active", "Active", "Dead", "Partial", "Active"):
        sig.replicas([(sub, state), ("qdrant/qdrant-az-a/shard/0", "Active")])
    assert _events(tl) == [("qdrant-replica-dead", "shard/1/peer/7: Active -> Dead"),
                           ("qdrant-replica-active", "shard/1/peer/7: Partial -> Active")]


def test_qdrant_noticing_counts_as_detection() -> None:
    assert {"qdrant-peer-dropped", "qdrant-leader-lost", "qdrant-replica-dead"} <= \
        DEFAULT_DETECTION_EVENTS
