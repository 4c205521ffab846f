"""Locustfile run by :class:`harness.load.locust_driver.LocustDriver` (in its own process:
Locust patches the process with gevent). Configured by ``CH_LOCUST_*`` environment variables.

Every request is recorded to ``<CH_LOCUST_OUT>/requests-<pid>.tsv`` with the same fields as the
open-loop generator, on ``time.monotonic_ns()`` (system-wide on Linux, so the same clock as the
harness). The driver merges the files into the timeline after the run.

Pacing: with ``CH_LOCUST_RATE_PER_USER > 0`` each user follows its own seeded schedule
(constant or Poisson) and records the *intended* time of each request; a user still busy with
its previous request when the next is due sends it late, and latency is measured from the
intended time (coordinated-omission corrected, like wrk2). A user is closed-loop, so its
lateness is also the backlog the service's slowness caused: give it enough users. With rate 0
users send back to back (Locust's classic closed loop; intended = actual send time).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from typing import Any

from locust import FastHttpUser, events, task

from harness.load.mix import RequestMix
from harness.load.schedule import Schedule

_OUT = os.environ["CH_LOCUST_OUT"]
_API_KEY = os.environ.get("CH_LOCUST_API_KEY", "")
_PATH = os.environ.get("CH_LOCUST_PATH", "/v1/answer")
_RATE = float(os.environ.get("CH_LOCUST_RATE_PER_USER", "0"))
_ARRIVALS = os.environ.get("CH_LOCUST_ARRIVALS", "constant")
_SEED = int(os.environ.get("CH_LOCUST_SEED", "0"))
_TIMEOUT = float(os.environ.get("CH_LOCUST_TIMEOUT_S", "10"))
_WORKER = int(os.environ.get("CH_LOCUST_WORKER_INDEX", "0"))
with open(os.path.join(_OUT, "mix.json"), encoding="utf-8") as _f:
    _MIX_SPEC = json.load(_f)
_MIX = RequestMix.from_json(_MIX_SPEC)
_PROVIDERS = {"primary": 1, "fallback": 2, "cache": 3, "none": 0}
_TIMEOUT_NAMES = {"timeout", "TimeoutError", "Timeout", "ConnectionTimeout", "ReadTimeout"}
_user_numbers = itertools.count()


class _Recorder:
    """Buffered TSV writer: intended start end outcome status error replica degraded provider."""

    def __init__(self) -> None:
        self._rows: list[str] = []
        self._file: Any = None
        self._flushed = time.monotonic()

    def add(self, *fields: object) -> None:
        self._rows.append("\t".join(str(f) for f in fields))
        if len(self._rows) >= 2000 or time.monotonic() - self._flushed > 0.5:
            self.flush()  # at least twice a second, for the driver's live() counters

    def flush(self) -> None:
        if not self._rows:
            return
        if self._file is None:
            self._file = open(os.path.join(_OUT, f"requests-{os.getpid()}.tsv"), "a",  # noqa: SIM115
                              encoding="utf-8")
        self._file.write("\n".join(self._rows) + "\n")
        self._file.flush()
        self._rows.clear()
        self._flushed = time.monotonic()


_REC = _Recorder()


@events.test_stop.add_listener
def _on_test_stop(**_: Any) -> None:
    _REC.flush()


@events.quitting.add_listener
def _on_quitting(**_: Any) -> None:
    _REC.flush()


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ")[:200]


class AnswerUser(FastHttpUser):
    network_timeout = _TIMEOUT
    connection_timeout = _TIMEOUT
    max_retries = 0

    def on_start(self) -> None:
        n = next(_user_numbers) + 100_000 * _WORKER
        self._bodies = _MIX.bodies(seed_offset=n + 1)
        self._t0 = time.monotonic_ns()
        self._offsets = (Schedule(rate=_RATE, arrivals=_ARRIVALS, seed=_SEED * 1_000_003 + n)
                         .offsets() if _RATE > 0 else None)
        self._due = self._t0 + next(self._offsets) if self._offsets else 0

    def wait_time(self) -> float:
        if self._offsets is None:
            return 0.0
        return max(0.0, (self._due - time.monotonic_ns()) / 1e9)

    @task
    def answer(self) -> None:
        start = time.monotonic_ns()
        intended = self._due if self._offsets is not None else start
        if self._offsets is not None:
            self._due = self._t0 + next(self._offsets)
        headers = {"X-API-Key": _API_KEY, "Content-Type": "application/json"}
        try:
            resp = self.client.post(_PATH, data=next(self._bodies).decode(), headers=headers)
        except BaseException:  # GreenletExit: Locust stopped the user mid-request (run end)
            # outside the run's window: marked "X", counted by the driver, not put in the timeline
            _REC.add(intended, start, time.monotonic_ns(), "X", 0, "CancelledAtStop", "", 0, 0)
            raise
        end = time.monotonic_ns()
        status = int(resp.status_code or 0)
        if status == 0:
            err = getattr(resp, "error", None)
            name = type(err).__name__ if err is not None else "ConnectionError"
            _REC.add(intended, start, end, 2 if name in _TIMEOUT_NAMES else 1, 0, _clean(name),
                     "", 0, 0)
            return
        h: Any = resp.headers or {}
        replica = str(h.get("X-Replica") or h.get("x-replica") or "")
        degraded = 1 if str(h.get("X-Degraded") or h.get("x-degraded") or "") == "true" else 0
        provider = _PROVIDERS.get(str(h.get("X-Provider") or h.get("x-provider") or "").lower(),
                                  0)
        ok = status < 400
        _REC.add(intended, start, end, 0 if ok else 1, status, "" if ok else f"HTTP{status}",
                 _clean(replica), degraded, provider)
