"""The channels against real local receivers: an HTTP server for the webhooks, aiosmtpd for email."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import pytest

from ops.alerts import (
    AlertSettings,
    ChannelError,
    EmailChannel,
    Notification,
    SlackChannel,
    WebhookChannel,
    channels_from_settings,
)
from runtime.payloads import Alert
from tests.ops.alerts.conftest import T0
from tests.ops.alerts.receivers import HttpReceiver, SmtpReceiver, closed_port, self_signed


def _note(message: str = "HALTED by kill switch") -> Notification:
    alert = Alert(id="a1", action="runtime_kill_switch", severity="critical", message=message, source="runtime", ts=T0)
    return Notification.of(alert, env="paper", run_id="run-1")


async def test_webhook_posts_the_json_document(webhook: HttpReceiver) -> None:
    channel = WebhookChannel(webhook.url, timeout=5)
    try:
        await channel.send(_note())
    finally:
        await channel.aclose()
    (request,) = webhook.requests
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body["action"] == "runtime_kill_switch"
    assert request.body["severity"] == "critical"
    assert request.body["schema"] == "agenthedge.alert/1"


async def test_slack_posts_text_and_blocks(slack: HttpReceiver) -> None:
    channel = SlackChannel(slack.url, timeout=5)
    try:
        await channel.send(_note())
    finally:
        await channel.aclose()
    (body,) = slack.bodies
    assert body["text"] == "[CRITICAL] runtime_kill_switch: HALTED by kill switch"
    assert body["blocks"][0]["type"] == "header"


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (429, False), (404, True), (400, True)])
async def test_http_errors_say_whether_a_retry_can_help(status: int, permanent: bool) -> None:
    receiver = HttpReceiver(status=status).start()
    channel = WebhookChannel(receiver.url, timeout=5)
    try:
        with pytest.raises(ChannelError, match=f"HTTP {status}") as caught:
            await channel.send(_note())
        assert caught.value.permanent is permanent
    finally:
        await channel.aclose()
        receiver.stop()


async def test_a_closed_port_is_a_channel_error() -> None:
    channel = WebhookChannel(f"http://127.0.0.1:{closed_port()}/hook", timeout=2)
    try:
        with pytest.raises(ChannelError, match="ConnectError") as caught:
            await channel.send(_note())
        assert not caught.value.permanent
    finally:
        await channel.aclose()


def _email(smtp: SmtpReceiver, **kw: object) -> EmailChannel:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "sender": "agenthedge@example.com",
        "recipients": ["ops@example.com", "risk@example.com"],
        "starttls": False,
        "timeout": 5,
    }
    options.update(kw)
    return EmailChannel(**options)  # type: ignore[arg-type]


async def test_email_is_received_by_the_smtp_server(smtp: SmtpReceiver) -> None:
    channel = _email(smtp)
    try:
        await channel.send(_note())
    finally:
        await channel.aclose()
    (envelope,) = smtp.envelopes
    assert envelope.mail_from == "agenthedge@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "risk@example.com"]
    (msg,) = smtp.messages
    assert msg["Subject"] == "[AgentHedge] CRITICAL runtime_kill_switch: HALTED by kill switch"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_email_logs_in_with_the_configured_user() -> None:
    server = SmtpReceiver(user="alerts", password="s3cret").start()
    channel = _email(server, user="alerts", password="s3cret")
    try:
        await channel.send(_note())
    finally:
        await channel.aclose()
        server.stop()
    assert server.logins == ["alerts"]
    assert len(server.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_a_wrong_password_is_a_permanent_failure() -> None:
    server = SmtpReceiver(user="alerts", password="s3cret").start()
    channel = _email(server, user="alerts", password="wrong")
    try:
        with pytest.raises(ChannelError, match="SMTPAuthenticationError") as caught:
            await channel.send(_note())
        assert caught.value.permanent
    finally:
        await channel.aclose()
        server.stop()
    assert server.messages == []


async def test_email_over_starttls(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make a test certificate: run `make test`, which installs it")
    cert, key = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server = SmtpReceiver(user="alerts", password="s3cret", tls_context=server_ctx).start()
    client_ctx = ssl.create_default_context(cafile=str(cert))
    client_ctx.check_hostname = False  # we connect by IP; the chain is still verified against our own CA
    channel = _email(server, starttls=True, user="alerts", password="s3cret", tls_context=client_ctx)
    try:
        await channel.send(_note())
    finally:
        await channel.aclose()
        server.stop()
    assert len(server.messages) == 1
    assert server.logins == ["alerts"]  # the server only allows a login after STARTTLS


async def test_starttls_refused_by_an_untrusted_certificate(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make a test certificate: run `make test`, which installs it")
    cert, key = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server = SmtpReceiver(tls_context=server_ctx).start()
    channel = _email(server, starttls=True)  # the system CAs do not know our certificate
    try:
        with pytest.raises(ChannelError, match="SSL"):
            await channel.send(_note())
    finally:
        await channel.aclose()
        server.stop()
    assert server.messages == []


async def test_no_smtp_server_is_a_channel_error() -> None:
    channel = EmailChannel(
        host="127.0.0.1", port=closed_port(), sender="a@example.com", recipients=["o@example.com"], starttls=False
    )
    try:
        with pytest.raises(ChannelError, match="ConnectionRefused"):
            await channel.send(_note())
    finally:
        await channel.aclose()


async def test_channels_from_settings() -> None:
    assert channels_from_settings(AlertSettings()) == []
    settings = AlertSettings(
        webhook_url="http://127.0.0.1:1/hook",
        slack_webhook_url="https://hooks.slack.com/services/T/B/X",
        smtp_host="smtp.example.com",
        email_from="a@example.com",
        email_to=["o@example.com"],
    )
    channels = channels_from_settings(settings)
    try:
        assert [c.name for c in channels] == ["webhook", "slack", "email"]
        email = channels[2]
        assert isinstance(email, EmailChannel)
        assert (email.port, email.starttls, email.use_ssl) == (587, True, False)
    finally:
        for channel in channels:
            await channel.aclose()
