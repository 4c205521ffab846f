"""Readiness logic of the docker substrate (the checks' parsing, ordering and error messages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import StackError
from harness.stack import haproxy_api
from harness.stack.docker import clients, layout, ready

SHOW_STAT = """# pxname,svname,qcur,status,weight
front,FRONTEND,0,OPEN,
app,app-az-a,0,UP,1
app,app-az-b,0,DOWN,1
app,app-az-c,0,MAINT (resolution),1
app,BACKEND,0,UP,2
qdrant,qdrant-az-a,0,UP,1
"""


def test_show_stat_is_read_per_backend() -> None:
    assert haproxy_api.backend_states(SHOW_STAT, "app") == {
        "app-az-a": "UP", "app-az-b": "DOWN", "app-az-c": "MAINT (resolution)"}
    assert haproxy_api.backend_states(SHOW_STAT, "qdrant") == {"qdrant-az-a": "UP"}
    assert haproxy_api.backend_states(SHOW_STAT, "nope") == {}


def _shard(i: int, state: str = "Active") -> dict[str, Any]:
    return {"shard_id": i, "state": state}


def test_replica_states_must_all_be_active_and_complete() -> None:
    full = {"local_shards": [_shard(0), _shard(1)],
            "remote_shards": [_shard(0), _shard(1), _shard(2), _shard(2)]}
    assert clients.qdrant_replica_problem(full, shard_number=3, replication_factor=2) is None
    assert "has 2 replicas, expected 3" in str(
        clients.qdrant_replica_problem(full, shard_number=3, replication_factor=3))
    partial = {"local_shards": [_shard(0, "Partial")], "remote_shards": [_shard(0)]}
    assert "expected all 'Active'" in str(
        clients.qdrant_replica_problem(partial, shard_number=1, replication_factor=2))
    assert "expected 2 shards, found 1" in str(
        clients.qdrant_replica_problem(partial, shard_number=2, replication_factor=2))


class _Stack:
    class run:
        project = "chaos-x"
        cluster = True

    services = layout.SERVICES

    def __init__(self) -> None:
        self.states = {"haproxy": "running"}

    def _state(self, service: str) -> str:
        return self.states.get(service, "running")

    def log_tail(self, service: str, lines: int) -> list[str]:
        return [f"{service} log"]


def test_checks_run_in_order_and_a_timeout_names_the_component(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def ok(name: str) -> Any:
        return lambda stack: calls.append(name)

    monkeypatch.setattr(ready, "READINESS_CHECKS", (
        ("first", ok("first")), ("never", lambda s: ("app-az-b", "expected UP, found DOWN")),
        ("after", ok("after"))))
    with pytest.raises(StackError) as info:
        ready.wait_ready(_Stack(), timeout=0.3, poll=0.05)  # type: ignore[arg-type]
    text = str(info.value)
    assert calls == ["first"]
    assert text.startswith("app-az-b: not ready after 0.3 s (never): expected UP, found DOWN")
    assert "app-az-b log" in text and "docker compose -p chaos-x logs app-az-b" in text


def test_a_stopped_container_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = _Stack()
    stack.states["redis-az-c"] = "exited"
    monkeypatch.setattr(ready, "READINESS_CHECKS", (("x", lambda s: ("x", "never")),))
    with pytest.raises(StackError, match="redis-az-c: container is 'exited', expected 'running'"):
        ready.wait_ready(stack, timeout=30, poll=0.05)  # type: ignore[arg-type]


def test_corpus_size_counts_documents(tmp_path: Path) -> None:
    (tmp_path / "fixtures" / "corpus").mkdir(parents=True)
    (tmp_path / "fixtures/corpus/documents.jsonl").write_text('{"a":1}\n\n{"b":2}\n')
    assert ready.corpus_size(tmp_path) == 2
    assert ready.corpus_size(tmp_path / "missing") == 0
