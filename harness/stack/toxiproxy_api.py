"""The two Toxiproxy calls the stacks need for readiness and healing (any substrate).

Plain httpx with timeouts (toxiproxy-python has none). The fault layer has its own fuller client
(``harness.faults.toxiproxy``) for toxics.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["toxiproxy_get", "toxiproxy_reset"]


def _verify(url: str) -> bool:
    # Loading the CA bundle costs ~0.3 s per client here; plain HTTP never needs it.
    return not url.startswith("http://")


def toxiproxy_get(base_url: str, path: str = "/proxies", *, timeout: float = 1.0) -> Any:
    resp = httpx.get(base_url + path, timeout=timeout, verify=_verify(base_url))
    resp.raise_for_status()
    return resp.json()


def toxiproxy_reset(base_url: str, *, timeout: float = 2.0) -> None:
    httpx.post(base_url + "/reset", timeout=timeout,
               verify=_verify(base_url)).raise_for_status()
