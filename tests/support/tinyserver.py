"""A tiny, fast HTTP/1.1 server on loopback to measure the load tools against themselves.

A test helper (not part of the product). Used by the generator's tests and by
``tests/benchmarks/bench_load.py`` when no target URL is given: it answers every request with a small JSON body and the reference app's headers
(``X-Replica``, ``X-Degraded``, ``X-Provider``), keeps connections alive, and can be told to
*stall* (hold every request, new and in flight, until a time) or to answer with another status,
so a stalled service can be simulated without a stack. It runs its own asyncio loop in a thread
and counts the requests it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass

from harness.errors import HarnessError

__all__ = ["TinyServer"]


@dataclass(slots=True)
class _Behaviour:
    status: int = 200
    provider: str = "primary"
    delay_s: float = 0.0
    stall_until_ns: int = 0  # monotonic; requests wait until then before being answered


class TinyServer:
    """``with TinyServer() as srv: srv.url`` -> ``http://127.0.0.1:<port>``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, replica: str = "tiny") -> None:
        if not host.startswith("127."):
            raise HarnessError(f"TinyServer listens on loopback only; got host {host!r}")
        self.host, self.port, self.replica = host, port, replica
        self.behaviour = _Behaviour()
        self.received = 0  # complete requests read
        self.answered = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> TinyServer:
        self._thread = threading.Thread(target=self._run, name="tiny-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10.0) or self._error is not None:
            self.close()
            raise HarnessError(f"TinyServer did not start on {self.host}: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stall(self, seconds: float) -> None:
        """Hold every request (in flight and new) until ``seconds`` from now."""
        self.behaviour.stall_until_ns = time.monotonic_ns() + int(seconds * 1e9)

    def close(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10.0)

    # -- server thread -------------------------------------------------------------------
    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._handle, self.host, self.port, backlog=1024))
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(loop),
                                                       return_exceptions=True))
            loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                self.received += 1
                await self._answer(writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        b = self.behaviour
        while True:
            wait_ns = b.stall_until_ns - time.monotonic_ns()
            if wait_ns <= 0:
                break
            await asyncio.sleep(wait_ns / 1e9)
        if b.delay_s:
            await asyncio.sleep(b.delay_s)
        body = b'{"answer":"ok","sources":[],"degraded":false}'
        writer.write(
            b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"X-Replica: %s\r\nX-Degraded: false\r\nX-Provider: %s\r\n\r\n%s"
            % (b.status, len(body), self.replica.encode(), b.provider.encode(), body))
        self.answered += 1


def main(argv: list[str] | None = None) -> int:
    """``python tests/support/tinyserver.py [--port P]``: serve until SIGTERM / Ctrl-C (prints
    the URL on stdout first), e.g. as a benchmark target in its own process."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with TinyServer(host=args.host, port=args.port) as srv:
        print(srv.url, flush=True)
        try:
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        received = srv.received
    print(f"received {received}", flush=True)  # for tests that count what arrived
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
