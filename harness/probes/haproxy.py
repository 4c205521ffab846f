"""HAProxy server states through the runtime API on the stats socket (``show stat``).

Subjects: ``haproxy/<backend>/<server>`` (state = HAProxy's status column: ``UP``, ``DOWN``,
``UP 1/2`` (up, one check failed), ``DOWN 1/2`` (down, one check passed), ``MAINT``, ``DRAIN``,
``NOLB``, ``no check``; healthy = ``UP*`` or ``no check``, with ``check_status`` as detail), and
``haproxy/<backend>`` (the backend row: ``UP``/``DOWN``). ``haproxy`` itself is ``unreachable``
when the socket does not answer. The socket is a UNIX socket path or ``tcp://HOST:PORT``.
"""

from __future__ import annotations

import csv
import io
import socket

from harness.probes.base import StateRecorder

__all__ = ["HAProxyObserver", "parse_show_stat", "server_healthy"]


def _connect(address: str, timeout: float) -> socket.socket:
    """``tcp://HOST:PORT`` (a ``stats socket ipv4@...``) or the path of a UNIX socket."""
    if address.startswith("tcp://"):
        host, _, port = address.removeprefix("tcp://").rpartition(":")
        return socket.create_connection((host, int(port)), timeout=timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(address)
    except BaseException:
        s.close()
        raise
    return s


def runtime_command(address: str, command: str, *, timeout: float = 1.0) -> str:
    """Send one runtime API command to the stats socket (a UNIX socket path, or
    ``tcp://HOST:PORT``) and return the answer (HAProxy closes after one command)."""
    with _connect(address, timeout) as s:
        s.settimeout(timeout)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def parse_show_stat(text: str) -> list[dict[str, str]]:
    """Rows of ``show stat`` CSV (the header line starts with ``# ``)."""
    text = text.lstrip()
    if not text.startswith("#"):
        raise ValueError(f"not 'show stat' output: {text[:80]!r}")
    return list(csv.DictReader(io.StringIO(text[1:].lstrip())))


def server_healthy(status: str) -> bool:
    return status.startswith("UP") or status in ("no check", "OPEN")


class HAProxyObserver:
    """One poll: every backend server's status (``poll`` for :class:`~.base.Poller`)."""

    def __init__(self, sock_path: str, recorder: StateRecorder, *, backends: tuple[str, ...] = (),
                 timeout: float = 0.5) -> None:
        self.sock_path = sock_path
        self._rec = recorder
        self._backends = backends  # empty = all
        self._timeout = timeout

    def poll(self) -> None:
        try:
            text = runtime_command(self.sock_path, "show stat", timeout=self._timeout)
        except OSError as exc:
            self._rec.state("haproxy", "unreachable", False, detail=f"{type(exc).__name__}: {exc}",
                            signal="probe")
            return
        self._rec.state("haproxy", "running", True, signal="probe")
        for row in parse_show_stat(text):
            px, sv, status = row.get("pxname", ""), row.get("svname", ""), row.get("status", "")
            if sv == "FRONTEND" or (self._backends and px not in self._backends):
                continue
            if px.startswith("stats") or px == "prometheus":
                continue
            if sv == "BACKEND":
                self._rec.state(f"haproxy/{px}", status, status == "UP")
                continue
            detail = row.get("check_status", "")
            if row.get("last_chk"):
                detail = f"{detail} {row['last_chk']}".strip()
            self._rec.state(f"haproxy/{px}/{sv}", status, server_healthy(status),
                            detail=detail)
