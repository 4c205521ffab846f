"""Client of a provider simulator's control API (faults on/off, served-request counters).

``ProviderControlClient(base_url, token)``::

    with ProviderControlClient("http://127.0.0.1:9101", token) as ctl:
        ctl.set_fault("error", status=500, rate=1.0)
        ...
        ctl.clear()
        ctl.counters()  # {"requests": .., "ok": .., "error_5xx": .., ...}

Fault kinds and parameters: :data:`harness.simulators.faults.FAULT_KINDS` (every kind also
takes ``rate``). Routes: ``GET/DELETE /faults``, ``PUT/DELETE /faults/{kind}``,
``GET /counters``, ``POST /counters/reset``, ``GET /info``, ``GET /healthz`` (no token).
"""

from __future__ import annotations

from typing import Any

import httpx

from harness.errors import ConfigError, StackError

__all__ = ["ProviderControlClient"]


class ProviderControlClient:
    """Typed wrapper over the control API; raises ``ConfigError`` for a rejected fault."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}"})

    def __enter__(self) -> ProviderControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        try:
            resp = self._http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise StackError(f"provider control API at {self.base_url} did not answer "
                             f"{method} {path}: {exc!r}", component="provider-simulator",
                             hint="is the simulator running and its --control-port right?"
                             ) from exc
        if resp.status_code == 400:
            raise ConfigError(resp.json().get("error", resp.text), field=path)
        if resp.status_code != 200:
            raise StackError(f"provider control API answered {resp.status_code} to {method} "
                             f"{path}: {resp.text[:200]}", component="provider-simulator",
                             hint="401 means the token does not match the simulator's --token")
        return resp.json()

    def set_fault(self, kind: str, **params: Any) -> dict[str, Any]:
        """Switch fault ``kind`` on (replacing its previous parameters); returns them normalised."""
        result: dict[str, Any] = self._call("PUT", f"/faults/{kind}", json=params)["params"]
        return result

    def clear(self, kind: str | None = None) -> list[str]:
        """Switch one fault kind off, or all of them; returns the kinds that were active."""
        path = "/faults" if kind is None else f"/faults/{kind}"
        cleared: list[str] = self._call("DELETE", path)["cleared"]
        return cleared

    def faults(self) -> dict[str, dict[str, Any]]:
        active: dict[str, dict[str, Any]] = self._call("GET", "/faults")["faults"]
        return active

    def counters(self) -> dict[str, int]:
        counts: dict[str, int] = self._call("GET", "/counters")
        return counts

    def reset_counters(self) -> dict[str, int]:
        """Zero the counters; returns their values just before."""
        before: dict[str, int] = self._call("POST", "/counters/reset")
        return before

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self._call("GET", "/info")
        return info
