"""The open-loop load generator: requests leave on schedule, whatever the service does.

Design (see MEASUREMENT.md, coordinated omission):

* A dedicated thread runs its own asyncio loop (uvloop when installed), so the caller's thread,
  observers and fault injection never delay a send.
* The schedule (:class:`~harness.load.schedule.Schedule`) and the questions
  (:class:`~harness.load.mix.RequestMix`) are pure functions of the seed. Each request gets its
  *intended* time from the schedule; the scheduler never waits for a response, so a stalled
  service cannot slow it down. Every due request gets a :class:`~harness.timeline.RequestRecord`:
  none goes missing.
* ``start_ns`` is when the generator took the request up (reused an idle connection or began to
  open one). ``start_ns - intended_ns`` is the generator's own *lateness*; connect time is part
  of the service's latency, not lateness.
* Connections: a keep-alive pool that grows when every connection is busy, up to
  ``max_connections`` (default ``max(32, 1.25 * rate * timeout_s)``, i.e. enough for every
  request of a full timeout window). **When the cap is hit, the request is recorded as
  ``DROPPED`` at once** (not queued): queueing inside the generator would turn a service stall
  into generator lateness and delay later sends. A drop means the service held every connection
  open; it is counted in the report and the timeline, and analysis treats it as not served.
* Per-request timeout ``timeout_s`` from the send: ``TIMEOUT``. Connection errors and malformed
  responses: ``ERROR`` with the exception class name. An HTTP status >= 400: ``ERROR`` with
  error ``HTTP<status>`` and the status. A reused keep-alive connection that the server had
  closed before answering (nothing received) is retried once on a fresh connection.
* ``stop()``: no request due after the stop is sent; requests in flight finish or time out
  (bounded by ``timeout_s``); ``load.stop`` is appended with the lateness figures.

Throughput (``tests/benchmarks/bench_load.py``: Poisson arrivals against a tiny loopback server
in another process, on the 2-core CI machine while other jobs kept its load average at 13-15):
kept up at 500, 1,000 and 2,000 req/s with send lateness p99 5-11 ms (max 11-24 ms); it
spends 80-180 microseconds of CPU per request (5,500-12,500 requests per CPU-second, the more
the higher the rate: at low rates it wakes up once per request), so one free core sustains
roughly 8,000-10,000 req/s. At 4,000 req/s on that overloaded machine it got ~15 % of a core and fell
behind (flagged). With plain asyncio instead of uvloop the lateness at 1,000 req/s was ~10x
higher. The experiments here run at 50-500 req/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import resource
import threading
import time
from array import array
from collections.abc import Iterator

from harness.errors import ConfigError, HarnessError
from harness.load.http import ConnectionPool, HttpTarget, IncompleteResponse, Response, _Conn
from harness.load.mix import RequestMix
from harness.load.report import (
    LATENESS_MAX_BOUND_MS,
    LATENESS_P99_BOUND_MS,
    GeneratorReport,
    LiveStats,
    fell_behind,
    percentile_ms,
)
from harness.load.schedule import Schedule
from harness.timeline import Outcome, Provider, RequestRecord, Timeline

__all__ = ["OpenLoopGenerator", "default_max_connections"]

_PROVIDERS = {"primary": Provider.PRIMARY, "fallback": Provider.FALLBACK,
              "cache": Provider.CACHE, "none": Provider.NONE}
_BURST = 256  # dispatches before yielding to the loop when catching up


def default_max_connections(rate: float, timeout_s: float) -> int:
    """Enough connections for every request of one full timeout window, within the fd limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    fd_room = max(16, (soft if soft != resource.RLIM_INFINITY else 65536) - 256)
    return int(min(fd_room, max(32, math.ceil(1.25 * rate * timeout_s))))


def record_from_response(intended: int, start: int, end: int, resp: Response) -> RequestRecord:
    h = resp.headers
    ok = resp.status < 400
    return RequestRecord(
        intended_ns=intended, start_ns=start, end_ns=end,
        outcome=Outcome.OK if ok else Outcome.ERROR, status=resp.status,
        error="" if ok else f"HTTP{resp.status}", replica=h.get("x-replica", ""),
        degraded=h.get("x-degraded", "").lower() == "true",
        provider=_PROVIDERS.get(h.get("x-provider", "").lower(), Provider.NONE))


class OpenLoopGenerator:
    """Constant or Poisson arrivals at ``rate`` req/s, POST with ``X-API-Key``; see the module
    docstring. Use as a context manager, or ``start()`` / ``stop()``."""

    kind = "open-loop"

    def __init__(self, *, url: str, api_key: str, rate: float, mix: RequestMix, seed: int,
                 timeline: Timeline, arrivals: str = "poisson", timeout_s: float = 10.0,
                 duration_s: float | None = None, max_connections: int | None = None,
                 lateness_p99_bound_ms: float = LATENESS_P99_BOUND_MS,
                 lateness_max_bound_ms: float = LATENESS_MAX_BOUND_MS,
                 extra_headers: dict[str, str] | None = None, use_uvloop: bool = True) -> None:
        if not timeout_s > 0:
            raise ConfigError("the request timeout must be > 0", field="load.timeout_s",
                              value=timeout_s)
        if duration_s is not None and not duration_s > 0:
            raise ConfigError("the duration must be > 0", field="load.duration_s",
                              value=duration_s)
        self.url, self.rate, self.arrivals, self.seed = url, float(rate), arrivals, seed
        self.timeout_s, self.duration_s = float(timeout_s), duration_s
        self._schedule = Schedule(rate=rate, arrivals=arrivals, seed=seed)
        self._mix = mix
        self._target = HttpTarget.parse(url, default_path="/v1/answer")
        self._head = self._target.post_head({"X-API-Key": api_key,
                                             "Content-Type": "application/json",
                                             **(extra_headers or {})})
        self.max_connections = max_connections or default_max_connections(rate, timeout_s)
        self._bounds = (lateness_p99_bound_ms, lateness_max_bound_ms)
        self._timeline = timeline
        self._use_uvloop = use_uvloop
        self._pool = ConnectionPool(self._target.host, self._target.port,
                                    max_connections=self.max_connections)
        self._lateness = array("q")
        self._counts = {"scheduled": 0, "sent": 0, "completed": 0, "ok": 0, "errors": 0,
                        "timeouts": 0, "dropped": 0, "in_flight": 0}
        self._max_late = 0
        self._t0_ns = 0
        self._sched_end_ns = 0
        self._stop_ns: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._crash: BaseException | None = None
        self._report: GeneratorReport | None = None

    # -- public ----------------------------------------------------------------------------
    def __enter__(self) -> OpenLoopGenerator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise HarnessError("this generator was already started; make a new one per run")
        self._thread = threading.Thread(target=self._run, name="open-loop-generator",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(10.0):
            raise HarnessError("the generator thread did not start within 10 s "
                               "(is the machine overloaded?)")
        if self._crash is not None:
            raise HarnessError(f"the generator thread failed to start: {self._crash!r}")
        self._timeline.add_event("load.start", "load", t_ns=self._t0_ns, generator=self.kind,
                                 rate=self.rate, arrivals=self.arrivals, target=self.url,
                                 seed=self.seed, max_connections=self.max_connections,
                                 timeout_s=self.timeout_s)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a run with ``duration_s`` has sent everything and drained."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def live(self) -> LiveStats:
        c = self._counts
        now = time.monotonic_ns()
        return LiveStats(
            elapsed_s=max(0, now - self._t0_ns) / 1e9 if self._t0_ns else 0.0,
            scheduled=c["scheduled"], sent=c["sent"], completed=c["completed"], ok=c["ok"],
            errors=c["errors"] + c["timeouts"], dropped=c["dropped"], in_flight=c["in_flight"],
            connections=self._pool.total, max_lateness_ms=self._max_late / 1e6)

    def stop(self) -> GeneratorReport:
        """Stop sending, let requests in flight finish or time out, return the report."""
        if self._report is not None:
            return self._report
        if self._thread is None:
            raise HarnessError("stop() before start(): nothing ran")
        if self._stop_ns is None:
            self._stop_ns = time.monotonic_ns()
        self._thread.join(self.timeout_s + 15.0)
        if self._thread.is_alive():
            self._timeline.add_event("harness.error", "load", error="GeneratorStuck",
                                     detail="the generator thread did not finish draining")
            raise HarnessError(f"the generator did not drain within {self.timeout_s + 15:.0f} s "
                               "after stop(); the run's timeline is incomplete")
        self._report = report = self._build_report()
        self._timeline.add_event(
            "load.stop", "load", generator=self.kind, sent=report.sent,
            dropped=report.dropped, fell_behind=report.fell_behind,
            lateness_p99_ms=report.lateness_p99_ms, max_lateness_ms=report.max_lateness_ms,
            scheduled=report.scheduled, achieved_rate=report.achieved_rate,
            reason=report.fell_behind_reason)
        if self._crash is not None:
            self._timeline.add_event("harness.error", "load", error=type(self._crash).__name__,
                                     detail=str(self._crash))
            raise HarnessError(f"the generator failed mid-run: {self._crash!r}") from self._crash
        return report

    # -- the generator thread --------------------------------------------------------------
    def _new_loop(self) -> asyncio.AbstractEventLoop:
        if self._use_uvloop:
            try:
                import uvloop  # optional: ~2x the send rate per core
            except ImportError:
                pass
            else:
                return uvloop.new_event_loop()
        return asyncio.new_event_loop()

    def _run(self) -> None:
        loop = self._new_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:
            self._crash = exc
            self._ready.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._t0_ns = time.monotonic_ns() + 2_000_000  # first due time, 2 ms ahead
        self._ready.set()
        try:
            await self._scheduler()
        finally:
            if not self._sched_end_ns:
                self._sched_end_ns = time.monotonic_ns()
            await self._drain()
            self._pool.close()

    def _limit_ns(self) -> int | None:
        end = self._t0_ns + int(self.duration_s * 1e9) if self.duration_s else None
        stop = self._stop_ns
        if end is None or (stop is not None and stop < end):
            return stop
        return end

    async def _scheduler(self) -> None:
        offsets: Iterator[int] = self._schedule.offsets()
        bodies: Iterator[bytes] = self._mix.bodies()
        t0, burst = self._t0_ns, 0
        due = t0 + next(offsets)
        while True:
            limit = self._limit_ns()
            if limit is not None and due >= limit:
                self._sched_end_ns = limit
                return
            now = time.monotonic_ns()
            if due <= now and burst < _BURST:
                self._dispatch(due, next(bodies))
                due = t0 + next(offsets)
                burst += 1
                continue
            burst = 0
            await asyncio.sleep(min(max(0, due - now) / 1e9, 0.02))

    def _dispatch(self, intended: int, body: bytes) -> None:
        self._counts["scheduled"] += 1
        task = asyncio.get_running_loop().create_task(self._one(intended, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.timeout_s + 5.0)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2.0)

    async def _one(self, intended: int, body: bytes) -> None:
        start = time.monotonic_ns()
        late = start - intended
        self._lateness.append(late)
        if late > self._max_late:
            self._max_late = late
        c = self._counts
        conn = self._pool.take_idle()
        if conn is None and not self._pool.can_open():
            c["dropped"] += 1
            self._timeline.add_request(RequestRecord(
                intended_ns=intended, start_ns=start, end_ns=start, outcome=Outcome.DROPPED,
                error="ConnectionCapReached"))
            return
        c["sent"] += 1
        c["in_flight"] += 1
        data = b"%sContent-Length: %d\r\n\r\n%s" % (self._head, len(body), body)
        try:
            async with asyncio.timeout(self.timeout_s):
                resp = await self._exchange(conn, data)
        except TimeoutError:
            rec = self._failure(intended, start, Outcome.TIMEOUT, "TimeoutError")
        except asyncio.CancelledError:
            rec = self._failure(intended, start, Outcome.TIMEOUT, "CancelledAtStop")
            self._timeline.add_request(rec)
            raise
        except Exception as exc:  # OSError, IncompleteResponse, ProtocolError, ...
            rec = self._failure(intended, start, Outcome.ERROR, type(exc).__name__)
        else:
            rec = record_from_response(intended, start, time.monotonic_ns(), resp)
            c["completed"] += 1
            if 200 <= resp.status < 300:
                c["ok"] += 1
            elif rec.outcome is Outcome.ERROR:
                c["errors"] += 1
        finally:
            c["in_flight"] -= 1
        self._timeline.add_request(rec)

    def _failure(self, intended: int, start: int, outcome: Outcome, error: str) -> RequestRecord:
        self._counts["timeouts" if outcome is Outcome.TIMEOUT else "errors"] += 1
        return RequestRecord(intended_ns=intended, start_ns=start, end_ns=time.monotonic_ns(),
                             outcome=outcome, error=error)

    async def _exchange(self, conn: _Conn | None, data: bytes) -> Response:
        pool = self._pool
        for attempt in (0, 1):
            if conn is None:
                conn = await pool.open()
            reused = conn.used > 0
            try:
                resp = await conn.send(data)
            except (IncompleteResponse, ConnectionResetError) as exc:
                pool.release(conn, reusable=False)
                stale = reused and getattr(exc, "received", 0) == 0
                if attempt == 0 and stale and pool.can_open():
                    conn = None
                    continue
                raise
            except BaseException:
                pool.release(conn, reusable=False)
                raise
            pool.release(conn, reusable=resp.keep_alive)
            return resp
        raise AssertionError("unreachable")

    # -- report ----------------------------------------------------------------------------
    def _build_report(self) -> GeneratorReport:
        lat = sorted(self._lateness)
        p50, p99 = percentile_ms(lat, 50), percentile_ms(lat, 99)
        mx = lat[-1] / 1e6 if lat else 0.0
        reason = fell_behind(p99, mx, p99_bound_ms=self._bounds[0], max_bound_ms=self._bounds[1])
        c = self._counts
        duration = max(1, (self._sched_end_ns or time.monotonic_ns()) - self._t0_ns) / 1e9
        return GeneratorReport(
            kind=self.kind, rate=self.rate, arrivals=self.arrivals, duration_s=duration,
            scheduled=c["scheduled"], sent=c["sent"], completed=c["completed"],
            errors=c["errors"], timeouts=c["timeouts"], dropped=c["dropped"],
            fell_behind=bool(reason), fell_behind_reason=reason, lateness_p50_ms=p50,
            lateness_p99_ms=p99, max_lateness_ms=mx, achieved_rate=c["sent"] / duration,
            connections=self._pool.opened)
