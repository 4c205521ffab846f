"""The parts of ``heal_all`` that talk to Toxiproxy and the provider simulators (any substrate).

Both servers may have just been restarted by the heal itself, so each call retries for a few
seconds before it reports the server as not answering.
"""

from __future__ import annotations

import time
from typing import Protocol

from harness.errors import HarnessError
from harness.simulators.control import ProviderControlClient
from harness.stack.toxiproxy_api import toxiproxy_get, toxiproxy_reset

__all__ = ["heal_providers", "heal_toxiproxy"]


class _HasProviders(Protocol):
    def provider_control(self, provider: str) -> tuple[str, str]: ...


def heal_toxiproxy(url: str, *, patience: float = 5.0) -> list[str]:
    """Reset Toxiproxy (all proxies enabled, no toxics) when anything is left over."""
    deadline = time.monotonic() + patience
    while True:
        try:
            proxies = toxiproxy_get(url)
            break
        except Exception as exc:  # just (re)started
            if time.monotonic() > deadline:
                return [f"toxiproxy not answering at {url}: {exc!r}"]
            time.sleep(0.1)
    dirty = [n for n, p in proxies.items() if p.get("toxics") or not p.get("enabled", True)]
    if not dirty:
        return []
    toxiproxy_reset(url)
    return [f"toxiproxy reset ({', '.join(sorted(dirty))})"]


def heal_providers(stack: _HasProviders, *, patience: float = 5.0) -> list[str]:
    """Clear every fault set on the provider simulators."""
    done = []
    for name in ("primary", "fallback"):
        url, token = stack.provider_control(name)
        deadline = time.monotonic() + patience
        while True:
            try:
                with ProviderControlClient(url, token, timeout=1.0) as ctl:
                    cleared = ctl.clear() if ctl.faults() else []
                break
            except HarnessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        if cleared:
            done.append(f"provider-{name}: cleared {', '.join(cleared)}")
    return done
