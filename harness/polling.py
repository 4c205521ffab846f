"""The one polling loop: look, stop when the look is good, else sleep and look again until a
timeout.

Every layer waits for something (a container to run, a socket to answer, a process to die);
they all use :func:`poll_until` instead of a hand-rolled ``while time.monotonic() < deadline``
loop. It needs only the standard library and :mod:`harness.errors`, so every layer may import
it.

The order is fixed: look first (so a zero timeout still looks once), then compare the clock with
the deadline, then sleep ``interval``. A look is therefore allowed to succeed up to ``interval``
after the deadline, unless ``clip`` says never to sleep past it. On timeout :class:`PollTimeout`
says what was awaited and for how long, and carries the last value (or the last retried
exception) for callers that build their own error or just carry on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from harness.errors import HarnessError

__all__ = ["PollTimeout", "always", "poll_until"]

T = TypeVar("T")


class PollTimeout(HarnessError):
    """``what`` was not seen within ``timeout`` seconds.

    ``last`` is the last value ``fn`` returned (None when every look raised a retried
    exception); ``last_error`` is the last retried exception (None when the last look returned).
    """

    def __init__(self, what: str, timeout: float, last: Any = None,
                 last_error: BaseException | None = None) -> None:
        seen = (f"last look raised {type(last_error).__name__}: {last_error}"
                if last_error is not None else f"last saw {last!r}")
        super().__init__(f"{what} not seen within {timeout:g} s ({seen})")
        self.what = what
        self.timeout = timeout
        self.last = last
        self.last_error = last_error


def always(_: object) -> bool:
    """An ``until`` that accepts any value (retry only while ``fn`` raises)."""
    return True


def poll_until(fn: Callable[[], T], timeout: float, *, interval: float = 0.1,
               what: str = "the condition", until: Callable[[T], bool] = bool,
               retry: tuple[type[BaseException], ...] = (), reraise: bool = False,
               clip: bool = False,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], object] = time.sleep) -> T:
    """Call ``fn`` until ``until(value)`` holds and return that value.

    Each round: call ``fn`` (an exception in ``retry`` counts as a failed look, any other
    propagates); return the value when ``until`` accepts it; raise :class:`PollTimeout` when
    ``timeout`` seconds have passed since the call (with ``reraise``, the last look's retried
    exception itself when it raised one); else sleep ``interval`` seconds (with ``clip``, never
    past the deadline, so the last look happens at the deadline).
    """
    deadline = clock() + timeout
    while True:
        value: Any = None
        error: BaseException | None = None
        try:
            value = fn()
        except retry as exc:
            error = exc
        if error is None and until(value):
            return value
        now = clock()
        if now >= deadline:
            if reraise and error is not None:
                raise error
            raise PollTimeout(what, timeout, value, error)
        sleep(min(interval, deadline - now) if clip else interval)
