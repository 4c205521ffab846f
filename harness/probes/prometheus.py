"""Prometheus as an observer: which scrape targets Prometheus itself sees up or down.

For deployments described by a topology file with ``prometheus: {url: ...}``: every poll asks
``GET /api/v1/query?query=up`` and records ``prom/<job>/<instance>`` = ``up`` / ``down``
(healthy: up) as a ``stack`` signal -- Prometheus's own view, on the run's clock. A Prometheus
that does not answer is recorded as ``prom`` = ``unreachable`` (a ``probe`` signal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from harness.probes.base import StateRecorder

__all__ = ["PrometheusObserver", "up_states"]


def up_states(answer: Mapping[str, Any]) -> dict[str, bool]:
    """``prom/<job>/<instance>`` -> up, from a ``/api/v1/query?query=up`` answer."""
    if answer.get("status") != "success":
        raise ValueError(f"Prometheus answered status {answer.get('status')!r}")
    out = {}
    for item in answer.get("data", {}).get("result", []):
        metric = item.get("metric", {})
        value = item.get("value", [None, "0"])[1]
        name = f"prom/{metric.get('job', '?')}/{metric.get('instance', '?')}"
        out[name] = str(value) == "1"
    return out


class PrometheusObserver:
    def __init__(self, base_url: str, recorder: StateRecorder, *, timeout: float = 1.0) -> None:
        self._rec = recorder
        self._http = httpx.Client(base_url=base_url, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def poll(self) -> None:
        try:
            resp = self._http.get("/api/v1/query", params={"query": "up"})
            resp.raise_for_status()
            states = up_states(resp.json())
        except (httpx.HTTPError, ValueError) as exc:
            self._rec.state("prom", "unreachable", False, detail=type(exc).__name__,
                            signal="probe")
            return
        self._rec.state("prom", "answering", True, signal="probe")
        for subject, up in states.items():
            self._rec.state(subject, "up" if up else "down", up)
