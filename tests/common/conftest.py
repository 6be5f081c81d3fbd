"""A small real HTTP/1.1 server on 127.0.0.1 for the outbound-client tests.

Raw asyncio rather than a framework, because several routes misbehave on purpose: bodies that
never end, lying Content-Length, bytes dripped forever, connections dropped mid-request.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

CHUNK = b"x" * 65536


@functools.cache
def gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * 50_000_000, compresslevel=9)  # ~50 KB that inflates to 50 MB


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    open_connections: int = 0
    streamed: int = 0  # bytes written by the endless routes
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.open_connections += 1
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()
            self._tasks.discard(task)

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should end."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = line.split(" ", 2)
        headers = {}
        for h in lines:
            if h:
                name, _, value = h.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        split = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        self.requests.append(Seen(method, target, headers, body))
        self.hits[split.path] += 1
        out = _HeadWriter(writer) if method == "HEAD" else writer
        return await self.route(split.path, query, method, headers, body, out)

    async def route(
        self, path: str, q: dict[str, str], method: str, headers: dict[str, str], body: bytes, w: Any
    ) -> bool:
        if path == "/ok":
            return await respond(w, 200, b"hello", {"Content-Type": "text/plain; charset=utf-8"})
        if path == "/echo":
            data = {"method": method, "headers": headers, "body": body.decode("latin-1")}
            return await respond(w, 200, json.dumps(data).encode(), {"Content-Type": "application/json"})
        if path == "/redirect-chain":
            n = int(q.get("n", "0"))
            target = f"/redirect-chain?n={n - 1}" if n > 0 else "/ok"
            return await respond(w, 302, b"", {"Location": target})
        if path == "/redirect-to":
            return await respond(w, int(q.get("status", "302")), b"moved", {"Location": q["url"]})
        if path == "/huge":  # no length, never ends
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
            return await self.stream_forever(w)
        if path == "/lying-length":  # claims 100 bytes, then sends without end
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n")
            return await self.stream_forever(w)
        if path == "/big-length":  # claims a terabyte, sends headers only
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
            await w.drain()
            await asyncio.sleep(30)
            return False
        if path == "/gzip-bomb":
            return await respond(w, 200, gzip_bomb(), {"Content-Encoding": "gzip"})
        if path == "/slow":  # a byte every 50 ms, for ever: never idle long enough for a read timeout
            w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            while True:
                w.write(b".")
                await w.drain()
                await asyncio.sleep(0.05)
        if path == "/flaky":  # fails `fail` times (per `key`), then answers
            key = q.get("key", "")
            self.hits["flaky:" + key] += 1
            if self.hits["flaky:" + key] <= int(q.get("fail", "1")):
                if q.get("mode") == "drop":
                    return False  # close without a response
                extra = {"Retry-After": q["retry_after"]} if "retry_after" in q else {}
                return await respond(w, int(q.get("status", "503")), b"try later", extra)
            return await respond(w, 200, b"recovered")
        if path.startswith("/status/"):
            extra = {"Retry-After": q["retry_after"]} if "retry_after" in q else {}
            return await respond(w, int(path.rsplit("/", 1)[1]), b"status body", extra)
        if path == "/nostore":
            return await respond(w, 200, b"fresh", {"Cache-Control": "no-store"})
        if path == "/maxage0":
            return await respond(w, 200, b"fresh", {"Cache-Control": "max-age=0"})
        if path == "/counter":  # a different body each time shows whether the cache answered
            return await respond(w, 200, f"n={self.hits['/counter']}".encode())
        if path == "/cookie":
            return await respond(w, 200, b"have one", {"Set-Cookie": "session=secret; Path=/"})
        if path == "/latin1":
            return await respond(w, 200, "café".encode("latin-1"), {"Content-Type": 'text/html; charset="ISO-8859-1"'})
        if path == "/badcharset":
            return await respond(w, 200, "café".encode(), {"Content-Type": "text/plain; charset=no-such-codec"})
        return await respond(w, 404, b"not found")

    async def stream_forever(self, w: Any) -> bool:
        while True:
            w.write(CHUNK)
            self.streamed += len(CHUNK)
            await w.drain()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class _HeadWriter:
    """Answers HEAD like GET minus the body (a body after HEAD would corrupt the connection)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> None:
        self._writer.write(data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")

    async def drain(self) -> None:
        await self._writer.drain()


async def respond(w: Any, status: int, body: bytes, headers: dict[str, str] | None = None) -> bool:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    w.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await w.drain()
    return True


@pytest.fixture
async def http_server() -> AsyncIterator[LocalServer]:
    local = LocalServer()
    srv = await asyncio.start_server(local.handle, "127.0.0.1", 0)
    local.port = srv.sockets[0].getsockname()[1]
    try:
        yield local
    finally:
        srv.close()
        await local.stop()
        await srv.wait_closed()
