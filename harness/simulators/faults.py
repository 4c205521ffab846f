"""The provider simulator's fault kinds: validation, defaults, and the per-request decision.

Every kind takes an optional ``rate`` (fraction of completion requests it hits, default 1.0;
draws come from the simulator's seeded RNG). Several kinds can be active at once; per request
they are applied in this order: ``outage``, ``hang``, ``error``, ``rate_limit``, then the
response is produced with ``latency`` added, and shaped by ``malformed``, ``slow_stream``,
``stall_stream`` or ``disconnect``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FAULT_KINDS", "FaultSet", "Plan", "validate_fault"]

#: kind -> {param: (type, default, minimum, maximum)}; every kind also takes ``rate``.
FAULT_KINDS: Mapping[str, Mapping[str, tuple[type, Any, float, float]]] = {
    "error": {"status": (int, 500, 400, 599)},
    "rate_limit": {"retry_after_s": (float, 1.0, 0, 3600)},
    "latency": {"ms": (float, 500.0, 0, 600000), "jitter_ms": (float, 0.0, 0, 600000)},
    "hang": {},
    "slow_stream": {"tokens_per_s": (float, 5.0, 0.01, 1e6)},
    "stall_stream": {"after_tokens": (int, 3, 0, 100000)},
    "disconnect": {"after_tokens": (int, 3, 0, 100000)},
    "malformed": {},
    "outage": {"mode": (str, "reset", 0, 0)},
}
OUTAGE_MODES = ("reset", "503")
_RATE = (float, 1.0, 0.0, 1.0)


def validate_fault(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Normalised parameters with defaults; ``ValueError`` says what is allowed."""
    spec = FAULT_KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown fault kind {kind!r}; allowed: {', '.join(FAULT_KINDS)}")
    spec = {**spec, "rate": _RATE}
    unknown = sorted(set(params) - set(spec))
    if unknown:
        raise ValueError(f"fault {kind!r} has no parameter {unknown[0]!r}; allowed: "
                         f"{', '.join(sorted(spec))}")
    out: dict[str, Any] = {}
    for name, (typ, default, lo, hi) in spec.items():
        value = params.get(name, default)
        if typ is str:
            if value not in OUTAGE_MODES:
                raise ValueError(f"{kind}.{name} must be one of {', '.join(OUTAGE_MODES)} "
                                 f"(got {value!r})")
            out[name] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{kind}.{name} must be a number (got {value!r})")
        if typ is int and float(value) != int(value):
            raise ValueError(f"{kind}.{name} must be an integer (got {value!r})")
        if not lo <= value <= hi:
            raise ValueError(f"{kind}.{name} must be in [{lo:g}, {hi:g}] (got {value!r})")
        out[name] = typ(value)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What to do with one completion request."""

    action: str  # "ok" | "outage" | "hang" | "error" | "rate_limit"
    status: int = 200
    outage_mode: str = "reset"
    retry_after_s: float = 0.0
    extra_delay_s: float = 0.0
    malformed: bool = False
    tokens_per_s: float | None = None  # slow_stream override
    stall_after: int | None = None
    disconnect_after: int | None = None


class FaultSet:
    """Active faults (kind -> params) and the seeded decision for each request."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self.active: dict[str, dict[str, Any]] = {}

    def set(self, kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
        normalised = validate_fault(kind, params)
        self.active[kind] = normalised
        return normalised

    def clear(self, kind: str | None = None) -> list[str]:
        if kind is None:
            cleared = sorted(self.active)
            self.active.clear()
            return cleared
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; allowed: {', '.join(FAULT_KINDS)}")
        return [kind] if self.active.pop(kind, None) is not None else []

    def _hits(self, kind: str) -> dict[str, Any] | None:
        params = self.active.get(kind)
        if params is None:
            return None
        rate = params["rate"]
        if rate >= 1.0 or (rate > 0.0 and self._rng.random() < rate):
            return params
        return None

    def plan(self) -> Plan:
        if not self.active:
            return _OK
        if (p := self._hits("outage")) is not None:
            return Plan(action="outage", status=503, outage_mode=p["mode"])
        if self._hits("hang") is not None:
            return Plan(action="hang")
        if (p := self._hits("error")) is not None:
            return Plan(action="error", status=p["status"])
        if (p := self._hits("rate_limit")) is not None:
            return Plan(action="rate_limit", status=429, retry_after_s=p["retry_after_s"])
        delay = 0.0
        if (p := self._hits("latency")) is not None:
            jitter = p["jitter_ms"]
            delay = max(0.0, p["ms"] + (self._rng.uniform(-jitter, jitter) if jitter else 0.0))
            delay /= 1000.0
        slow = self._hits("slow_stream")
        stall = self._hits("stall_stream")
        cut = self._hits("disconnect")
        return Plan(action="ok", extra_delay_s=delay, malformed=self._hits("malformed") is not None,
                    tokens_per_s=slow["tokens_per_s"] if slow else None,
                    stall_after=stall["after_tokens"] if stall else None,
                    disconnect_after=cut["after_tokens"] if cut else None)


_OK = Plan(action="ok")
