"""The generator's HTTP/1.1 client against small asyncio servers started in each test."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import pytest

from harness.errors import ConfigError
from harness.load.http import ConnectionPool, HttpTarget, IncompleteResponse, ProtocolError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _Server:
    """``async with _Server(handler) as port``: every server-side connection is closed and its
    handler finished on exit (no stray sockets for the ResourceWarning check)."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def _wrapped(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self._writers.add(w)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handler(r, w)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()

    async def __aenter__(self) -> int:
        self._server = await asyncio.start_server(self._wrapped, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for w in self._writers:
            w.close()
            with contextlib.suppress(Exception):
                await w.wait_closed()
        await self._server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def _request(port: int, body: bytes = b'{"question":"q"}') -> bytes:
    head = HttpTarget(host="127.0.0.1", port=port, path="/v1/answer").post_head(
        {"X-API-Key": "k", "Content-Type": "application/json"})
    return b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)


async def test_content_length_keep_alive_reuses_one_connection() -> None:
    seen: list[bytes] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await _read_request(r))
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Replica: app-az-b\r\n"
                    b"X-Provider: fallback\r\n\r\nok")

    async with _Server(handler) as port:
        pool = ConnectionPool("127.0.0.1", port, max_connections=4)
        for _ in range(3):
            conn = pool.take_idle() or await pool.open()
            resp = await conn.send(_request(port))
            pool.release(conn, reusable=resp.keep_alive)
            assert (resp.status, resp.body) == (200, b"ok")
            assert resp.headers["x-replica"] == "app-az-b"
            assert resp.headers["x-provider"] == "fallback"
        assert pool.opened == 1 and pool.total == 1 and pool.idle == 1
        pool.close()
    assert seen[0].startswith(b"POST /v1/answer HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"X-API-Key: k\r\n" in seen[0] and seen[0].endswith(b'{"question":"q"}')


async def test_chunked_and_close_delimited_bodies() -> None:
    async def chunked(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (b"5\r\nhello\r\n", b"6;ext=1\r\n world\r\n", b"0\r\n", b"\r\n"):
            w.write(part)
            await w.drain()
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        w.close()

    async def close_delimited(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"HTTP/1.0 200 OK\r\n\r\nuntil-close")
        await w.drain()
        w.close()

    for handler, status, body, keep in ((chunked, 503, b"hello world", True),
                                        (close_delimited, 200, b"until-close", False)):
        async with _Server(handler) as port:
            pool = ConnectionPool("127.0.0.1", port, max_connections=1)
            conn = await pool.open()
            resp = await asyncio.wait_for(conn.send(_request(port)), 5)
            assert (resp.status, resp.body, resp.keep_alive) == (status, body, keep)
            pool.release(conn, reusable=resp.keep_alive)
            pool.close()


async def test_errors_have_meaningful_classes() -> None:
    async def garbage(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"SMTP ready\r\n\r\n")
        await w.drain()
        await asyncio.sleep(0.5)
        w.close()

    async def half(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        await w.drain()
        w.close()

    for handler, exc_type in ((garbage, ProtocolError), (half, IncompleteResponse)):
        async with _Server(handler) as port:
            pool = ConnectionPool("127.0.0.1", port, max_connections=1)
            conn = await pool.open()
            with pytest.raises(exc_type):
                await asyncio.wait_for(conn.send(_request(port)), 5)
            assert conn.closed
            pool.release(conn, reusable=False)
            assert pool.total == 0

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    pool = ConnectionPool("127.0.0.1", free, max_connections=1)
    with pytest.raises(ConnectionRefusedError):
        await pool.open()
    assert pool.total == 0 and pool.can_open()


async def test_pool_cap_and_idle_connections_closed_by_the_server() -> None:
    async def one_then_close(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await w.drain()
        await asyncio.sleep(0.05)
        w.close()  # keep-alive timeout of the server: the idle connection goes stale

    async with _Server(one_then_close) as port:
        pool = ConnectionPool("127.0.0.1", port, max_connections=2)
        a, b = await pool.open(), await pool.open()
        assert not pool.can_open()
        for conn in (a, b):
            resp = await conn.send(_request(port))
            pool.release(conn, reusable=resp.keep_alive)
        assert pool.idle == 2
        await asyncio.sleep(0.3)
        assert pool.take_idle() is None  # both closed by the server: discarded, not reused
        assert pool.total == 0 and pool.can_open()
        pool.close()


def test_target_parsing() -> None:
    t = HttpTarget.parse("http://127.0.0.1:8080")
    assert (t.host, t.port, t.path) == ("127.0.0.1", 8080, "/")
    t = HttpTarget.parse("http://10.1.2.3:80/v1/answer?x=1", default_path="/other")
    assert (t.host, t.port, t.path) == ("10.1.2.3", 80, "/v1/answer?x=1")
    assert HttpTarget.parse("http://h", default_path="/v1/answer").path == "/v1/answer"
    for bad in ("https://127.0.0.1", "127.0.0.1:80", "http://"):
        with pytest.raises(ConfigError, match="http://"):
            HttpTarget.parse(bad)
    with pytest.raises(ConfigError):
        ConnectionPool("127.0.0.1", 1, max_connections=0)
