"""``ALERT_*`` settings: channels, severity gates, folding, retries, escalation.

Severity gate: an alert goes out when its severity is at least the threshold of its action. The threshold is
``ALERT_SEVERITY_<ACTION>`` when set (an override sets the *minimum severity for that action*; it never
changes the alert's own severity), else ``ALERT_SEVERITY_OVERRIDES`` (``action=severity,...`` for actions
outside the runbook's list), else ``ALERT_MIN_SEVERITY``. So ``ALERT_MIN_SEVERITY=error`` with
``ALERT_SEVERITY_RISK_ALERT=warning`` pages on soft breaches too, and ``ALERT_SEVERITY_RISK_REJECT=critical``
keeps routine rejects (warning) off the channels.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from runtime.payloads import SEVERITIES, Severity
from runtime.settings import split_csv

# The runbook's alert actions, each with its own ALERT_SEVERITY_<ACTION> setting.
RUNBOOK_ACTIONS = (
    "risk_alert",
    "risk_reject",
    "risk_stop_loss",
    "risk_stress_breach",
    "compliance_reject",
    "runtime_kill_switch",
)
DAILY_REPORT = "daily_report"
CHANNEL_FAILED = "alert_channel_failed"


def _split_overrides(value: Any) -> Any:
    if isinstance(value, str):
        pairs: dict[str, str] = {}
        for part in split_csv(value):
            action, sep, severity = part.partition("=")
            if not sep:
                raise ValueError(f"{part!r} is not action=severity")
            pairs[action.strip()] = severity.strip().lower()
        return pairs
    return value


def _check_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value.strip()


def _gate(description: str, default: Severity | None = None) -> Any:
    return Field(default=default, description=description)


class AlertSettings(BaseSettings):
    """Where alerts go and which ones do."""

    model_config = SettingsConfigDict(env_prefix="ALERT_", env_file=".env", extra="ignore")

    # Channels.
    webhook_url: str | None = Field(default=None, description="Generic webhook: a JSON POST per notification")
    slack_webhook_url: str | None = Field(default=None, description="Slack incoming webhook (text + blocks)")
    smtp_host: str | None = Field(default=None, description="SMTP server for email alerts")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 SSL, 25 plain)")
    smtp_user: str | None = Field(default=None, description="SMTP login user (no login when unset)")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP login password")
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS")
    smtp_ssl: bool = Field(default=False, description="Implicit TLS from the first byte (port 465)")
    email_from: str | None = Field(default=None, description="From address of alert emails")
    email_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validate_default=True, description="Recipients of alert emails (comma-separated)"
    )
    subject_prefix: str = Field(default="[AgentHedge]", description="Start of every email subject")

    # Gates.
    min_severity: Severity = Field(default="warning", description="Least severity sent: info|warning|error|critical")
    severity_risk_alert: Severity | None = _gate("Minimum severity of risk_alert (soft breaches) to send")
    severity_risk_reject: Severity | None = _gate("Minimum severity of risk_reject to send")
    severity_risk_stop_loss: Severity | None = _gate("Minimum severity of risk_stop_loss to send")
    severity_risk_stress_breach: Severity | None = _gate("Minimum severity of risk_stress_breach to send")
    severity_compliance_reject: Severity | None = _gate("Minimum severity of compliance_reject to send")
    severity_runtime_kill_switch: Severity | None = _gate("Minimum severity of runtime_kill_switch to send")
    severity_daily_report: Severity | None = _gate("Minimum severity of the daily report (info: always sent)", "info")
    severity_overrides: Annotated[dict[str, Severity], NoDecode] = Field(
        default_factory=dict, description="More per-action minimums: action=severity,action=severity"
    )

    # Delivery.
    dedupe_seconds: float = Field(default=300.0, ge=0, description="Repeats of action+message within this fold")
    retries: int = Field(default=3, ge=0, le=10, description="Retries of a failed delivery per channel")
    backoff_seconds: float = Field(default=1.0, ge=0, description="First retry delay; doubles each retry")
    backoff_max_seconds: float = Field(default=30.0, ge=0, description="Longest retry delay")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-attempt timeout of a channel")
    queue_size: int = Field(default=100, ge=1, le=100_000, description="Notifications queued per channel")

    # Lifecycle.
    escalate_minutes: float = Field(default=15.0, gt=0, description="Unacknowledged soft breaches escalate after")
    escalate_max: int = Field(default=3, ge=0, le=10, description="Escalations per alert at most")
    snooze_max_hours: float = Field(default=24.0, gt=0, description="Longest snooze an operator may set")

    _split = field_validator("email_to", mode="before")(split_csv)
    _split_pairs = field_validator("severity_overrides", mode="before")(_split_overrides)

    @field_validator("webhook_url", "slack_webhook_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _check_url(value)

    @field_validator("smtp_ssl")
    @classmethod
    def _one_tls(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("smtp_starttls"):
            raise ValueError("set ALERT_SMTP_STARTTLS=false with implicit TLS (they are two ways of encrypting)")
        return value

    @field_validator("email_to")
    @classmethod
    def _email_needs_smtp(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for address in value:
            if "@" not in address:
                raise ValueError(f"{address!r} is not an email address")
        if value and not info.data.get("smtp_host"):
            raise ValueError("email recipients are set but ALERT_SMTP_HOST is not")
        if info.data.get("smtp_host") and not value:
            raise ValueError("ALERT_SMTP_HOST is set: give the recipients")
        if value and not info.data.get("email_from"):
            raise ValueError("ALERT_EMAIL_FROM is needed to send email")
        return value

    def threshold(self, action: str) -> Severity:
        """The least severity of ``action`` that is sent."""
        specific: Severity | None = getattr(self, f"severity_{action}", None) if _known(action) else None
        if specific is not None:
            return specific
        return self.severity_overrides.get(action, self.min_severity)

    def passes(self, action: str, severity: Severity) -> bool:
        return rank(severity) >= rank(self.threshold(action))

    @property
    def dedupe_window(self) -> timedelta:
        return timedelta(seconds=self.dedupe_seconds)

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host and self.email_to)


def _known(action: str) -> bool:
    return action in RUNBOOK_ACTIONS or action == DAILY_REPORT


def rank(severity: Severity) -> int:
    return SEVERITIES.index(severity)


def raised(severity: Severity, steps: int = 1) -> Severity:
    """``severity`` raised by ``steps`` (capped at critical)."""
    return SEVERITIES[min(rank(severity) + steps, len(SEVERITIES) - 1)]
