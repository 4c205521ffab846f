"""Building blocks of the observers: a change-only state recorder and a resilient poller thread.

Every observer writes ``obs.state`` (``subject``, ``state``, ``healthy``, ``detail``) only when a
subject's state changes, and ``obs.event`` for point events. Talking to the observed thing fails
in two ways, recorded differently:

* the thing is unreachable (connection refused, timeout): that is the *subject's* state
  (``state="unreachable"``, ``healthy=False``) -- the stack really is degraded;
* the observer itself breaks (a parse error, a bug, an unexpected answer): recorded as
  ``observer/<name>`` unhealthy with the error, and polling goes on. It never kills the run.

Every ``obs.state`` carries ``signal``: ``"stack"`` when the state is what the stack's own
machinery concluded (HAProxy's server status, Sentinel's flags and events, a breaker, the app's
own readiness, Qdrant's replica states, the master's replication links) and ``"probe"`` when it
is the harness's own probe (a connection refused or timed out, an observer's health, a provider
simulator's fault switches). Time-to-detect should use ``stack`` signals only -- the harness
notices a dead process in 0.1 s, the question is when the *stack* noticed; recovery can use all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from harness.timeline import Timeline

__all__ = ["Poller", "StateRecorder"]


class StateRecorder:
    """Writes ``obs.state`` on change and ``obs.event`` always. Thread-safe."""

    def __init__(self, timeline: Timeline, source: str) -> None:
        self.timeline = timeline
        self.source = source
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, bool]] = {}

    def state(self, subject: str, state: str, healthy: bool, detail: str = "", *,
              signal: str = "stack", **attrs: Any) -> bool:
        """Record ``subject``'s state if it changed; returns whether it was recorded.
        ``signal``: ``"stack"`` or ``"probe"`` (see the module docstring)."""
        with self._lock:
            if self._last.get(subject) == (state, healthy):
                return False
            self._last[subject] = (state, healthy)
        self.timeline.add_event("obs.state", self.source, subject=subject, state=state,
                                healthy=healthy, detail=detail, signal=signal, **attrs)
        return True

    def event(self, subject: str, event: str, detail: str = "", **attrs: Any) -> None:
        self.timeline.add_event("obs.event", self.source, subject=subject, event=event,
                                detail=detail, **attrs)

    def current(self, subject: str) -> tuple[str, bool] | None:
        with self._lock:
            return self._last.get(subject)

    def subjects(self) -> dict[str, tuple[str, bool]]:
        with self._lock:
            return dict(self._last)


class Poller:
    """Calls ``poll()`` every ``interval_s`` in its own thread until stopped.

    An exception escaping ``poll`` marks ``observer/<name>`` unhealthy (once per distinct
    error) and polling continues; the next clean poll marks it healthy again.
    """

    def __init__(self, name: str, poll: Callable[[], None], recorder: StateRecorder, *,
                 interval_s: float, stop: threading.Event) -> None:
        self.name = name
        self._poll = poll
        self._rec = recorder
        self._interval = interval_s
        self._stop = stop
        self.polls = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name=f"observer-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        subject = f"observer/{self.name}"
        next_t = time.monotonic()
        while not self._stop.is_set():
            try:
                self._poll()
            except Exception as exc:
                self.failures += 1
                self._rec.state(subject, f"failing: {type(exc).__name__}", False,
                                detail=str(exc)[:300], signal="probe")
            else:
                if self._rec.current(subject) is not None:
                    self._rec.state(subject, "ok", True, signal="probe")
            self.polls += 1
            next_t += self._interval
            now = time.monotonic()
            if next_t < now:  # a slow poll: do not try to catch up
                next_t = now
            self._stop.wait(next_t - now)
