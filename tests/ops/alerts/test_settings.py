"""ALERT_* settings: channels, validation naming the variable, the severity gate and per-action overrides."""

from __future__ import annotations

import pytest

from ops.alerts import RUNBOOK_ACTIONS, AlertSettings, raised, rank
from runtime.settings import ConfigError, load


def test_defaults_send_warnings_and_up_and_the_daily_report() -> None:
    s = AlertSettings()
    assert s.min_severity == "warning"
    assert not s.passes("risk_reject", "info")
    assert s.passes("risk_reject", "warning")
    assert s.passes("daily_report", "info")
    assert (s.escalate_minutes, s.retries, s.dedupe_seconds) == (15.0, 3, 300.0)
    assert not s.email_enabled


def test_channels_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_WEBHOOK_URL", "https://hooks.example.com/agenthedge")
    monkeypatch.setenv("ALERT_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X")
    monkeypatch.setenv("ALERT_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("ALERT_SMTP_USER", "alerts")
    monkeypatch.setenv("ALERT_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("ALERT_EMAIL_FROM", "agenthedge@example.com")
    monkeypatch.setenv("ALERT_EMAIL_TO", "ops@example.com, risk@example.com")
    s = load(AlertSettings)
    assert s.email_to == ["ops@example.com", "risk@example.com"]
    assert s.email_enabled
    assert s.smtp_password is not None
    assert s.smtp_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)  # a SecretStr never shows in logs or tracebacks


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ALERT_MIN_SEVERITY": "loud"}, "ALERT_MIN_SEVERITY"),
        ({"ALERT_SEVERITY_RISK_REJECT": "urgent"}, "ALERT_SEVERITY_RISK_REJECT"),
        ({"ALERT_WEBHOOK_URL": "ftp://example.com/x"}, "ALERT_WEBHOOK_URL"),
        ({"ALERT_SLACK_WEBHOOK_URL": "not a url"}, "ALERT_SLACK_WEBHOOK_URL"),
        ({"ALERT_EMAIL_TO": "ops@example.com", "ALERT_EMAIL_FROM": "a@example.com"}, "ALERT_EMAIL_TO"),
        ({"ALERT_SMTP_HOST": "smtp.example.com", "ALERT_EMAIL_FROM": "a@example.com"}, "ALERT_EMAIL_TO"),
        ({"ALERT_SMTP_HOST": "smtp.example.com", "ALERT_EMAIL_TO": "ops@example.com"}, "ALERT_EMAIL_TO"),
        ({"ALERT_SMTP_HOST": "h", "ALERT_EMAIL_FROM": "a@b.c", "ALERT_EMAIL_TO": "nobody"}, "ALERT_EMAIL_TO"),
        ({"ALERT_SMTP_SSL": "true"}, "ALERT_SMTP_SSL"),  # with STARTTLS still on
        ({"ALERT_SEVERITY_OVERRIDES": "health_check"}, "ALERT_SEVERITY_OVERRIDES"),
        ({"ALERT_SEVERITY_OVERRIDES": "health_check=panic"}, "ALERT_SEVERITY_OVERRIDES"),
        ({"ALERT_RETRIES": "-1"}, "ALERT_RETRIES"),
        ({"ALERT_ESCALATE_MINUTES": "0"}, "ALERT_ESCALATE_MINUTES"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=named):
        load(AlertSettings)


def test_implicit_tls_with_starttls_off_is_fine() -> None:
    s = AlertSettings(smtp_starttls=False, smtp_ssl=True)
    assert s.smtp_ssl


def test_an_override_sets_the_minimum_for_its_action_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_MIN_SEVERITY", "error")
    monkeypatch.setenv("ALERT_SEVERITY_RISK_ALERT", "warning")  # soft breaches page although the floor is error
    monkeypatch.setenv("ALERT_SEVERITY_RISK_REJECT", "critical")  # routine rejects stay off the channels
    s = load(AlertSettings)
    assert s.passes("risk_alert", "warning")
    assert not s.passes("risk_alert", "info")
    assert not s.passes("risk_reject", "error")
    assert s.passes("risk_reject", "critical")
    assert not s.passes("risk_stop_loss", "warning")  # no override: the floor
    assert s.passes("risk_stop_loss", "error")


def test_every_runbook_action_has_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for action in RUNBOOK_ACTIONS:
        monkeypatch.setenv(f"ALERT_SEVERITY_{action.upper()}", "critical")
    s = load(AlertSettings)
    for action in RUNBOOK_ACTIONS:
        assert s.threshold(action) == "critical"
        assert not s.passes(action, "error")


def test_other_actions_take_overrides_from_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_SEVERITY_OVERRIDES", "health_check=critical, alert_channel_failed = info")
    s = load(AlertSettings)
    assert s.threshold("health_check") == "critical"
    assert s.passes("alert_channel_failed", "info")
    assert s.threshold("something_else") == "warning"


def test_severity_order_and_raising() -> None:
    assert rank("info") < rank("warning") < rank("error") < rank("critical")
    assert raised("warning") == "error"
    assert raised("warning", 2) == "critical"
    assert raised("critical", 5) == "critical"
