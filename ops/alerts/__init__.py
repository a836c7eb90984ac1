"""Alert fan-out and lifecycle: the runtime's ``events/alert`` to a webhook, Slack and email.

The daemon wires it as::

    notifier = Notifier.from_settings(
        load(AlertSettings), clock=rt.clock, ledger=rt.books, registry=rt.metrics.registry,
        raise_alert=rt.alert, audit=rt.audit, env=rt.env,
    )
    await notifier.start(rt.bus)          # one bus reader; channel workers in tasks of their own
    control = AlertControl(notifier)      # "ack", "snooze", "alerts" for the control service
    ...
    await notifier.stop(drain=5.0)
"""

from __future__ import annotations

from ops.alerts._book import AlertBook, AlertNotFound, AlertRecord, AlertRefused
from ops.alerts._channels import (
    Channel,
    ChannelError,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
    channels_from_settings,
)
from ops.alerts._control import VERBS, AlertControl
from ops.alerts._fold import Folder, Notification, fingerprint
from ops.alerts._format import REPORT_JSON, REPORT_MARKDOWN, REPORT_NAME, email_message, slack_body, webhook_body
from ops.alerts._metrics import AlertMetrics
from ops.alerts._notifier import Notifier
from ops.alerts._settings import CHANNEL_FAILED, DAILY_REPORT, RUNBOOK_ACTIONS, AlertSettings, raised, rank
from ops.alerts._worker import ChannelWorker

__all__ = [
    "CHANNEL_FAILED",
    "DAILY_REPORT",
    "REPORT_JSON",
    "REPORT_MARKDOWN",
    "REPORT_NAME",
    "RUNBOOK_ACTIONS",
    "VERBS",
    "AlertBook",
    "AlertControl",
    "AlertMetrics",
    "AlertNotFound",
    "AlertRecord",
    "AlertRefused",
    "AlertSettings",
    "Channel",
    "ChannelError",
    "ChannelWorker",
    "EmailChannel",
    "Folder",
    "Notification",
    "Notifier",
    "SlackChannel",
    "WebhookChannel",
    "channels_from_settings",
    "email_message",
    "fingerprint",
    "raised",
    "rank",
    "slack_body",
    "webhook_body",
]
