"""Verification probes written as one line of text, for faults the harness does not inject
itself (``user-command``): the harness, not the command's exit code, decides whether it landed.

Grammar (one probe per string)::

    tcp-closed HOST:PORT            a TCP connect from the harness's host fails
    tcp-open HOST:PORT              it succeeds
    haproxy BACKEND/SERVER STATE    HAProxy's runtime API lists the server with a status
                                    starting with STATE (UP, DOWN, MAINT, DRAIN, NOLB)
    master-changed                  a majority of the sentinels names another master than
                                    before the fault
    replication-converged           the sentinels agree on a master and every replica is linked
    http URL STATUS                 GET URL answers STATUS (000: no answer at all);
                                    '!STATUS' means any other answer

:func:`parse_probe` checks a line (ConfigError naming the field); :func:`run_probe` looks once;
:func:`revert_probe_for` gives the default probe for "the fault is gone".
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any

import httpx

from harness.errors import ConfigError
from harness.faults.checks import Check
from harness.stack.base import Stack
from harness.stack.haproxy_api import haproxy_servers

__all__ = ["PROBE_KINDS", "Probe", "parse_probe", "revert_probe_for", "run_probe"]

PROBE_KINDS = ("tcp-closed", "tcp-open", "haproxy", "master-changed", "replication-converged",
               "http")
_HOSTPORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")
_SERVER = re.compile(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$")
_STATUS = re.compile(r"^!?\d{3}$")


@dataclass(frozen=True, slots=True)
class Probe:
    kind: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join((self.kind, *self.args))


def parse_probe(text: str, *, field: str = "params.verify", file: str | None = None) -> Probe:
    parts = text.split()
    bad = ConfigError("not a verification probe", file=file, field=field, value=text,
                      allowed="tcp-closed HOST:PORT | tcp-open HOST:PORT | haproxy "
                              "BACKEND/SERVER STATE | master-changed | replication-converged "
                              "| http URL STATUS")
    if not parts or parts[0] not in PROBE_KINDS:
        raise bad
    kind, args = parts[0], tuple(parts[1:])
    ok = {
        "tcp-closed": len(args) == 1 and bool(_HOSTPORT.match(args[0])),
        "tcp-open": len(args) == 1 and bool(_HOSTPORT.match(args[0])),
        "haproxy": len(args) == 2 and bool(_SERVER.match(args[0])),
        "master-changed": not args,
        "replication-converged": not args,
        "http": len(args) == 2 and args[0].startswith(("http://", "https://"))
        and bool(_STATUS.match(args[1])),
    }[kind]
    if not ok:
        raise bad
    return Probe(kind, args)


def revert_probe_for(probe: Probe) -> Probe:
    """The default "fault gone" probe for a verification probe."""
    if probe.kind == "tcp-closed":
        return Probe("tcp-open", probe.args)
    if probe.kind == "tcp-open":
        return Probe("tcp-closed", probe.args)
    if probe.kind == "haproxy":
        return Probe("haproxy", (probe.args[0], "UP"))
    if probe.kind == "http":
        return Probe("http", (probe.args[0], "200"))
    return Probe("replication-converged", ())


def _tcp(address: str, timeout: float = 0.5) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def run_probe(stack: Stack, probe: Probe, baseline: dict[str, Any]) -> Check:
    """One look. ``baseline`` holds what was seen before the fault (``master``)."""
    if probe.kind in ("tcp-closed", "tcp-open"):
        is_open = _tcp(probe.args[0])
        want_open = probe.kind == "tcp-open"
        return Check(is_open == want_open, f"{probe.args[0]} "
                                           f"{'accepts' if is_open else 'refuses'} connections")
    if probe.kind == "haproxy":
        sock = getattr(stack, "haproxy_socket", None)
        if not sock:
            return Check(False, "no HAProxy runtime API on this stack (add 'haproxy:' to the "
                                "topology file)")
        backend, server = probe.args[0].split("/")
        state = haproxy_servers(str(sock), backend).get(server, "missing")
        return Check(state.upper().startswith(probe.args[1].upper()),
                     f"HAProxy {backend}/{server} is {state}")
    if probe.kind == "master-changed":
        from harness.faults.sentinel import current_master

        now = current_master(stack)
        before = baseline.get("master")
        return Check(now is not None and now != before,
                     f"sentinels' master {before} -> {now}")
    if probe.kind == "replication-converged":
        from harness.faults.sentinel import replication_converged

        return replication_converged(stack)
    url, want = probe.args
    try:
        got = str(httpx.get(url, timeout=1.0).status_code)
    except httpx.HTTPError as exc:
        got = "000"
        seen = f"GET {url}: no answer ({type(exc).__name__})"
    else:
        seen = f"GET {url} -> {got}"
    ok = got != want[1:] if want.startswith("!") else got == want
    return Check(ok, seen)
