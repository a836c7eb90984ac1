"""Metrics of the alert fan-out, on the registry the daemon serves."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.notifications = Counter(
            "alert_notifications",
            "Notifications by channel and outcome (sent, failed, dropped)",
            ["channel", "outcome"],
            registry=r,
        )
        self.attempts = Counter(
            "alert_delivery_attempts", "Delivery attempts, retries included", ["channel"], registry=r
        )
        self.channel_failures = Counter(
            "alert_channel_failures",
            "Notifications a channel could not deliver after its retries (or had to drop)",
            ["channel"],
            registry=r,
        )
        self.suppressed = Counter(
            "alerts_suppressed",
            "Alerts not sent, by reason (below_severity, duplicate, snoozed)",
            ["reason"],
            registry=r,
        )
        self.escalations = Counter("alert_escalations", "Escalations of unacknowledged alerts", ["action"], registry=r)
        self.queue_depth = Gauge("alert_queue_depth", "Notifications waiting per channel", ["channel"], registry=r)
        self.unacknowledged = Gauge(
            "alerts_unacknowledged", "Alerts that need an acknowledgement and have none", registry=r
        )
