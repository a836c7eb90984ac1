"""Real local receivers for the alert channels: an HTTP server and an SMTP server (aiosmtpd), on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    return free_port()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpReceiver:
    """An HTTP server in a thread recording each POST. ``status`` answers; ``hang`` holds each request until
    :attr:`release` is set (a dead webhook that accepts and never answers)."""

    status: int = 200
    hang: bool = False
    requests: list[Received] = field(default_factory=list)
    responded: int = 0
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else None
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                receiver.entered.set()
                if receiver.hang:
                    receiver.release.wait(30)
                payload = b"ok" if receiver.status < 300 else b"no"
                try:
                    self.send_response(receiver.status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up waiting (a timed-out alert channel)
                receiver.responded += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def start(self) -> HttpReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """aiosmtpd on a free local port; optional LOGIN/PLAIN auth and STARTTLS."""

    def __init__(
        self, *, user: str | None = None, password: str | None = None, tls_context: ssl.SSLContext | None = None
    ) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        self.logins: list[str] = []
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs.update(
                authenticator=self._authenticator(user, password or ""), auth_require_tls=tls_context is not None
            )
            kwargs["auth_required"] = True
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticator(self, user: str, password: str) -> Any:
        def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            if ok:
                self.logins.append(user)
            return AuthResult(success=ok, handled=False)

        return check

    @property
    def messages(self) -> list[EmailMessage]:
        return [m for _, m in self.inbox.messages]

    @property
    def envelopes(self) -> list[Envelope]:
        return [e for e, _ in self.inbox.messages]

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 / localhost, made with the openssl command."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def eventually(predicate: Callable[[], bool], *, timeout: float = 10.0, what: str = "the condition") -> None:
    """Wait for work that runs in threads (audit fsyncs, HTTP and SMTP servers) to show its effect."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g}s")
        await asyncio.sleep(0.005)
