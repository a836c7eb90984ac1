"""The channels: a generic JSON webhook, a Slack-format webhook, email over SMTP.

A channel sends one notification or raises :class:`ChannelError`; retries, queues and failure reports are
the worker's (:mod:`ops.alerts._worker`). The email channel runs smtplib in a one-thread executor of its
own, so a hanging SMTP server can hold at most that thread, never the event loop or the default executor
the runtime uses for its audit writes.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any, Protocol

import httpx

from ops.alerts._fold import Notification
from ops.alerts._format import email_message, slack_body, webhook_body
from ops.alerts._settings import AlertSettings


class ChannelError(Exception):
    """A delivery failed. ``permanent``: retrying cannot help (e.g. HTTP 404)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    name: str

    async def send(self, note: Notification) -> None:
        """Deliver ``note`` once or raise."""
        ...

    async def aclose(self) -> None: ...


class _HttpChannel:
    """POSTs a JSON body; any 2xx is a delivery."""

    name = "http"

    def __init__(self, url: str, *, timeout: float, client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self._own = client is None
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)

    def body(self, note: Notification) -> dict[str, Any]:
        raise NotImplementedError

    async def send(self, note: Notification) -> None:
        try:
            response = await self.client.post(self.url, json=self.body(note))
        except httpx.HTTPError as exc:
            raise ChannelError(f"{type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return
        # 4xx other than timeout/rate limit means the request itself is wrong: retrying will not help
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        raise ChannelError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=permanent)

    async def aclose(self) -> None:
        if self._own:
            await self.client.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class WebhookChannel(_HttpChannel):
    """The generic webhook (``ALERT_WEBHOOK_URL``): :func:`ops.alerts._format.webhook_body`."""

    def __init__(
        self, url: str, *, timeout: float = 10.0, client: httpx.AsyncClient | None = None, name: str = "webhook"
    ) -> None:
        super().__init__(url, timeout=timeout, client=client)
        self.name = name

    def body(self, note: Notification) -> dict[str, Any]:
        return webhook_body(note)


class SlackChannel(_HttpChannel):
    """A Slack incoming webhook (``ALERT_SLACK_WEBHOOK_URL``): ``text`` + ``blocks``."""

    def __init__(
        self, url: str, *, timeout: float = 10.0, client: httpx.AsyncClient | None = None, name: str = "slack"
    ) -> None:
        super().__init__(url, timeout=timeout, client=client)
        self.name = name

    def body(self, note: Notification) -> dict[str, Any]:
        return slack_body(note)


class EmailChannel:
    """Email over SMTP: STARTTLS (default), implicit TLS or plain, with an optional login."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        user: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        use_ssl: bool = False,
        timeout: float = 10.0,
        subject_prefix: str = "[AgentHedge]",
        tls_context: ssl.SSLContext | None = None,
        name: str = "email",
    ) -> None:
        self.name = name
        self.host, self.port = host, port
        self.sender, self.recipients = sender, recipients
        self.user, self._password = user, password
        self.starttls, self.use_ssl = starttls, use_ssl
        self.timeout = timeout
        self.subject_prefix = subject_prefix
        self.tls_context = tls_context
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"alert-{name}")

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> EmailChannel:
        assert settings.smtp_host
        assert settings.email_from
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.email_from,
            recipients=list(settings.email_to),
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            use_ssl=settings.smtp_ssl,
            timeout=settings.timeout_seconds,
            subject_prefix=settings.subject_prefix,
        )

    def message(self, note: Notification) -> EmailMessage:
        return email_message(note, sender=self.sender, recipients=self.recipients, prefix=self.subject_prefix)

    async def send(self, note: Notification) -> None:
        msg = self.message(note)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._deliver, msg)
        except (smtplib.SMTPException, OSError) as exc:
            permanent = isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPRecipientsRefused)
            raise ChannelError(f"{type(exc).__name__}: {exc}", permanent=permanent) from exc

    def _deliver(self, msg: EmailMessage) -> None:
        context = self.tls_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            if self.starttls and not self.use_ssl:
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self._password or "")
            smtp.send_message(msg)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __repr__(self) -> str:
        return f"EmailChannel({self.name} {self.host}:{self.port} -> {', '.join(self.recipients)})"


def channels_from_settings(settings: AlertSettings, *, client: httpx.AsyncClient | None = None) -> list[Channel]:
    """Every channel the settings configure (none when no ``ALERT_*`` destination is set)."""
    out: list[Channel] = []
    if settings.webhook_url:
        out.append(WebhookChannel(settings.webhook_url, timeout=settings.timeout_seconds, client=client))
    if settings.slack_webhook_url:
        out.append(SlackChannel(settings.slack_webhook_url, timeout=settings.timeout_seconds, client=client))
    if settings.email_enabled:
        out.append(EmailChannel.from_settings(settings))
    return out
