"""The parts of ``heal_all`` that talk to Toxiproxy and the provider simulators (any substrate).

Both servers may have just been restarted by the heal itself, so each call retries for a few
seconds before it reports the server as not answering.
"""

from __future__ import annotations

from typing import Protocol

from harness.errors import HarnessError
from harness.polling import PollTimeout, always, poll_until
from harness.simulators.control import ProviderControlClient
from harness.stack.toxiproxy_api import toxiproxy_get, toxiproxy_reset

__all__ = ["heal_providers", "heal_toxiproxy"]


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
