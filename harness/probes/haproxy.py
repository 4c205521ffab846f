"""HAProxy server states through the runtime API on the stats socket (``show stat``).

Subjects: ``haproxy/<backend>/<server>`` (state = HAProxy's status column: ``UP``, ``DOWN``,
``UP 1/2`` (up, one check failed), ``DOWN 1/2`` (down, one check passed), ``MAINT``, ``DRAIN``,
``NOLB``, ``no check``; healthy = ``UP*`` or ``no check``, with ``check_status`` as detail), and
``haproxy/<backend>`` (the backend row: ``UP``/``DOWN``). ``haproxy`` itself is ``unreachable``
when the socket does not answer. The socket is a UNIX socket path or ``tcp://HOST:PORT``.
"""

from __future__ import annotations

from harness.probes.base import StateRecorder
from harness.stack.haproxy_api import runtime_command, show_stat_rows

__all__ = ["HAProxyObserver", "server_healthy"]


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
        for row in show_stat_rows(text):
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
