"""HAProxy's runtime API (the stats socket): one client for the stack, the faults and the probes.

An address is the path of a UNIX socket or ``tcp://HOST:PORT`` (a ``stats socket ipv4@...``).
HAProxy answers one command per connection in non-interactive mode, then closes.
"""

from __future__ import annotations

import csv
import io
import socket

__all__ = ["backend_states", "haproxy_servers", "runtime_command", "show_stat_rows"]


def _connect(address: str, timeout: float) -> socket.socket:
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
    """Send one runtime API command and return HAProxy's whole answer."""
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


def show_stat_rows(text: str) -> list[dict[str, str]]:
    """Rows of ``show stat`` CSV (its header line starts with ``# ``)."""
    text = text.lstrip()
    if not text.startswith("#"):
        raise ValueError(f"not 'show stat' output: {text[:80]!r}")
    return list(csv.DictReader(io.StringIO(text[1:].lstrip())))


def backend_states(text: str, backend: str) -> dict[str, str]:
    """Server name -> status (``UP``, ``DOWN``, ``MAINT``, ``UP 1/2`` ...) of one backend."""
    return {row["svname"]: row.get("status", "") for row in show_stat_rows(text)
            if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND", "BACKEND")}


def haproxy_servers(address: str, backend: str, *, timeout: float = 1.0) -> dict[str, str]:
    """Server name -> status of one backend, asked now."""
    return backend_states(runtime_command(address, "show stat", timeout=timeout), backend)
