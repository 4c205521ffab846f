"""A small writer of sequenced keys through Sentinel to Redis, for the "no acknowledged write
lost" invariant: every key whose SET was acknowledged must still be on the master after the
faults are healed. Retries are off on purpose (a retried SET could be acknowledged twice or
hide a loss); a failed write is simply not acknowledged."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from harness.errors import HarnessError
from harness.polling import PollTimeout, always, poll_until

__all__ = ["AckedWriter", "WriteCheck"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteCheck:
    attempted: int
    acked: int
    failed: int
    lost: tuple[int, ...]  # sequence numbers acknowledged but missing after heal
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.lost


class AckedWriter:
    """``with AckedWriter(sentinels) as w: ...; check = w.verify()``: writes in a thread."""

    def __init__(self, sentinels: Sequence[tuple[str, int]], *, master: str = "mymaster",
                 rate: float = 50.0, timeout_s: float = 0.25, prefix: str | None = None) -> None:
        if not sentinels:
            raise HarnessError("the lost-write check needs Sentinel addresses; the stack has none")
        self._sentinels = list(sentinels)
        self._master = master
        self._interval = 1.0 / rate
        self._timeout = timeout_s
        self.prefix = prefix or f"chaos-acked:{uuid.uuid4().hex[:8]}"
        self._acked: list[int] = []
        self._attempted = 0
        self._failed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _client(self) -> redis.Redis:
        kw = {"socket_timeout": self._timeout, "socket_connect_timeout": self._timeout,
              "retry": Retry(NoBackoff(), 0)}
        sentinel = Sentinel(self._sentinels, sentinel_kwargs=kw, **kw)
        return sentinel.master_for(self._master, **kw)

    def __enter__(self) -> AckedWriter:
        self._thread = threading.Thread(target=self._run, name="acked-writer", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        client = self._client()
        seq = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            seq += 1
            self._attempted += 1
            try:
                if client.set(f"{self.prefix}:{seq}", seq):
                    self._acked.append(seq)
                else:
                    self._failed += 1
            except (redis.RedisError, OSError):
                self._failed += 1
                client = self._client()  # rediscover the master on the next write
            next_at += self._interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def verify(self, *, timeout_s: float = 15.0) -> WriteCheck:
        """Read every acknowledged key from the current master (retrying while the stack
        settles, within ``timeout_s``) and delete the keys afterwards."""
        self.stop()
        acked = list(self._acked)

        def read_back() -> WriteCheck:
            client = self._client()
            present: set[int] = set()
            for i in range(0, len(acked), 500):
                chunk = acked[i:i + 500]
                values = client.mget([f"{self.prefix}:{s}" for s in chunk])
                present.update(s for s, v in zip(chunk, values, strict=True) if v is not None)
            self._cleanup(client, acked)
            lost = tuple(s for s in acked if s not in present)
            return WriteCheck(attempted=self._attempted, acked=len(acked),
                              failed=self._failed, lost=lost)

        try:
            return poll_until(read_back, timeout_s, interval=0.5, until=always,
                              retry=(redis.RedisError, OSError),
                              what="a read-back of the acknowledged writes")
        except PollTimeout as timed_out:
            raise HarnessError(f"could not read back acknowledged writes from the Redis "
                               f"master within {timeout_s:.0f} s: {timed_out.last_error}; is "
                               f"Sentinel healthy after heal?") from None

    def _cleanup(self, client: redis.Redis, acked: list[int]) -> None:
        try:
            for i in range(0, len(acked), 500):
                client.delete(*[f"{self.prefix}:{s}" for s in acked[i:i + 500]])
        except (redis.RedisError, OSError):
            pass  # best effort: leftover keys are tiny and namespaced by a random prefix
