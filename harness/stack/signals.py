"""Signals during a stack's life, shared by every substrate.

``interrupts_as_keyboard``: SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread, so
the same teardown runs as after Ctrl-C (a stack opened in a ``with`` block is always removed).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["interrupts_as_keyboard"]


@contextlib.contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    """SIGTERM/SIGHUP raise KeyboardInterrupt (main thread only) so teardown runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
