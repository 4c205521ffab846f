"""The writer share: open-loop document writes beside the read load, each one recorded.

``WriteLoad`` sends ``POST /v1/documents`` (the reference service's write path) through the front
door at ``rate`` writes/s, Poisson arrivals on its own seeded schedule, from a thread with its own
asyncio loop and the read generator's lean HTTP client (a stalled service never slows the
schedule; a write is never re-sent, so a failed send is simply not acknowledged). Each write
has a unique ``write_id`` (``w<run>-<n>``) and, for an upsert, a fresh document id in a range of
its own (``1e12 + run * 1e6 + n``), so no two upserts touch one document and the ingested texts
(made of tokens no question uses) never enter a question's top-k: the read side's answers and
cache hit ratio are unchanged. A share ``delete_share`` of the writes deletes an earlier upsert
that was acknowledged (an upsert instead while there is none).

Every write is one ``writes.op`` event when its response (or failure) arrives: ``write_id``,
``op``, ``doc_id``, ``sent_ns``, ``status`` (0 without a response), ``acked`` (the stores named in
the ``X-Write-Acked`` header of a 2xx; empty otherwise), ``error`` and ``replica``. A write gets
``timeout_s`` from its send (``TimeoutError``, not acknowledged); at ``stop()`` writes in flight
get that long to finish, then are cancelled (``CancelledAtStop``, not acknowledged).

Cost: the reference service spends ~10 ms of CPU per write (HTTP, an in-memory or server Qdrant
upsert, one Redis script); on a shared 2-core machine keep the writer share at 10-20 writes/s. ``writes.start``
and ``writes.stop`` bracket the run. :func:`harness.load.readback.read_back` and
:mod:`harness.analysis.writes` turn them into acknowledged-write checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.load.http import ConnectionPool, HttpTarget
from harness.load.schedule import Schedule
from harness.timeline import Timeline

__all__ = ["WriteLoad"]

SOURCE = "writer"
DOC_ID_BASE = 10**12


class WriteLoad:
    """Open-loop writes; ``start()`` / ``stop()`` or a context manager."""

    def __init__(self, *, url: str, api_key: str, rate: float, seed: int, timeline: Timeline,
                 delete_share: float = 0.2, timeout_s: float = 5.0) -> None:
        if not 0 <= delete_share < 1:
            raise ConfigError("the delete share is a fraction in [0, 1)",
                              field="load.writes.delete_share", value=delete_share)
        self.url = url.rstrip("/") + "/v1/documents"
        self._target = HttpTarget.parse(self.url)
        self._head = self._target.post_head({"X-API-Key": api_key,
                                             "Content-Type": "application/json"})
        self.rate, self.seed, self.delete_share = float(rate), seed, delete_share
        self.timeout_s = float(timeout_s)
        self._schedule = Schedule(rate=rate, arrivals="poisson", seed=seed + 7919)
        self._tl = timeline
        self._rng = random.Random(f"writes:{seed}")
        self._run = seed % 1_000_000
        self._acked_upserts: list[int] = []
        self._counts = {"sent": 0, "acknowledged": 0, "failed": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._crash: BaseException | None = None

    def __enter__(self) -> WriteLoad:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise HarnessError("this writer was already started; make a new one per run")
        self._tl.add_event("writes.start", SOURCE, rate=self.rate, target=self.url,
                           delete_share=self.delete_share, seed=self.seed)
        self._thread = threading.Thread(target=self._main, name="writer", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, int]:
        """Stop sending; writes in flight finish or time out; returns the counts."""
        if self._thread is None:
            return dict(self._counts)
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(self.timeout_s + 15.0)
            if self._thread.is_alive():
                self._tl.add_event("harness.error", SOURCE, error="WriterStuck",
                                   detail="the writer did not drain")
            self._tl.add_event("writes.stop", SOURCE, **self._counts)
            if self._crash is not None:
                self._tl.add_event("harness.error", SOURCE, error=type(self._crash).__name__,
                                   detail=str(self._crash))
        return dict(self._counts)

    # -- the writer thread -----------------------------------------------------------------
    def _main(self) -> None:
        try:
            asyncio.run(self._loop())
        except BaseException as exc:  # recorded as a harness error at stop()
            self._crash = exc

    async def _loop(self) -> None:
        pool = ConnectionPool(self._target.host, self._target.port,
                              max_connections=max(8, int(self.rate * self.timeout_s) + 4))
        tasks: set[asyncio.Task[None]] = set()
        t0 = time.monotonic_ns()
        try:
            for n, offset in enumerate(self._schedule.offsets()):
                due = t0 + offset
                while not self._stop.is_set() and time.monotonic_ns() < due:
                    await asyncio.sleep(min((due - time.monotonic_ns()) / 1e9, 0.05))
                if self._stop.is_set():
                    break
                task = asyncio.create_task(self._one(pool, n))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:  # drain: in-flight writes finish or time out, the rest are cancelled
                _, pending = await asyncio.wait(set(tasks), timeout=self.timeout_s + 2.0)
                for t in pending:
                    t.cancel()
                if pending:
                    await asyncio.wait(pending, timeout=2.0)
        finally:
            pool.close()

    def _body(self, n: int) -> dict[str, Any]:
        write_id = f"w{self._run}-{n}"
        if self._acked_upserts and self._rng.random() < self.delete_share:
            doc = self._acked_upserts.pop(self._rng.randrange(len(self._acked_upserts)))
            return {"op": "delete", "id": doc, "write_id": write_id}
        doc = DOC_ID_BASE + self._run * 1_000_000 + n
        words = " ".join(f"zq{self._rng.getrandbits(40):010x}" for _ in range(6))
        return {"op": "upsert", "id": doc, "write_id": write_id, "name": f"ingest-{doc}",
                "title": f"ingest {write_id}", "text": f"{words} {write_id}"}

    async def _one(self, pool: ConnectionPool, n: int) -> None:
        body = self._body(n)
        raw = json.dumps(body, separators=(",", ":")).encode()
        data = b"%sContent-Length: %d\r\n\r\n%s" % (self._head, len(raw), raw)
        sent = time.monotonic_ns()
        self._counts["sent"] += 1
        status, acked, error, replica = 0, [], "", ""
        conn = pool.take_idle()
        try:
            async with asyncio.timeout(self.timeout_s):
                if conn is None:
                    if not pool.can_open():
                        raise ConnectionError("ConnectionCapReached")
                    conn = await pool.open()
                try:
                    resp = await conn.send(data)
                except BaseException:
                    pool.release(conn, reusable=False)
                    raise
                pool.release(conn, reusable=resp.keep_alive)
        except asyncio.CancelledError:
            self._record(body, sent, 0, [], "CancelledAtStop", "")
            raise
        except Exception as exc:  # timeout, refused, reset, protocol error: not acknowledged
            error = type(exc).__name__
        else:
            status, replica = resp.status, resp.headers.get("x-replica", "")
            if 200 <= status < 300:
                acked = [s for s in resp.headers.get("x-write-acked", "").split(",") if s]
            else:
                error = f"HTTP{status}"
        if acked:
            self._counts["acknowledged"] += 1
            if body["op"] == "upsert" and "qdrant" in acked:
                self._acked_upserts.append(int(body["id"]))
        else:
            self._counts["failed"] += 1
        self._record(body, sent, status, acked, error, replica)

    def _record(self, body: dict[str, Any], sent: int, status: int, acked: list[str],
                error: str, replica: str) -> None:
        with contextlib.suppress(Exception):
            self._tl.add_event("writes.op", SOURCE, write_id=body["write_id"], op=body["op"],
                               doc_id=int(body["id"]), sent_ns=sent, status=status,
                               acked=acked, error=error, replica=replica)
