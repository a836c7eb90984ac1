"""What each channel sends: the webhook document, Slack's text + blocks, the email (with a report attached)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from ops.alerts import REPORT_JSON, REPORT_MARKDOWN, REPORT_NAME, Notification, email_message, slack_body, webhook_body
from runtime.payloads import Alert
from tests.ops.alerts.conftest import T0


def _note(**alert: Any) -> Notification:
    fields: dict[str, Any] = {
        "id": "a1b2c3",
        "action": "runtime_kill_switch",
        "severity": "critical",
        "message": "HALTED by kill switch (risk.kill_switch): drawdown 6% > 5% [incident INC-1]",
        "source": "runtime",
        "ts": T0,
        "details": {"incident_id": "INC-1"},
    }
    fields.update(alert)
    return Notification.of(Alert(**fields), env="paper", run_id="run-1")


def test_webhook_document() -> None:
    body = webhook_body(_note())
    assert body["schema"] == "agenthedge.alert/1"
    assert (body["id"], body["action"], body["severity"]) == ("a1b2c3", "runtime_kill_switch", "critical")
    assert body["ts"] == "2026-11-24T15:00:00Z"
    assert body["details"] == {"incident_id": "INC-1"}
    assert (body["env"], body["run_id"], body["kind"], body["count"]) == ("paper", "run-1", "new", 1)
    assert body["headline"].startswith("[CRITICAL] runtime_kill_switch: HALTED")


def test_an_escalation_says_so_everywhere() -> None:
    note = replace(
        _note(action="risk_alert", severity="warning", needs_ack=True),
        severity="error",
        kind="escalation",
        escalation=1,
    )
    body = webhook_body(note)
    assert (body["severity"], body["original_severity"], body["escalation"]) == ("error", "warning", 1)
    assert "ESCALATED" in body["headline"]
    assert "ESCALATED" in slack_body(note)["text"]
    assert "ESCALATED" in str(email_message(note, sender="a@b.c", recipients=["o@b.c"], prefix="[AH]")["Subject"])


def test_slack_message_has_text_and_blocks() -> None:
    body = slack_body(_note(message="a <b> & c"))
    assert body["text"].startswith("[CRITICAL] runtime_kill_switch: a <b> & c")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    header = body["blocks"][0]["text"]
    assert header == {"type": "plain_text", "text": "CRITICAL · runtime_kill_switch"}
    assert body["blocks"][1]["text"] == {"type": "mrkdwn", "text": "a &lt;b&gt; &amp; c"}  # Slack's escaping
    fields = [f["text"] for f in body["blocks"][2]["fields"]]
    assert "*Severity*\nCRITICAL" in fields  # the state as a word, not a colour
    assert "*Time*\n2026-11-24 15:00:00 UTC" in fields
    assert "alert a1b2c3 · env paper · run-1" in body["blocks"][3]["elements"][0]["text"]


def test_slack_respects_its_limits() -> None:
    body = slack_body(_note(action="x" * 64, message="m" * 5000, details={REPORT_MARKDOWN: "r" * 10_000}))
    assert len(body["blocks"][0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in body["blocks"] if b["type"] == "section" and "text" in b)
    assert len(body["text"]) <= 3000


def test_a_repeat_shows_its_count() -> None:
    note = replace(_note(), kind="repeat", count=7, first_seen=T0 - timedelta(minutes=5))
    assert "(repeated 7 times since 14:55:00 UTC)" in slack_body(note)["text"]
    assert any(f["text"] == "*Repeats*\n7" for f in slack_body(note)["blocks"][2]["fields"])


def test_email_message() -> None:
    note = _note(message="line one\nline two")
    msg = email_message(
        note, sender="agenthedge@example.com", recipients=["ops@example.com", "risk@example.com"], prefix="[AgentHedge]"
    )
    assert msg["Subject"] == "[AgentHedge] CRITICAL runtime_kill_switch: line one line two"
    assert msg["To"] == "ops@example.com, risk@example.com"
    assert msg["X-AgentHedge-Alert-Id"] == "a1b2c3"
    text = msg.get_content()
    assert "Severity:  CRITICAL" in text
    assert '"incident_id": "INC-1"' in text
    assert not msg.is_multipart()


def test_a_report_is_the_body_and_an_attachment() -> None:
    markdown = "# Daily report 2026-11-24\n\nNAV 1,000,000\n"
    note = _note(
        action="daily_report",
        severity="info",
        message="Daily report 2026-11-24",
        details={REPORT_MARKDOWN: markdown, REPORT_NAME: "daily-2026-11-24", REPORT_JSON: {"nav": 1e6}},
    )
    msg = email_message(note, sender="a@example.com", recipients=["o@example.com"], prefix="[AH]")
    assert msg.is_multipart()
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().startswith("# Daily report 2026-11-24")
    attachments = {part.get_filename(): part for part in msg.iter_attachments()}
    assert set(attachments) == {"daily-2026-11-24.md", "daily-2026-11-24.json"}
    assert attachments["daily-2026-11-24.md"].get_content_type() == "text/markdown"
    assert b"NAV 1,000,000" in attachments["daily-2026-11-24.md"].get_payload(decode=True)
    slack = slack_body(note)
    assert any(
        b["type"] == "section" and "Daily report" in b.get("text", {}).get("text", "") for b in slack["blocks"][3:]
    )
