"""A small, fast HTTP/1.1 client on asyncio for the open-loop generator.

Why not httpx/aiohttp: the generator must not be the bottleneck and must account for every
microsecond it adds. This client does only what a load generator needs: pre-encoded requests,
keep-alive connections (``TCP_NODELAY``), ``Content-Length`` / chunked / close-delimited
bodies, and a pool that grows when every connection is busy, up to a cap. It never pipelines,
never follows redirects and does not speak TLS.

A failure is raised as an exception whose class name is what the timeline records as the error
class (``ConnectionRefusedError``, ``ConnectionResetError``, ``IncompleteResponse``,
``ProtocolError``, ``TimeoutError``).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.errors import ConfigError

__all__ = ["ConnectionPool", "HttpTarget", "IncompleteResponse", "ProtocolError", "Response"]

_MAX_HEAD = 64 * 1024


class ProtocolError(Exception):
    """The server's bytes are not a valid HTTP/1.1 response."""


class IncompleteResponse(ConnectionError):
    """The connection closed before a complete response arrived."""

    def __init__(self, message: str, *, received: int = 0) -> None:
        super().__init__(message)
        self.received = received  # bytes received before the close (0: stale keep-alive?)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpTarget:
    """Where and what to POST: parsed once, the request head pre-encoded."""

    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str, *, default_path: str = "/") -> HttpTarget:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError("the load target must be an http:// URL with a host",
                              field="load.url", value=url, allowed="http://HOST:PORT[/path]")
        path = parts.path if parts.path not in ("", "/") else default_path
        if parts.query:
            path += "?" + parts.query
        return cls(host=parts.hostname, port=parts.port or 80, path=path)

    def post_head(self, headers: dict[str, str]) -> bytes:
        """Request line and headers up to (not including) ``Content-Length``."""
        host = f"{self.host}:{self.port}"
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {host}",
                 *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes
    keep_alive: bool


class _Conn(asyncio.Protocol):
    """One connection; at most one request in flight."""

    __slots__ = ("_body_start", "_buf", "_chunks", "_head", "_mode", "_need", "_pos",
                 "_waiter", "closed", "transport", "used")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.used = 0  # completed requests on this connection
        self._waiter: asyncio.Future[Response] | None = None
        self._reset_parser()

    def _reset_parser(self) -> None:
        self._buf = bytearray()
        self._head: tuple[int, dict[str, str], bool] | None = None
        self._mode = ""  # "length" | "chunked" | "close"
        self._need = 0
        self._pos = 0
        self._body_start = 0
        self._chunks: list[bytes] = []

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.closed = True  # unsolicited bytes: the connection is unusable
            if self.transport:
                self.transport.abort()
            return
        self._buf += data
        try:
            resp = self._parse()
        except ProtocolError as exc:
            self._fail(exc)
            return
        if resp is not None:
            self.used += 1
            self._waiter.set_result(resp)

    def eof_received(self) -> bool:
        if self._waiter is not None and not self._waiter.done():
            if self._head is not None and self._mode == "close":
                status, headers, _ = self._head
                self._waiter.set_result(Response(status, headers,
                                                 bytes(self._buf[self._body_start:]), False))
            else:
                self._fail(IncompleteResponse("connection closed before a complete response",
                                              received=len(self._buf)))
        self.closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if exc is None:
                exc = IncompleteResponse("connection closed before a complete response",
                                         received=len(self._buf))
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    # -- use -------------------------------------------------------------------------------
    def send(self, data: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self._reset_parser()
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # -- parsing ---------------------------------------------------------------------------
    def _parse(self) -> Response | None:
        buf = self._buf
        if self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    raise ProtocolError("response head larger than 64 KiB")
                return None
            self._head = _parse_head(bytes(buf[:end]))
            self._body_start = self._pos = end + 4
            status, headers, _ = self._head
            te = headers.get("transfer-encoding", "").lower()
            if status in (204, 304) or 100 <= status < 200:
                self._mode, self._need = "length", 0
            elif "chunked" in te:
                self._mode = "chunked"
            elif "content-length" in headers:
                try:
                    self._mode, self._need = "length", int(headers["content-length"])
                except ValueError:
                    raise ProtocolError("bad Content-Length") from None
            else:
                self._mode = "close"
        status, headers, keep = self._head
        if self._mode == "length":
            if len(buf) - self._body_start < self._need:
                return None
            body = bytes(buf[self._body_start:self._body_start + self._need])
            return Response(status, headers, body, keep)
        if self._mode == "chunked":
            return self._parse_chunks(status, headers, keep)
        return None  # close-delimited: completed in eof_received

    def _parse_chunks(self, status: int, headers: dict[str, str], keep: bool) -> Response | None:
        buf = self._buf
        while True:
            eol = buf.find(b"\r\n", self._pos)
            if eol < 0:
                return None
            try:
                size = int(bytes(buf[self._pos:eol]).split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError("bad chunk size line") from None
            if size == 0:
                if buf[eol + 2:eol + 4] == b"\r\n":
                    return Response(status, headers, b"".join(self._chunks), keep)
                if buf.find(b"\r\n\r\n", eol) < 0:
                    return None
                return Response(status, headers, b"".join(self._chunks), keep)
            if len(buf) < eol + 2 + size + 2:
                return None
            self._chunks.append(bytes(buf[eol + 2:eol + 2 + size]))
            self._pos = eol + 2 + size + 2


def _parse_head(raw: bytes) -> tuple[int, dict[str, str], bool]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0][:80]!r}")
    try:
        status = int(parts[1])
    except ValueError:
        raise ProtocolError(f"bad status code in {lines[0][:80]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    keep = parts[0] == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return status, headers, keep


class ConnectionPool:
    """Keep-alive connections to one host: reuse an idle one, else open a new one up to
    ``max_connections``. ``total`` counts open and opening connections."""

    def __init__(self, host: str, port: int, *, max_connections: int) -> None:
        if max_connections < 1:
            raise ConfigError("the connection cap must be at least 1",
                              field="load.max_connections", value=max_connections)
        self.host, self.port = host, port
        self.max_connections = max_connections
        self.total = 0
        self.opened = 0  # connections ever opened (a figure for reports and tests)
        self._idle: list[_Conn] = []

    def take_idle(self) -> _Conn | None:
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
            self.total -= 1
        return None

    def can_open(self) -> bool:
        return self.total < self.max_connections

    async def open(self) -> _Conn:
        """Open a new connection (the caller checked :meth:`can_open`)."""
        self.total += 1
        self.opened += 1
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                _Conn, self.host, self.port)
        except BaseException:
            self.total -= 1
            raise
        return conn

    def release(self, conn: _Conn, *, reusable: bool) -> None:
        if reusable and not conn.closed:
            self._idle.append(conn)
        else:
            conn.abort()
            self.total -= 1

    def close(self) -> None:
        for conn in self._idle:
            conn.abort()
        self.total -= len(self._idle)
        self._idle.clear()

    @property
    def idle(self) -> int:
        return len(self._idle)
