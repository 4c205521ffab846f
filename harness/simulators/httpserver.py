"""A small asyncio HTTP/1.1 server for the simulators: keep-alive, TCP_NODELAY, chunked streams.

Hand-written because the simulators must never be the bottleneck and must be able to misbehave
on purpose at the byte level (hang, stall a stream, drop the connection mid-body, send broken
JSON), which a framework hides. Not a general web server: one request at a time per connection,
``Content-Length`` request bodies only, no pipelining guarantees beyond sequential requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Connection", "HttpServer", "Request"]

_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}
MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Connection:
    """The write side of one client connection, for handlers that need byte-level control."""

    __slots__ = ("_reader", "_writer", "closed", "keep_alive")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.keep_alive = True
        self.closed = False

    async def send(self, status: int, body: bytes, *, content_type: str = "application/json",
                   headers: dict[str, str] | None = None) -> None:
        self._writer.write(self.head(status, content_type=content_type, length=len(body),
                                     headers=headers) + body)
        await self._writer.drain()

    async def send_json(self, status: int, obj: Any, *,
                        headers: dict[str, str] | None = None) -> None:
        await self.send(status, json.dumps(obj, separators=(",", ":")).encode(), headers=headers)

    def head(self, status: int, *, content_type: str, length: int | None,
             headers: dict[str, str] | None = None) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                 f"Content-Type: {content_type}"]
        lines.append(f"Content-Length: {length}" if length is not None
                     else "Transfer-Encoding: chunked")
        if not self.keep_alive:
            lines.append("Connection: close")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def write_raw(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def write_chunk(self, data: bytes) -> None:
        if data:
            self._writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await self._writer.drain()

    async def end_chunks(self) -> None:
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()

    async def wait_client_close(self) -> None:
        """Read and discard until the client closes (a hung or stalled response)."""
        with contextlib.suppress(ConnectionError, OSError):
            while await self._reader.read(65536):
                pass
        self.abort()

    def abort(self) -> None:
        """Drop the connection with a TCP reset (no response, or a truncated one)."""
        self.closed = True
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self._writer.transport.abort()


Handler = Callable[[Request, Connection], Awaitable[None]]


class HttpServer:
    """``async with HttpServer(handler, host, port) as srv: ...`` -- listens until exit."""

    def __init__(self, handler: Handler, host: str, port: int) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> HttpServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  reuse_address=True, backlog=1024,
                                                  limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(reader, writer)
        try:
            while not conn.closed and conn.keep_alive:
                request = await _read_request(reader, conn)
                if request is None:
                    break
                await self.handler(request, conn)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                OSError, RuntimeError):  # RuntimeError: uvloop's write on a closed transport
            pass
        finally:
            self._tasks.discard(task)
            if not conn.closed:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader, conn: Connection) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        conn.keep_alive = False
        await conn.send_json(400, {"error": {"message": f"bad request line {lines[0]!r}"}})
        return None
    method, path, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    conn.keep_alive = (connection != "close") if version == "HTTP/1.1" else (
        connection == "keep-alive")
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        conn.keep_alive = False
        await conn.send_json(413, {"error": {"message": f"body over {MAX_BODY} bytes"}})
        return None
    body = await reader.readexactly(length) if length else b""
    return Request(method=method, path=path.split("?", 1)[0], headers=headers, body=body)
