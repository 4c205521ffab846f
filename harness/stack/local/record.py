"""The per-run record on disk, and the reaper of runs whose harness died.

``<run dir>/<key>.json`` (run dir: ``$CHAOS_HARNESS_RUN_DIR``, else ``/run/chaos-harness`` as
root, else ``/tmp/chaos-harness-<uid>``) is written *before* anything is created and updated after
every step, so a harness killed with SIGKILL at any instant leaves enough behind for the next
``up``/``down`` to remove everything: the owner PID (+ start time), namespace and link names, the
iptables tag, and every process with its start command. A run is *stale* when its owner is gone
and it was not handed over to the CLI (``chaos-harness up`` marks it ``detached`` once ready).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.stack.local import netns as net
from harness.stack.local.procs import (
    ProcSpec,
    find_marked,
    kill_pids,
    proc_alive,
    proc_start_time,
    terminate_all,
)

__all__ = ["RunRecord", "RunStore"]


@dataclass(slots=True, kw_only=True)
class RunRecord:
    """Mutable on purpose: it is the on-disk journal of one run, rewritten atomically."""

    run_id: str
    key: str
    owner_pid: int
    owner_start: int | None
    netns_mode: bool
    octet: int
    state_dir: str
    namespaces: list[str]
    links: list[str]
    tag: str
    state: str = "starting"  # starting | running | stopping
    detached: bool = False
    created_at: float = field(default_factory=time.time)
    procs: dict[str, dict[str, Any]] = field(default_factory=dict)  # service -> spec+pid+start
    extra: dict[str, Any] = field(default_factory=dict)  # topology, tokens, knobs, notes ...

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunRecord:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def set_proc(self, spec: ProcSpec, pid: int | None) -> None:
        self.procs[spec.service] = {**spec.to_json(), "pid": pid,
                                    "start": proc_start_time(pid) if pid else None}

    def spec(self, service: str) -> ProcSpec:
        return ProcSpec.from_json(self.procs[service])

    def owner_alive(self) -> bool:
        return proc_alive(self.owner_pid, self.owner_start)

    @property
    def stale(self) -> bool:
        if self.owner_alive():
            return False
        return not (self.detached and self.state == "running")


def default_run_dir() -> Path:
    env = os.environ.get("CHAOS_HARNESS_RUN_DIR")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/run/chaos-harness")
    return Path(f"/tmp/chaos-harness-{os.geteuid()}")


class RunStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_run_dir()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def state_dir(self, key: str) -> Path:
        return self.root / key

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialises subnet allocation and record updates between harness processes."""
        with open(self.root / ".lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def save(self, rec: RunRecord) -> None:
        tmp = self.path(rec.key).with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(rec.to_json(), indent=1))
        os.replace(tmp, self.path(rec.key))

    def load(self, key: str) -> RunRecord | None:
        try:
            return RunRecord.from_json(json.loads(self.path(key).read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def all(self) -> list[RunRecord]:
        out = []
        for p in sorted(self.root.glob("*.json")):
            rec = self.load(p.stem)
            if rec is not None:
                out.append(rec)
        return out

    def taken_octets(self, netns_mode: bool) -> set[int]:
        return {r.octet for r in self.all() if r.netns_mode == netns_mode}

    def reap_stale(self) -> list[str]:
        """Tear down every run whose harness died without cleaning up; returns run keys."""
        reaped = []
        for tmp in self.root.glob("*.tmp*"):  # a save cut short by SIGKILL
            pid = tmp.suffix.removeprefix(".tmp")
            if pid.isdigit() and not proc_alive(int(pid), None):
                tmp.unlink(missing_ok=True)
        if net.NETNS_DIR.is_dir():  # a capability probe cut short (see netns._probe_netns)
            for ns in os.listdir(net.NETNS_DIR):
                pid = ns.removeprefix("ch-probe-")
                if ns.startswith("ch-probe-") and pid.isdigit() and not proc_alive(int(pid), None):
                    net.destroy_network([ns], [])
        for rec in self.all():
            if rec.stale:
                self.teardown(rec)
                reaped.append(rec.key)
        return reaped

    def teardown(self, rec: RunRecord, *, keep_state: bool = False) -> list[str]:
        """Remove every trace of a run: processes, namespaces, links, iptables rules,
        state dir, record. Safe to call twice and on half-started runs."""
        done: list[str] = []
        rec.state = "stopping"
        with contextlib.suppress(OSError):
            self.save(rec)
        pids = {s: (p["pid"], p["start"]) for s, p in rec.procs.items() if p.get("pid")}
        terminate_all(pids)
        done += [f"stopped {s}" for s in pids]
        strays = list(find_marked(rec.key))
        for ns in rec.namespaces:
            if (net.NETNS_DIR / ns).exists():
                strays += net.netns_pids(ns)
        if strays:
            kill_pids(sorted(set(strays)))
            done.append(f"killed {len(set(strays))} stray processes")
        done += net.destroy_network(rec.namespaces, rec.links)
        if rec.netns_mode:
            done += [f"iptables -D {r}" for r in net.delete_tagged_rules(rec.tag)]
            done += net.disallow_forwarding(rec.key)
        if not keep_state and os.environ.get("CHAOS_HARNESS_KEEP_STATE", "") in ("", "0"):
            shutil.rmtree(rec.state_dir, ignore_errors=True)
        self.path(rec.key).unlink(missing_ok=True)
        return done
