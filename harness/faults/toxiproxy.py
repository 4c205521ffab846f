"""A small Toxiproxy 2.x HTTP API client (httpx, explicit timeouts, errors surfaced).

Why not ``toxiproxy-python`` 0.1.1: it has no request timeouts (a hung Toxiproxy hangs the
harness), keeps its host in a global, cannot update a toxic (PATCH, Toxiproxy >= 2.6), and
swallows most error codes (a 409 on a duplicate toxic or a 400 on a bad attribute would look
like success, and a fault would silently not land). This client raises
:class:`ToxiproxyError` (a :class:`~harness.errors.FaultError`) with the status and body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from harness.errors import FaultError

__all__ = ["TOXIC_TYPES", "Proxy", "Toxic", "ToxiproxyClient", "ToxiproxyError"]

#: toxic type -> its attributes (Toxiproxy 2.12)
TOXIC_TYPES: Mapping[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
}


class ToxiproxyError(FaultError):
    """Toxiproxy refused a request or did not answer."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        self.status = status
        self.body = body
        super().__init__(message if not body else f"{message}: {body.strip()[:300]}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Toxic:
    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "stream": self.stream,
                "toxicity": self.toxicity, "attributes": dict(self.attributes)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Toxic:
        return cls(name=d["name"], type=d["type"], stream=d.get("stream", "downstream"),
                   toxicity=float(d.get("toxicity", 1.0)),
                   attributes=dict(d.get("attributes") or {}))


@dataclass(frozen=True, slots=True, kw_only=True)
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Proxy:
        return cls(name=d["name"], listen=d["listen"], upstream=d["upstream"],
                   enabled=bool(d["enabled"]),
                   toxics=tuple(Toxic.from_json(t) for t in d.get("toxics") or ()))


class ToxiproxyClient:
    """``with ToxiproxyClient("http://127.0.0.1:8474") as tp: tp.add_toxic(...)``."""

    def __init__(self, base_url: str, *, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        # Toxiproxy >= 2.1 rejects requests with a browser-like User-Agent; httpx's is fine.
        # Its API is plain HTTP: skip loading the CA bundle (0.28 s per client on this host).
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout,
                                  verify=not self.base_url.startswith("http://"))

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, *, body: Any = None,
              ok: tuple[int, ...] = (200, 201, 204)) -> httpx.Response:
        try:
            r = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(
                f"Toxiproxy at {self.base_url} did not answer {method} {path} "
                f"({type(exc).__name__}: {exc}); is toxiproxy-server running?") from None
        if r.status_code not in ok:
            raise ToxiproxyError(f"Toxiproxy {method} {path} -> HTTP {r.status_code}",
                                 status=r.status_code, body=r.text)
        return r

    # -- server ---------------------------------------------------------------------------------
    def version(self) -> str:
        text = self._call("GET", "/version").text.strip()
        if text.startswith("{"):  # 2.6+ answers {"version": "..."}; older ones plain text
            return str(json.loads(text).get("version", text))
        return text

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    # -- proxies --------------------------------------------------------------------------------
    def proxies(self) -> dict[str, Proxy]:
        return {n: Proxy.from_json(d) for n, d in self._call("GET", "/proxies").json().items()}

    def proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._call("GET", f"/proxies/{name}").json())

    def create_proxy(self, name: str, *, listen: str, upstream: str,
                     enabled: bool = True) -> Proxy:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return Proxy.from_json(self._call("POST", "/proxies", body=body).json())

    def delete_proxy(self, name: str, *, missing_ok: bool = True) -> bool:
        r = self._call("DELETE", f"/proxies/{name}", ok=(200, 204, 404) if missing_ok else (204,))
        return r.status_code != 404

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        r = self._call("POST", f"/proxies/{name}", body={"enabled": enabled})
        return Proxy.from_json(r.json())

    # -- toxics ---------------------------------------------------------------------------------
    def toxics(self, proxy: str) -> tuple[Toxic, ...]:
        return tuple(Toxic.from_json(t) for t in self._call("GET", f"/proxies/{proxy}/toxics")
                     .json())

    def toxic(self, proxy: str, name: str) -> Toxic | None:
        r = self._call("GET", f"/proxies/{proxy}/toxics/{name}", ok=(200, 404))
        return None if r.status_code == 404 else Toxic.from_json(r.json())

    def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        if toxic.type not in TOXIC_TYPES:
            raise ToxiproxyError(f"unknown toxic type {toxic.type!r}; known: "
                                 f"{', '.join(TOXIC_TYPES)}")
        r = self._call("POST", f"/proxies/{proxy}/toxics", body=toxic.to_json())
        return Toxic.from_json(r.json())

    def update_toxic(self, proxy: str, name: str, *, attributes: Mapping[str, float],
                     toxicity: float | None = None) -> Toxic:
        body: dict[str, Any] = {"attributes": dict(attributes)}
        if toxicity is not None:
            body["toxicity"] = toxicity
        r = self._call("PATCH", f"/proxies/{proxy}/toxics/{name}", body=body)
        return Toxic.from_json(r.json())

    def remove_toxic(self, proxy: str, name: str, *, missing_ok: bool = True) -> bool:
        """Remove a toxic; True if it existed. A missing toxic or proxy is fine by default."""
        r = self._call("DELETE", f"/proxies/{proxy}/toxics/{name}",
                       ok=(200, 204, 404) if missing_ok else (200, 204))
        return r.status_code != 404
