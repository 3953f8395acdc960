"""A small HTTP/1.1 keep-alive client for the load generator.

The load generator shares two cores with the servers it measures, so its
per-request cost matters: this client writes one pre-built request and reads
one `content-length` response, nothing more (no redirects, no chunked bodies,
no TLS). Loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

#: Seconds for one request on an open connection (then the connection is dropped).
REQUEST_TIMEOUT_S = 30.0
#: Largest response body read.
MAX_BODY = 1 << 20
#: A pooled connection idle longer than this is closed instead of reused:
#: uvicorn closes idle keep-alive connections after 5 s (`timeout_keep_alive`),
#: and a request written into one that the server is closing is lost.
MAX_IDLE_S = 3.0


class HttpError(Exception):
    pass


class _Conn:
    __slots__ = ("last_used", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = time.monotonic()

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length > MAX_BODY:
            raise HttpError(f"response body of {length} bytes")
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class HttpPool:
    """At most `size` keep-alive connections to one loopback host:port."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host = host
        self.port = port
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(size)

    async def warm(self, n: int) -> None:
        conns = [await self._open() for _ in range(n)]
        self._idle.extend(conns)

    async def _open(self) -> _Conn:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_BODY)
        return _Conn(reader, writer)

    def build(self, method: str, path: str, body: Any = None, token: str | None = None) -> bytes:
        data = b"" if body is None else json.dumps(body).encode()
        head = [
            f"{method} {path} HTTP/1.1",
            f"host: {self.host}:{self.port}",
            "accept: application/json",
            f"content-length: {len(data)}",
        ]
        if body is not None:
            head.append("content-type: application/json")
        if token is not None:
            head.append(f"authorization: Bearer {token}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + data

    def _take(self) -> _Conn | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.last_used < MAX_IDLE_S:
                return conn
            conn.close()
        return None

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        async with self._slots:
            conn = self._take() or await self._open()
            try:
                status, body = await asyncio.wait_for(conn.request(raw), REQUEST_TIMEOUT_S)
            except BaseException:
                conn.close()
                raise
            conn.last_used = time.monotonic()
            self._idle.append(conn)
            return status, body

    async def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        status, raw = await self.send(self.build(method, path, body, token))
        return status, (json.loads(raw) if raw else None)

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
