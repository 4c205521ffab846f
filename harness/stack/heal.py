"""Primitives of ``harness.faults.heal_all`` that talk to Toxiproxy and the provider simulators
(any substrate). Only ``heal_all`` calls them; they are here because they speak the stack's
servers' APIs, which the fault layer reaches through ``harness.stack``.

Both servers may have just been restarted by the heal itself, so ``heal_toxiproxy`` and
``heal_providers`` retry for a few seconds before they report the server as not answering.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from harness.errors import HarnessError
from harness.polling import PollTimeout, always, poll_until
from harness.simulators.control import ProviderControlClient
from harness.stack.toxiproxy_api import toxiproxy_get, toxiproxy_reset

__all__ = ["heal_providers", "heal_toxiproxy", "remove_our_toxics"]


class _HasProviders(Protocol):
    def provider_control(self, provider: str) -> tuple[str, str]: ...


def heal_toxiproxy(url: str, *, patience: float = 5.0) -> list[str]:
    """Reset Toxiproxy (all proxies enabled, no toxics) when anything is left over."""
    try:  # just (re)started: retry while it does not answer
        proxies = poll_until(lambda: toxiproxy_get(url), patience, interval=0.1, until=always,
                             retry=(Exception,), what=f"toxiproxy answering at {url}")
    except PollTimeout as timed_out:
        return [f"toxiproxy not answering at {url}: {timed_out.last_error!r}"]
    dirty = [n for n, p in proxies.items() if p.get("toxics") or not p.get("enabled", True)]
    if not dirty:
        return []
    toxiproxy_reset(url)
    return [f"toxiproxy reset ({', '.join(sorted(dirty))})"]


def remove_our_toxics(url: str) -> list[str]:
    """Delete only the toxics the harness added (named ``chaos-*``), for a Toxiproxy the
    harness does not own (the external substrate): a reset would remove the owners' toxics."""
    try:
        proxies = toxiproxy_get(url)
    except (httpx.HTTPError, ValueError) as exc:
        return [f"toxiproxy not answering at {url}: {exc}"]
    done: list[str] = []
    for name, proxy in proxies.items():
        for toxic in proxy.get("toxics") or ():
            if not str(toxic.get("name", "")).startswith("chaos-"):
                continue  # not ours
            try:
                httpx.delete(f"{url}/proxies/{name}/toxics/{toxic['name']}",
                             timeout=2.0).raise_for_status()
            except httpx.HTTPError as exc:
                done.append(f"toxiproxy {name}: removing {toxic['name']} failed: {exc}")
                continue
            done.append(f"toxiproxy {name}: removed our toxic {toxic['name']}")
    return done


def heal_providers(stack: _HasProviders, *, patience: float = 5.0) -> list[str]:
    """Clear every fault set on the provider simulators."""
    done = []
    for name in ("primary", "fallback"):
        url, token = stack.provider_control(name)

        def clear(url: str = url, token: str = token) -> list[str]:
            with ProviderControlClient(url, token, timeout=1.0) as ctl:
                return ctl.clear() if ctl.faults() else []

        cleared = poll_until(clear, patience, interval=0.1, until=always,
                             retry=(HarnessError,), reraise=True,
                             what=f"provider-{name} control API")
        if cleared:
            done.append(f"provider-{name}: cleared {', '.join(cleared)}")
    return done
