"""A scripted HTTP server on 127.0.0.1 for the vendor provider tests: real sockets, canned payloads.

Each route answers with its replies in order and repeats the last one. A reply can also hang (never
answer until the server stops) to exercise client timeouts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: str


@dataclass
class _Route:
    path: str
    when: dict[str, str]
    replies: list[Reply]


class VendorServer:
    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self.requests: list[Seen] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = dict(parse_qsl(url.query))
                with server._lock:
                    server.requests.append(Seen(url.path, query, dict(self.headers.items()), self.path))
                    reply = server._next(url.path, query)
                if reply.hang:
                    server._stop.wait(10)
                    return
                data = reply.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.headers.pop("Content-Type", "application/json"))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="vendor-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, path: str, *replies: Reply, when: dict[str, str] | None = None) -> None:
        self._routes.append(_Route(path, dict(when or {}), list(replies)))

    def _next(self, path: str, query: dict[str, str]) -> Reply:
        for r in self._routes:
            if r.path == path and all(query.get(k) == v for k, v in r.when.items()):
                reply = r.replies.pop(0) if len(r.replies) > 1 else r.replies[0]
                return Reply(reply.status, reply.body, dict(reply.headers), reply.hang)
        return Reply(404, {"error": f"no route for {path}"})

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.requests if s.path == path]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def serve() -> Iterator[VendorServer]:
    server = VendorServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
