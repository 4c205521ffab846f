"""The run record: when a run counts as stale (its harness died), and its JSON round trip."""

from __future__ import annotations

import os
import subprocess
import sys

from harness.stack.local.procs import ProcSpec, proc_start_time
from harness.stack.local.record import RunRecord, RunStore


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _record(owner: int, **kw: object) -> RunRecord:
    return RunRecord(run_id="ab12cd", key="ab12cd", owner_pid=owner,
                     owner_start=proc_start_time(owner), netns_mode=False, octet=120,
                     state_dir="/nonexistent", namespaces=[], links=[],
                     tag="chaos-harness:ab12cd", **kw)  # type: ignore[arg-type]


def test_staleness() -> None:
    assert not _record(os.getpid()).stale  # owner alive
    dead = _dead_pid()
    assert _record(dead).stale  # owner gone mid-start
    assert _record(dead, state="running").stale  # an open_stack whose harness was killed
    assert not _record(dead, state="running", detached=True).stale  # left running by 'up'
    assert _record(dead, state="starting", detached=True).stale
    reused = _record(os.getpid())
    reused.owner_start = (reused.owner_start or 0) + 1  # same PID, another process
    assert reused.stale


def test_round_trip_and_store(tmp_path) -> None:
    store = RunStore(tmp_path)
    rec = _record(os.getpid(), state="running")
    spec = ProcSpec(service="redis-az-a", argv=("redis-server", "/x.conf"), netns="ch-ab12cd-a",
                    cwd="/w", log="/l.log", env={"A": "1"})
    rec.set_proc(spec, os.getpid())
    store.save(rec)
    again = store.load("ab12cd")
    assert again == rec and again.spec("redis-az-a") == spec
    assert store.taken_octets(False) == {120} and store.taken_octets(True) == set()
    (tmp_path / "junk.json").write_text("{not json")
    (tmp_path / "docker-x.json").write_text('{"run_id": "x"}')
    assert [r.key for r in store.all()] == ["ab12cd"]
