"""A tiny HTTP server on 127.0.0.1 for tests that need a remote answering JSON or bytes.

    with serving(lambda path: (200, {"a": 1})) as base:   # base = "http://127.0.0.1:PORT"
        ...

`answer(path)` returns `(status, body)`; a dict or list body is sent as JSON, bytes as they are.
Requests are served from threads; every path asked for is appended to the yielded server's
`paths` when you need to count requests (`serving(..., record=paths_list)`).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[str], tuple[int, Any]]


@contextlib.contextmanager
def serving(answer: Answer, record: list[str] | None = None) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if record is not None:
                record.append(self.path)
            status, body = answer(self.path)
            kind = "application/octet-stream"
            if not isinstance(body, bytes):
                body, kind = json.dumps(body).encode(), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
