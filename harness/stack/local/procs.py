"""Processes of a local run: start in a place, signal, identify, find strays.

Every process is started in its own session (so a Ctrl-C on the terminal reaches only the
harness, which then tears down in order) with ``ip netns exec <ns> <cmd>`` where it lives in a
zone (``ip netns exec`` execs, so the PID is the server's), logs to a file in the run's state
dir, and carries ``CHAOS_HARNESS_RUN=<key>`` in its environment: the reaper finds strays of a
run by that marker even when the record on disk missed them.

A process is identified by PID and start time (``/proc/<pid>/stat`` field 22), so a reused PID
is never mistaken for ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.polling import PollTimeout, poll_until

__all__ = [
    "MARKER",
    "ProcSpec",
    "find_marked",
    "log_tail",
    "proc_alive",
    "proc_gone",
    "proc_start_time",
    "proc_state",
    "signal_group",
    "spawn",
    "terminate_all",
]

MARKER = "CHAOS_HARNESS_RUN"
_DROP_ENV_PREFIXES = ("RAG_", "QDRANT__")
_DROP_ENV = {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcSpec:
    """How to start one service; kept in the run record so any process can restart it."""

    service: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    netns: str | None = None
    cwd: str
    log: str

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "argv": list(self.argv), "env": dict(self.env),
                "netns": self.netns, "cwd": self.cwd, "log": self.log}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ProcSpec:
        return cls(service=d["service"], argv=tuple(d["argv"]), env=dict(d["env"]),
                   netns=d["netns"], cwd=d["cwd"], log=d["log"])


def _environment(spec: ProcSpec, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in _DROP_ENV and not k.startswith(_DROP_ENV_PREFIXES)}
    env.update({"PYTHONUNBUFFERED": "1", "NO_PROXY": "*", "no_proxy": "*"})
    env.update(spec.env)
    env[MARKER] = key
    return env


def spawn(spec: ProcSpec, key: str) -> subprocess.Popen[bytes]:
    """Start the service detached (own session); stdout+stderr appended to its log."""
    argv = list(spec.argv)
    if spec.netns:
        argv = ["ip", "netns", "exec", spec.netns, *argv]
    Path(spec.cwd).mkdir(parents=True, exist_ok=True)
    with open(spec.log, "ab") as log:
        log.write(f"--- start {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
        log.flush()
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=spec.cwd,
                                env=_environment(spec, key), start_new_session=True,
                                close_fds=True)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'
    return raw[raw.rfind(")") + 2:].split()


def proc_start_time(pid: int) -> int | None:
    f = _stat_fields(pid)
    return int(f[19]) if f else None


def proc_state(pid: int) -> str | None:
    """One-letter state (R, S, D, T, t, Z, ...) or None when there is no such process."""
    f = _stat_fields(pid)
    return f[0] if f else None


def proc_gone(pid: int | None) -> bool:
    """Whether the process no longer runs: absent, or a zombie whose files are all closed.

    A killed multi-threaded server shows ``Z`` for its leader while its other threads are
    still exiting and its listening socket still accepts connections (seen here: the app's
    port answered a connect right after SIGKILL), so ``Z`` alone is not enough.
    """
    if pid is None:
        return True
    state = proc_state(pid)
    if state is None:
        return True
    if state not in ("Z", "X"):
        return False
    try:
        return not os.listdir(f"/proc/{pid}/fd")
    except OSError:  # gone meanwhile, or no fd table any more
        return True


def proc_alive(pid: int | None, start: int | None) -> bool:
    """The very process we started is still there (not a zombie, not a reused PID)."""
    if not pid:
        return False
    f = _stat_fields(pid)
    if not f or f[0] in ("Z", "X"):
        return False
    return start is None or int(f[19]) == start


def signal_group(pid: int, sig: int) -> None:
    """Signal the service's process group (its session); falls back to the PID alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def find_marked(key: str) -> Iterator[int]:
    """PIDs of processes carrying this run's marker in their environment."""
    needle = f"{MARKER}={key}".encode()
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            data = Path(entry.path, "environ").read_bytes()
        except OSError:
            continue
        if needle in data and needle in data.split(b"\0"):
            yield int(entry.name)


def terminate_all(pids: Mapping[str, tuple[int, int | None]], *, grace: float = 2.0) -> None:
    """SIGTERM (plus SIGCONT for paused ones) to every group, SIGKILL what is left after
    ``grace`` seconds, and wait until they are gone (bounded)."""
    live = {s: (p, st) for s, (p, st) in pids.items() if proc_alive(p, st)}
    for pid, _ in live.values():
        signal_group(pid, signal.SIGTERM)
        signal_group(pid, signal.SIGCONT)

    def still_alive() -> dict[str, tuple[int, int | None]]:
        nonlocal live
        live = {s: v for s, v in live.items() if proc_alive(*v)}
        return live

    def wait_gone(patience: float) -> None:
        with contextlib.suppress(PollTimeout):  # a bounded wait: then carry on
            poll_until(still_alive, patience, interval=0.02, until=lambda left: not left,
                       what="the process groups to exit")

    wait_gone(grace)
    for pid, _ in live.values():
        signal_group(pid, signal.SIGKILL)
    wait_gone(2.0)


def kill_pids(pids: list[int]) -> None:
    """SIGKILL plain PIDs (strays found by marker or in a namespace) and wait briefly."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(PollTimeout):
        poll_until(lambda: not any(proc_alive(p, None) for p in pids), 2.0, interval=0.02,
                   what="the killed PIDs to exit")


def log_tail(path: str | Path, lines: int = 20) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return [f"(no log at {path})"]
    return text.splitlines()[-lines:]
