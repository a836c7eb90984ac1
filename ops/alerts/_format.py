"""How a notification looks on each channel: a JSON document, a Slack message, an email.

State is always spelled out as a word (``CRITICAL``), never left to a colour or an emoji. A report travels
in ``details["report_markdown"]`` (with ``details["report_name"]`` as its file stem): the email attaches it,
Slack shows its start, the webhook carries it whole.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from ops.alerts._fold import Notification

SCHEMA = "agenthedge.alert/1"
REPORT_MARKDOWN = "report_markdown"
REPORT_NAME = "report_name"
REPORT_JSON = "report_json"
# Slack's limits: header text 150 characters, section text 3000, message text 40000.
SLACK_HEADER = 150
SLACK_SECTION = 3000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _details(note: Notification) -> dict[str, Any]:
    return note.alert.model_dump(mode="json")["details"]  # type: ignore[no-any-return]


def webhook_body(note: Notification) -> dict[str, Any]:
    """The generic webhook's JSON document (``schema`` names its version)."""
    alert = note.alert.model_dump(mode="json")
    return {
        "schema": SCHEMA,
        "id": alert["id"],
        "action": alert["action"],
        "severity": note.severity,
        "original_severity": alert["severity"],
        "message": alert["message"],
        "headline": note.headline,
        "source": alert["source"],
        "ts": alert["ts"],
        "needs_ack": alert["needs_ack"],
        "kind": note.kind,
        "count": note.count,
        "first_seen": note.first_seen.isoformat() if note.first_seen else None,
        "last_seen": note.last_seen.isoformat() if note.last_seen else None,
        "escalation": note.escalation,
        "env": note.env,
        "run_id": note.run_id,
        "details": alert["details"],
    }


def _mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(note: Notification) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (the notification fallback) and ``blocks``."""
    alert = note.alert
    fields = [
        ("Severity", note.severity.upper()),
        ("Action", alert.action),
        ("Source", alert.source),
        ("Time", f"{alert.ts:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    if note.kind == "repeat":
        fields.append(("Repeats", str(note.count)))
    if note.kind == "escalation":
        fields.append(("Escalation", f"{note.escalation} (raised from {alert.severity.upper()})"))
    if alert.needs_ack:
        fields.append(("Needs acknowledgement", f"alert id `{alert.id}`"))
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(f"{note.severity.upper()} · {alert.action}", SLACK_HEADER)},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(_mrkdwn_escape(alert.message + note.suffix), SLACK_SECTION)},
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{_mrkdwn_escape(value)}"} for name, value in fields],
        },
    ]
    report = _details(note).get(REPORT_MARKDOWN)
    if isinstance(report, str) and report:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(_mrkdwn_escape(report), SLACK_SECTION)}}
        )
    context = (
        f"alert {alert.id}" + (f" · env {note.env}" if note.env else "") + (f" · {note.run_id}" if note.run_id else "")
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn_escape(context)}]})
    return {"text": _clip(note.headline, 3000), "blocks": blocks}


def email_message(note: Notification, *, sender: str, recipients: list[str], prefix: str) -> EmailMessage:
    """A plain-text email; a report comes as the body and as a Markdown attachment (plus its JSON)."""
    alert = note.alert
    details = _details(note)
    subject = " ".join(f"{prefix} {note.severity.upper()} {alert.action}: {alert.message}{note.suffix}".split())
    msg = EmailMessage()
    msg["Subject"] = _clip(subject, 200)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(alert.ts)
    msg["Message-ID"] = make_msgid(idstring=alert.id[:16], domain="agenthedge")
    msg["X-AgentHedge-Alert-Id"] = alert.id
    msg["X-AgentHedge-Severity"] = note.severity
    report = details.get(REPORT_MARKDOWN)
    lines = [
        note.headline,
        "",
        f"Severity:  {note.severity.upper()}" + (f" (raised from {alert.severity.upper()})" if note.escalation else ""),
        f"Action:    {alert.action}",
        f"Source:    {alert.source}",
        f"Time:      {alert.ts:%Y-%m-%d %H:%M:%S} UTC",
        f"Alert id:  {alert.id}",
    ]
    if note.env:
        lines.append(f"Env/run:   {note.env} {note.run_id}".rstrip())
    if note.kind == "repeat":
        lines.append(f"Repeats:   {note.count}")
    if alert.needs_ack:
        lines.append(f"Needs acknowledgement: ack alert id {alert.id} (it escalates until then)")
    if isinstance(report, str) and report:
        body = report + "\n\n-- \n" + "\n".join(lines[2:]) + "\n"
    else:
        shown = {k: v for k, v in details.items() if k not in (REPORT_MARKDOWN, REPORT_JSON)}
        if shown:
            lines += ["", "Details:", json.dumps(shown, indent=2, sort_keys=True, default=str)]
        body = "\n".join(lines) + "\n"
    msg.set_content(body)
    if isinstance(report, str) and report:
        stem = str(details.get(REPORT_NAME) or "report")
        msg.add_attachment(report.encode(), maintype="text", subtype="markdown", filename=f"{stem}.md")
        data = details.get(REPORT_JSON)
        if data is not None:
            text = data if isinstance(data, str) else json.dumps(data, indent=2, sort_keys=True)
            msg.add_attachment(text.encode(), maintype="application", subtype="json", filename=f"{stem}.json")
    return msg
