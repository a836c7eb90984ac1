"""``agenthedge ops alert-test``: a test alert on every configured channel, against real receivers."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from tests.ops.alerts.receivers import HttpReceiver, SmtpReceiver, closed_port


def _env(webhook: str, smtp: SmtpReceiver | None = None) -> dict[str, str]:
    env = {"ALERT_WEBHOOK_URL": webhook, "ALERT_MIN_SEVERITY": "critical", "ALERT_RETRIES": "0"}
    if smtp is not None:
        env.update(
            ALERT_SMTP_HOST="127.0.0.1",
            ALERT_SMTP_PORT=str(smtp.port),
            ALERT_SMTP_STARTTLS="false",
            ALERT_EMAIL_FROM="agenthedge@example.com",
            ALERT_EMAIL_TO="ops@example.com",
        )
    return env


def test_alert_test_reaches_every_channel(tmp_path: Path, webhook: HttpReceiver, smtp: SmtpReceiver) -> None:
    result = CliRunner().invoke(
        cli, ["--home", str(tmp_path), "ops", "alert-test", "--severity", "info"], env=_env(webhook.url, smtp)
    )
    assert result.exit_code == 0, result.output
    assert "webhook: sent" in result.output
    assert "email: sent" in result.output
    (body,) = webhook.bodies  # the gate (critical) is bypassed for a test
    assert (body["action"], body["severity"]) == ("alert_test", "info")
    assert "alert_test" in str(smtp.messages[0]["Subject"])


def test_alert_test_fails_on_a_dead_channel(tmp_path: Path, smtp: SmtpReceiver) -> None:
    env = _env(f"http://127.0.0.1:{closed_port()}/hook", smtp)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "ops", "alert-test"], env=env)
    assert result.exit_code == 1
    assert "webhook: FAILED" in result.output
    assert "email: sent" in result.output
    subjects = [str(m["Subject"]) for m in smtp.messages]
    assert any("alert_channel_failed" in s for s in subjects)  # the failure was reported on the other channel


def test_alert_test_without_channels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALERT_WEBHOOK_URL", "ALERT_SLACK_WEBHOOK_URL", "ALERT_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "ops", "alert-test"])
    assert result.exit_code == 2
    assert "no alert channel configured" in result.output
