"""The one fake remote for tests: a real HTTP/1.1 server on 127.0.0.1 in threads.

Every test that needs a remote (a registry, a site, an identity provider, an advisory endpoint)
starts one of these instead of writing its own `BaseHTTPRequestHandler`:

    with serving({"/a.json": {"a": 1},                        # JSON
                  "/page": Reply(body="<p>x</p>", content_type="text/html"),
                  "/gone": Reply(410),
                  "/files/*": lambda request: Reply(body=request.path),   # prefix route, computed
                  }) as remote:
        fetch(f"{remote}/a.json")          # remote is the base URL, "http://127.0.0.1:PORT"
        remote.url("/page", host="localhost")
        remote.count("/a.json"); remote.requests[-1].headers["user-agent"]

Routes map a path (without the query; a key ending in `*` matches by prefix, longest first) to a
`Reply`, to a bare body (bytes, str, or a dict/list sent as JSON), or to `callable(Request)`
returning either. `default=` answers the paths no route matches (404 otherwise); `static=`
serves a folder read-only, as a static web server would. `remote.routes` may be changed while
it runs. A `Reply` sets status, headers, content type, an ETag (a matching If-None-Match gets
304), Retry-After, a delay or a hang (both end when the remote closes, a hang after
`MAX_HANG` s at most) and `drop` (close without answering).

The original shorthand still works: `serving(answer, record=paths)` where `answer(path_with_query)`
returns `(status, body)`; bytes are sent as they are, anything else as JSON.

Every request is logged (`remote.requests`: method, path with query, headers, body). At exit the
server stops accepting, open connections are shut and the handler threads joined.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import posixpath
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HANG = 60.0  # seconds: a hanging reply ends by then even if the test forgets to close
MAX_BODY = 10_000_000  # bytes of a request body read

_AUTO = object()


@dataclass
class Reply:
    """One answer. `body` bytes go as they are; str as UTF-8 text; a dict or list as JSON.
    `content_type=None` sends no Content-Type at all (the default follows the body's kind)."""

    status: int = 200
    body: Any = b""
    content_type: Any = _AUTO
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None  # sent as ETag; a request whose If-None-Match matches gets 304
    retry_after: float | str | None = None
    delay: float = 0.0  # seconds before answering
    hang: bool = False  # never answer (until the remote closes, or MAX_HANG)
    drop: bool = False  # close the connection without a response

    def encoded(self) -> tuple[bytes, str | None]:
        body, kind = self.body, self.content_type
        if isinstance(body, bytes | bytearray):
            data, auto = bytes(body), "application/octet-stream"
        elif isinstance(body, str):
            data, auto = body.encode(), "text/plain; charset=utf-8"
        elif body is None:
            data, auto = b"", None
        else:
            data, auto = json.dumps(body).encode(), "application/json"
        return data, (auto if kind is _AUTO else kind)


@dataclass
class Request:
    """One request as the remote saw it."""

    method: str
    path: str  # with the query
    headers: Message  # case-insensitive: headers["content-type"]
    body: bytes

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Request], Any]
Answer = Callable[[str], tuple[int, Any]]


class Remote(str):
    """The running remote; as a string, its base URL (so `f"{remote}/x"` works)."""

    port: int
    routes: dict[str, Any]
    requests: list[Request]
    hits: Counter[str]

    def url(self, path: str = "", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def count(self, route: str) -> int:
        with self._lock:
            return self.hits[route]

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    _lock: threading.Lock


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.closing = threading.Event()
        self.live: dict[socket.socket, threading.Thread] = {}
        self.live_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=self._serve_one, args=(request, client_address), daemon=True)
        with self.live_lock:
            self.live[request] = thread
        thread.start()

    def _serve_one(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.live_lock:
                self.live.pop(request, None)

    def stop(self) -> None:
        self.closing.set()
        self.shutdown()
        with self.live_lock:
            live = list(self.live.items())
        for sock, _ in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in live:
            thread.join(timeout=5)
        self.server_close()


def _static_reply(root: Path, route: str) -> Reply:
    """A file under `root` (symbolic links followed, `..` never leaving it), as a static server."""
    file = root / posixpath.normpath("/" + unquote(route)).lstrip("/")
    if file.is_dir():
        file = file / "index.html"
    if not file.is_file():
        return Reply(404, "not found")
    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return Reply(body=file.read_bytes(), content_type=kind)


@contextlib.contextmanager
def serving(
    answer: Answer | Mapping[str, Any] | None = None,
    record: list[str] | None = None,
    *,
    default: Handler | Reply | None = None,
    static: Path | str | None = None,
    host: str = "127.0.0.1",
) -> Iterator[Remote]:
    """Run a fake remote on `host` (any 127/8 address) at a free port; yields the `Remote`."""
    routes: dict[str, Any] = dict(answer) if isinstance(answer, Mapping) else {}
    legacy = answer if callable(answer) else None
    root = Path(static) if static is not None else None
    lock = threading.Lock()
    requests: list[Request] = []
    hits: Counter[str] = Counter()

    def reply_for(request: Request) -> Reply:
        if legacy is not None:
            status, body = legacy(request.path)
            return Reply(
                status,
                body if isinstance(body, bytes) else json.dumps(body).encode(),
                content_type="application/octet-stream" if isinstance(body, bytes) else "application/json",
            )
        route = request.route
        found = routes.get(route, _AUTO)
        if found is _AUTO:
            prefixes = sorted((k for k in list(routes) if k.endswith("*") and route.startswith(k[:-1])), key=len)
            found = routes[prefixes[-1]] if prefixes else _AUTO
        if found is _AUTO:
            if root is not None and request.method in ("GET", "HEAD"):
                return _static_reply(root, route)
            found = default if default is not None else Reply(405 if root is not None else 404, "not found")
        if callable(found):
            found = found(request)
        if isinstance(found, tuple):
            found = Reply(*found)
        return found if isinstance(found, Reply) else Reply(body=found)

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def log_message(self, *args: object) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, MAX_BODY)) if length > 0 else b""
            request = Request(self.command, self.path, self.headers, body)
            with lock:
                requests.append(request)
                hits[request.route] += 1
                if record is not None:
                    record.append(self.path)
            reply = reply_for(request)
            if reply.hang or reply.delay:
                server.closing.wait(MAX_HANG if reply.hang else min(reply.delay, MAX_HANG))
                if reply.hang or server.closing.is_set():
                    self.close_connection = True
                    return
            if reply.drop:
                self.close_connection = True
                return
            data, kind = reply.encoded()
            status = reply.status
            if reply.etag is not None and self.headers.get("If-None-Match") == reply.etag:
                status, data = 304, b""
            try:
                self.send_response(status)
                if kind is not None:
                    self.send_header("Content-Type", kind)
                if reply.etag is not None:
                    self.send_header("ETag", reply.etag)
                if reply.retry_after is not None:
                    self.send_header("Retry-After", str(reply.retry_after))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if "content-length" not in {k.lower() for k in reply.headers}:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD" and status != 304:
                    self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

    server = _Server((host, 0), _Handler)
    remote = Remote(f"http://{host}:{server.server_address[1]}")
    remote.port = server.server_address[1]
    remote.routes, remote.requests, remote.hits, remote._lock = routes, requests, hits, lock
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield remote
    finally:
        server.stop()
        thread.join(timeout=5)
