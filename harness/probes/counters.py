"""Read the cumulative counters an :class:`~harness.faults.exercise.ExercisePlan` names, from
outside the app where the stack has them, and time a probe through a Toxiproxy proxy.

One call reads each source once however many names use it: the provider simulators'
``GET /counters``, HAProxy's ``show stat`` (runtime API), Toxiproxy's ``GET /metrics`` (started
with ``-proxy-metrics``), and each app replica's ``GET /metrics``. App counters are stored per
replica (``app.<replica>.cache.reads``) so that a replica that cannot answer one of the two
samples (paused, killed) is left out of the delta instead of making it jump.

A source that does not answer is recorded in ``errors`` (name -> reason); reading never raises.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from harness.stack.base import ProviderControl, Proxied
from harness.stack.haproxy_api import runtime_command, show_stat_rows
from harness.topology import Kind

__all__ = ["probe_delay_ms", "read_counters"]

_TIMEOUT = 1.0
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
#: app counter name -> (metric, label filter) summed; label filter None = every sample
_APP: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "cache.reads": ("rag_cache_total", "result", ("hit", "miss", "error", "replica_hit",
                                                  "replica_miss", "replica_error")),
    "cache.writes": ("rag_cache_total", "result", ("write", "write_error")),
    "cache.errors": ("rag_cache_total", "result", ("error", "write_error", "replica_error")),
    "retrieval.failures": ("rag_retrieval_failures_total", "", ()),
    "provider.primary.failures": ("rag_provider_failures_total", "provider", ("primary",)),
    "provider.fallback.failures": ("rag_provider_failures_total", "provider", ("fallback",)),
}


def prometheus_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(metric, labels, value) of every sample line of a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m[3])
        except ValueError:
            continue
        out.append((m[1], dict(_LABEL.findall(m[2] or "")), value))
    return out


def _haproxy_address(stack: Any) -> str | None:
    sock = getattr(stack, "haproxy_socket", None)
    if sock and Path(str(sock)).exists():
        return str(sock)
    hap = [s for s in stack.topology.of_kind(Kind.HAPROXY) if "runtime" in s.endpoints]
    if hap:
        return f"tcp://{hap[0].endpoint('runtime').address}"
    return None


def _read_haproxy(stack: Any, names: list[str], out: dict[str, float],
                  errors: dict[str, str]) -> None:
    address = _haproxy_address(stack)
    if address is None:
        errors.update({n: "the stack exposes no HAProxy runtime API" for n in names})
        return
    try:
        rows = show_stat_rows(runtime_command(address, "show stat", timeout=_TIMEOUT))
    except (OSError, ValueError) as exc:
        errors.update({n: f"HAProxy show stat: {type(exc).__name__}: {exc}" for n in names})
        return
    table = {(r.get("pxname", ""), r.get("svname", "")): r for r in rows}
    for n in names:
        _, backend, server, field = n.split(".", 3)
        row = table.get((backend, server))
        value = (row or {}).get(field, "")
        if row is None or not value:
            errors[n] = f"HAProxy has no {field} for server {server} of backend {backend}"
        else:
            out[n] = float(value)


_SS_LINE = re.compile(r"^\S+\s+\S+\s+(\S+):(\d+)\s+(\S+):\d+\s")
_SS_BYTES = re.compile(r"\bbytes_(?:acked|received):(\d+)")


def _host(address: str) -> str:
    return address.strip("[]").removeprefix("::ffff:")


def live_bytes(listens: Mapping[str, tuple[str, int]], ss_output: str) -> dict[str, float]:
    """Bytes moved so far by the open client connections of each proxy, from ``ss -tinHO``:
    bytes acknowledged by the client (to it) plus bytes received from it, summed over the
    established sockets on the proxy's listen address, leaving out connections from the
    listen host itself (the harness's own probes)."""
    by_addr = {(host, port): proxy for proxy, (host, port) in listens.items()}
    out = {proxy: 0.0 for proxy in listens}
    for line in ss_output.splitlines():
        m = _SS_LINE.match(line)
        if not m:
            continue
        local, port, peer = _host(m[1]), int(m[2]), _host(m[3])
        proxy = by_addr.get((local, port))
        if proxy is None or peer == local:
            continue
        out[proxy] += sum(float(b) for b in _SS_BYTES.findall(line))
    return out


def _ss() -> str | None:
    """``ss -tinHO state established`` on this host, or None where ss is missing."""
    exe = shutil.which("ss")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "-tinHO", "state", "established"], capture_output=True,
                              text=True, timeout=2.0, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _read_toxiproxy(stack: Any, names: list[str], out: dict[str, float],
                    errors: dict[str, str]) -> None:
    """Toxiproxy counts a connection's bytes only when it closes; the app keeps its Redis and
    HTTP connections open, so the bytes of the open connections are read from the kernel
    (``ss``, when Toxiproxy listens on this host) and added: closed + open = every byte so
    far, monotonic across a connection closing."""
    if not isinstance(stack, Proxied):
        errors.update({n: "the stack has no Toxiproxy" for n in names})
        return
    base = stack.toxiproxy_url.rstrip("/")
    try:
        r = httpx.get(base + "/metrics", timeout=_TIMEOUT)
        r.raise_for_status()
        proxies = httpx.get(base + "/proxies", timeout=_TIMEOUT)
        proxies.raise_for_status()
        described = proxies.json()
    except (httpx.HTTPError, ValueError) as exc:
        errors.update({n: f"Toxiproxy {base}: {type(exc).__name__}: {exc} (is "
                          "toxiproxy-server started with -proxy-metrics?)" for n in names})
        return
    sent: dict[str, float] = {}
    for metric, labels, value in prometheus_samples(r.text):
        if metric == "toxiproxy_proxy_sent_bytes_total":
            proxy = labels.get("proxy", "")
            sent[proxy] = sent.get(proxy, 0.0) + value
    listens: dict[str, tuple[str, int]] = {}
    for name, d in described.items():
        host, _, port = str(d.get("listen", "")).rpartition(":")
        if host in ("", "0.0.0.0", "[::]", "::"):
            host = base.split("://", 1)[-1].rsplit(":", 1)[0]
        if port.isdigit():
            listens[name] = (_host(host), int(port))
    ss = _ss()
    live = live_bytes(listens, ss) if ss is not None else {}
    for n in names:
        proxy = n.split(".", 1)[1].rsplit(".", 1)[0]
        # a proxy that has moved no byte yet has no series: zero, not unknown
        out[n] = sent.get(proxy, 0.0) + live.get(proxy, 0.0)


def _read_providers(stack: Any, names: list[str], out: dict[str, float],
                    errors: dict[str, str]) -> None:
    from harness.simulators.control import ProviderControlClient

    by_provider: dict[str, list[str]] = {}
    for n in names:
        by_provider.setdefault(n.split(".")[1], []).append(n)
    for provider, wanted in by_provider.items():
        if not isinstance(stack, ProviderControl):
            errors.update({n: "the stack has no provider control API" for n in wanted})
            continue
        try:
            url, token = stack.provider_control(provider)
            with ProviderControlClient(url, token, timeout=_TIMEOUT) as ctl:
                counts = ctl.counters()
        except Exception as exc:  # any failure of one source is recorded, never raised
            errors.update({n: f"provider {provider} counters: {type(exc).__name__}: {exc}"
                           for n in wanted})
            continue
        for n in wanted:
            key = n.split(".", 2)[2]
            out[n] = float(counts.get(key, 0))


def _read_apps(stack: Any, names: list[str], out: dict[str, float],
               errors: dict[str, str]) -> None:
    keys = [n.removeprefix("app.") for n in names]
    for svc in stack.topology.of_kind(Kind.APP):
        ep = svc.endpoint("main")
        try:
            r = httpx.get(f"http://{ep.host}:{ep.port}/metrics", timeout=_TIMEOUT)
            r.raise_for_status()
        except httpx.HTTPError as exc:
            errors[f"app.{svc.name}"] = f"GET /metrics: {type(exc).__name__}"
            continue
        samples = prometheus_samples(r.text)
        for key in keys:
            metric, label, allowed = _APP[key]
            total = sum(v for m, lab, v in samples
                        if m == metric and (not label or lab.get(label) in allowed))
            out[f"app.{svc.name}.{key}"] = total


def read_counters(stack: Any, names: Iterable[str]) -> tuple[dict[str, float], dict[str, str]]:
    """(counters, errors): the current value of each named counter; per-replica for ``app.*``."""
    groups: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for n in dict.fromkeys(names):
        head = n.split(".", 1)[0]
        if head == "app" and n.removeprefix("app.") not in _APP:
            errors[n] = f"unknown app counter; known: {sorted(_APP)}"
            continue
        if head not in ("provider", "haproxy", "toxiproxy", "app"):
            errors[n] = "unknown counter source"
            continue
        groups.setdefault(head, []).append(n)
    out: dict[str, float] = {}
    readers = {"provider": _read_providers, "haproxy": _read_haproxy,
               "toxiproxy": _read_toxiproxy, "app": _read_apps}
    for head, wanted in groups.items():
        readers[head](stack, wanted, out, errors)
    return out, errors


def _probe_bytes(service: str) -> tuple[bytes, bytes]:
    """(request, what the first answer byte starts with) for the service behind a proxy."""
    if service.startswith("redis"):  # +PONG, or -NOAUTH: any answer is a round trip
        return b"PING\r\n", b""
    return b"GET / HTTP/1.0\r\nHost: probe\r\n\r\n", b"HTTP/"


def probe_delay_ms(stack: Any, proxy: str, *, timeout_s: float = 5.0) -> tuple[float | None, str]:
    """Round trip of one small request through a Toxiproxy proxy, from this host (the edge).

    Returns (milliseconds to the first answer byte, detail); None when the probe failed.
    """
    if not isinstance(stack, Proxied):
        return None, "the stack has no Toxiproxy"
    try:
        r = httpx.get(f"{stack.toxiproxy_url.rstrip('/')}/proxies/{proxy}", timeout=_TIMEOUT)
        r.raise_for_status()
        listen = str(r.json()["listen"])
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return None, f"Toxiproxy did not describe proxy {proxy}: {type(exc).__name__}"
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = stack.toxiproxy_url.split("://", 1)[-1].rsplit(":", 1)[0]
    request, expect = _probe_bytes(dict(stack.proxies()).get(proxy, proxy))
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as s:
            s.settimeout(timeout_s)
            t0 = time.perf_counter()
            s.sendall(request)
            first = s.recv(16)
            elapsed = (time.perf_counter() - t0) * 1e3
    except OSError as exc:
        return None, f"probe through {proxy} ({host}:{port}) failed: {type(exc).__name__}"
    if not first.startswith(expect):
        return None, f"probe through {proxy} got an unexpected answer {first[:16]!r}"
    return round(elapsed, 1), f"first answer byte after {elapsed:.1f} ms through {proxy}"
