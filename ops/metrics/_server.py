"""The ``/metrics`` endpoint: prometheus_client's own threaded WSGI server, started and stopped cleanly.

It runs in a daemon thread, so a slow or stuck scraper never touches the event loop; collectors it calls
read thread-safe metric objects or open their own connections.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Self
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from ops.metrics._settings import MetricsSettings

log = logging.getLogger(__name__)


class MetricsServerError(Exception):
    """The endpoint could not be served (port taken, bad address)."""


class MetricsServer:
    """Serves ``registry`` over HTTP on ``addr:port`` (port 0 picks a free one; see :attr:`port`)."""

    def __init__(self, registry: CollectorRegistry, *, port: int = 9464, addr: str = "127.0.0.1") -> None:
        self.registry = registry
        self.addr = addr
        self._requested_port = port
        self._httpd: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, registry: CollectorRegistry, settings: MetricsSettings) -> Self:
        return cls(registry, port=settings.port, addr=settings.addr)

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The bound port (the requested one until started)."""
        return int(self._httpd.server_port) if self._httpd is not None else self._requested_port

    @property
    def url(self) -> str:
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> int:
        """Bind and serve; returns the port. Idempotent.

        Raises:
            MetricsServerError: the address cannot be bound.
        """
        if self._httpd is not None:
            return self.port
        try:
            self._httpd, self._thread = start_http_server(self._requested_port, self.addr, registry=self.registry)
        except OSError as exc:
            raise MetricsServerError(f"cannot serve metrics on {self.addr}:{self._requested_port}: {exc}") from exc
        log.info("metrics served on %s", self.url)
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and release the port (blocks up to the server's 0.5 s poll; idempotent)."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
