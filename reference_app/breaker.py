"""A small circuit breaker for asyncio callers (pybreaker's async support needs Tornado).

closed --(fail_max consecutive failures)--> open --(reset_s elapsed)--> half_open: one trial
call is let through (others are refused); its success closes the breaker, its failure re-opens
it for another ``reset_s``. A disabled breaker always allows and never changes state.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["CircuitBreaker"]

STATES = ("closed", "open", "half_open", "disabled")


class CircuitBreaker:
    def __init__(self, name: str, *, fail_max: int, reset_s: float, enabled: bool = True,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[str, str], None] | None = None) -> None:
        if fail_max < 1 or reset_s <= 0:
            raise ValueError(f"breaker {name}: fail_max >= 1 and reset_s > 0 expected "
                             f"(got {fail_max}, {reset_s})")
        self.name = name
        self.fail_max = fail_max
        self.reset_s = reset_s
        self.enabled = enabled
        self._clock = clock
        self._on_change = on_change
        self._state = "closed" if enabled else "disabled"
        self.failures = 0  # consecutive
        self.opened_at = 0.0
        self.opens = 0  # times it opened, for /readyz
        self._trial = False
        if on_change:
            on_change(name, self._state)

    @property
    def state(self) -> str:
        if self._state == "open" and self._clock() - self.opened_at >= self.reset_s:
            return "half_open"  # would let a trial through now
        return self._state

    def _set(self, state: str) -> None:
        if state != self._state:
            self._state = state
            if self._on_change:
                self._on_change(self.name, state)

    def allow(self) -> bool:
        """Whether a call may go ahead now. A True in half-open reserves the trial call."""
        if self._state in ("closed", "disabled"):
            return True
        if self._state == "open":
            if self._clock() - self.opened_at < self.reset_s:
                return False
            self._set("half_open")
        if self._trial:
            return False
        self._trial = True
        return True

    def success(self) -> None:
        if not self.enabled:
            return
        self.failures = 0
        self._trial = False
        self._set("closed")

    def failure(self) -> None:
        if not self.enabled:
            return
        self._trial = False
        self.failures += 1
        if self._state == "half_open" or (self._state == "closed"
                                           and self.failures >= self.fail_max):
            self.opened_at = self._clock()
            self.opens += 1
            self._set("open")

    def abandon(self) -> None:
        """The call was cancelled without an outcome: free the half-open trial slot."""
        self._trial = False

    def snapshot(self) -> dict[str, object]:
        return {"state": self.state, "consecutive_failures": self.failures,
                "opens": self.opens, "fail_max": self.fail_max, "reset_s": self.reset_s}
