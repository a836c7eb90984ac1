"""The notifier end to end: a real runtime on a tmp home, real HTTP and SMTP receivers.

Acceptance: a kill switch produces a webhook request, a Slack-format request and an email; a dead webhook
delays nothing (the runtime halts and carries on while the channel is still blocked) and is reported.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ops.alerts import AlertSettings, Notifier
from runtime import topics
from runtime.agent import Agent as BaseAgent
from runtime.agent import AgentRegistry, SafeState, Stage, Tick
from runtime.bus import MemoryBus
from runtime.clock import SimClock
from runtime.messages import Envelope, make, new_id
from runtime.payloads import Alert, KillSwitch, Severity
from runtime.runtime import Runtime
from runtime.settings import CoreSettings, RuntimeSettings
from runtime.state import RuntimeState
from tests.ops.alerts.conftest import T0
from tests.ops.alerts.receivers import HttpReceiver, SmtpReceiver, closed_port, eventually


class QuietAgent(BaseAgent):
    name = "execution"
    stage = Stage.EXECUTION

    async def on_tick(self, tick: Tick) -> None:
        return None

    async def safe_state(self, reason: str) -> SafeState:
        return SafeState(True, "no open orders")


def _settings(**kw: Any) -> AlertSettings:
    base: dict[str, Any] = {"min_severity": "info", "retries": 0, "timeout_seconds": 5.0, "dedupe_seconds": 300}
    base.update(kw)
    return AlertSettings(**base)


def _email_settings(smtp: SmtpReceiver) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_starttls": False,
        "email_from": "agenthedge@example.com",
        "email_to": ["ops@example.com"],
    }


@pytest.fixture
async def runtime(tmp_path: Path, clock: SimClock) -> AsyncIterator[Runtime]:
    core = CoreSettings(home=tmp_path / "home", bus=f"memory://alerts-{new_id()}", env="test")
    settings = RuntimeSettings(operators=["alice"], heartbeat_interval=3600)
    rt = Runtime(core, settings, AgentRegistry([QuietAgent()]), clock=clock)
    await rt.start()
    yield rt
    await rt.stop()


def _notifier(rt: Runtime, settings: AlertSettings, **kw: Any) -> Notifier:
    options: dict[str, Any] = {
        "clock": rt.clock,
        "ledger": rt.books,
        "registry": rt.metrics.registry,
        "raise_alert": rt.alert,
        "audit": rt.audit,
        "env": rt.env,
        "housekeeping_interval": None,
    }
    options.update(kw)
    return Notifier.from_settings(settings, **options)


def _metric(rt: Runtime, name: str, **labels: str) -> float:
    return rt.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_a_kill_switch_reaches_the_webhook_slack_and_email(
    runtime: Runtime, webhook: HttpReceiver, slack: HttpReceiver, smtp: SmtpReceiver
) -> None:
    settings = _settings(webhook_url=webhook.url, slack_webhook_url=slack.url, **_email_settings(smtp))
    notifier = _notifier(runtime, settings)
    await notifier.start(runtime.bus)
    try:
        # the runbook's path: someone publishes on runtime.kill_switch; the runtime halts and alerts
        operator = MemoryBus(runtime.core.bus, runtime.env, client_id="drill")
        await operator.start()
        trigger = make("kill_switch", KillSwitch(reason="kill-switch drill", operator="alice"), source="drill")
        await operator.publish(topics.RUNTIME_KILL_SWITCH, trigger)
        await operator.close()
        await eventually(lambda: bool(webhook.requests and slack.requests and smtp.messages), what="all three")
        await notifier.wait_idle()
    finally:
        await notifier.stop()
    assert runtime.state == RuntimeState.HALTED
    incident = await runtime.open_incident()
    assert incident is not None

    (hook,) = webhook.bodies
    assert hook["action"] == "runtime_kill_switch"
    assert hook["severity"] == "critical"
    assert hook["details"]["incident_id"] == incident.id
    assert hook["env"] == "test"
    assert hook["run_id"] == runtime.run_id

    (message,) = slack.bodies
    assert message["text"].startswith("[CRITICAL] runtime_kill_switch: HALTED by kill switch (runtime.kill_switch)")
    assert message["blocks"][0]["text"]["text"] == "CRITICAL · runtime_kill_switch"

    (mail,) = smtp.messages
    assert str(mail["Subject"]).startswith("[AgentHedge] CRITICAL runtime_kill_switch: HALTED by kill switch")
    assert incident.id in mail.get_content()
    assert _metric(runtime, "alert_notifications_total", channel="email", outcome="sent") == 1


async def test_a_dead_webhook_delays_nothing_and_is_reported(
    runtime: Runtime, slack: HttpReceiver, smtp: SmtpReceiver
) -> None:
    dead = HttpReceiver(hang=True).start()  # accepts the connection, never answers
    settings = _settings(
        webhook_url=dead.url, slack_webhook_url=slack.url, timeout_seconds=0.5, **_email_settings(smtp)
    )
    notifier = _notifier(runtime, settings)
    await notifier.start(runtime.bus)
    try:
        await runtime.alert("risk_alert", "warning", "gross exposure at 85% of its limit")
        await eventually(dead.entered.is_set, what="the webhook receiving its first request")
        webhook_worker = notifier.workers[0]
        assert webhook_worker.name == "webhook"
        assert webhook_worker.busy

        incident = await runtime.kill(source="runtime.kill_switch", reason="drawdown 6% > 5%", actor="risk")
        outcome = await runtime.run_once()

        # The runtime halted, alerted and ran (skipped) a tick while the webhook was still blocked.
        assert runtime.state == RuntimeState.HALTED
        assert outcome.status == "skipped"
        assert dead.responded == 0
        assert webhook_worker.busy  # still stuck on the dead receiver: the runtime did not wait for it

        # The other channels got the kill switch without waiting for the webhook.
        await notifier.workers[1].join()
        await notifier.workers[2].join()
        await eventually(lambda: any(b["text"].startswith("[CRITICAL] runtime_kill_switch") for b in slack.bodies))
        await notifier.wait_idle()
    finally:
        await notifier.stop(drain=0)
        dead.stop()

    # The webhook gave up on both notifications, and that was reported on the other channels, once.
    assert _metric(runtime, "alert_channel_failures_total", channel="webhook") == 2
    failed = [b for b in slack.bodies if b["text"].startswith("[ERROR] alert_channel_failed")]
    assert len(failed) == 1
    assert "alert channel webhook is failing" in failed[0]["text"]
    assert any("alert_channel_failed" in str(m["Subject"]) for m in smtp.messages)
    assert [b["action"] for b in dead.bodies] == ["risk_alert", "runtime_kill_switch"]  # never told about itself
    # the failure alert went through the runtime's own alert path (audited), once per window
    assert runtime.audit_log is not None
    raised = [r for r in runtime.audit_log.tail(50) if r["event"] == "alert.raised"]
    assert [r["data"]["action"] for r in raised].count("alert_channel_failed") == 1
    assert any(incident.id in b["text"] for b in slack.bodies)


async def test_a_closed_port_is_retried_with_back_off_then_reported(runtime: Runtime, slack: HttpReceiver) -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    settings = _settings(
        webhook_url=f"http://127.0.0.1:{closed_port()}/hook",
        slack_webhook_url=slack.url,
        retries=3,
        backoff_seconds=2.0,
    )
    notifier = _notifier(runtime, settings, retry_sleep=sleep)
    await notifier.start(runtime.bus)
    try:
        await runtime.alert("risk_stop_loss", "error", "AAPL stop-loss hit at 180.00")
        await notifier.wait_idle()
    finally:
        await notifier.stop()
    assert sleeps == [2.0, 4.0, 8.0]
    assert _metric(runtime, "alert_delivery_attempts_total", channel="webhook") == 4
    assert _metric(runtime, "alert_channel_failures_total", channel="webhook") == 1
    (failure,) = [b for b in slack.bodies if "alert_channel_failed" in b["text"]]
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in failure["blocks"][2]["fields"]}
    assert fields["*Severity*"] == "ERROR"


async def test_two_dead_channels_do_not_start_a_storm(runtime: Runtime) -> None:
    settings = _settings(
        webhook_url=f"http://127.0.0.1:{closed_port()}/a", slack_webhook_url=f"http://127.0.0.1:{closed_port()}/b"
    )
    notifier = _notifier(runtime, settings)
    await notifier.start(runtime.bus)
    try:
        for n in range(5):
            await runtime.alert("risk_reject", "warning", f"AAPL rejected #{n}")
        await notifier.wait_idle()
    finally:
        await notifier.stop()
    # ten failed deliveries, one report per channel; each report fails on the other dead channel and that
    # failure is counted but never reported again
    assert _metric(runtime, "runtime_alerts_total", action="alert_channel_failed", severity="error") == 2
    for channel in ("webhook", "slack"):
        assert _metric(runtime, "alert_notifications_total", channel=channel, outcome="failed") == 6
        assert _metric(runtime, "alert_channel_failures_total", channel=channel) == 6


async def test_severity_gate_and_override(runtime: Runtime, webhook: HttpReceiver) -> None:
    settings = _settings(webhook_url=webhook.url, min_severity="error", severity_risk_alert="warning")
    notifier = _notifier(runtime, settings)
    await notifier.start(runtime.bus)
    try:
        await runtime.alert("risk_alert", "warning", "soft breach: gross at 82%")  # override: sent
        await runtime.alert("risk_reject", "warning", "AAPL rejected: collar")  # below the floor
        await runtime.alert("risk_reject", "error", "AAPL rejected: restricted")  # at the floor
        await notifier.wait_idle()
    finally:
        await notifier.stop()
    assert [b["message"] for b in webhook.bodies] == ["soft breach: gross at 82%", "AAPL rejected: restricted"]
    assert _metric(runtime, "alerts_suppressed_total", reason="below_severity") == 1


async def test_repeats_are_folded_into_one_notification_with_a_count(
    runtime: Runtime, clock: SimClock, webhook: HttpReceiver
) -> None:
    notifier = _notifier(runtime, _settings(webhook_url=webhook.url))
    await notifier.start(runtime.bus)
    try:
        for _ in range(5):
            await runtime.alert("risk_reject", "warning", "AAPL rejected: single_name 12% > 10%")
            clock.advance(30)
        await notifier.wait_idle()
        assert len(webhook.bodies) == 1
        clock.advance(300)
        await notifier.housekeeping()
        await notifier.wait_idle()
    finally:
        await notifier.stop()
    first, repeat = webhook.bodies
    assert (first["kind"], first["count"]) == ("new", 1)
    assert (repeat["kind"], repeat["count"]) == ("repeat", 4)
    assert "repeated 4 times" in repeat["headline"]


async def test_an_unacknowledged_soft_breach_escalates(
    runtime: Runtime, clock: SimClock, webhook: HttpReceiver
) -> None:
    settings = _settings(webhook_url=webhook.url, min_severity="error", escalate_minutes=15)
    notifier = _notifier(runtime, settings)
    await notifier.start(runtime.bus)
    try:
        alert = await runtime.alert("risk_alert", "warning", "gross exposure at 82% of its limit", needs_ack=True)
        await notifier.wait_idle()
        assert webhook.bodies == []  # a warning, below the floor: not sent at first
        clock.advance(14 * 60)
        await notifier.housekeeping()
        assert webhook.bodies == []
        clock.advance(60)
        await notifier.housekeeping()
        await notifier.wait_idle()
        (escalation,) = webhook.bodies
        assert (escalation["kind"], escalation["severity"], escalation["original_severity"]) == (
            "escalation",
            "error",
            "warning",
        )
        assert escalation["id"] == alert.id
        assert _metric(runtime, "alerts_unacknowledged") == 1
        await notifier.ack(alert.id, "alice")
        assert _metric(runtime, "alerts_unacknowledged") == 0
        clock.advance(60 * 60)
        await notifier.housekeeping()
        await notifier.wait_idle()
    finally:
        await notifier.stop()
    assert len(webhook.bodies) == 1  # acknowledged: no further escalation
    assert _metric(runtime, "alert_escalations_total", action="risk_alert") == 1
    assert runtime.audit_log is not None
    events = [r["event"] for r in runtime.audit_log.tail(20)]
    assert "alert.escalated" in events
    assert "alert.acknowledged" in events


async def test_escalation_resumes_after_a_restart(runtime: Runtime, clock: SimClock, webhook: HttpReceiver) -> None:
    settings = _settings(webhook_url=webhook.url, min_severity="error")
    first = _notifier(runtime, settings)
    await first.start(runtime.bus)
    alert = await runtime.alert("risk_alert", "warning", "drawdown at 81% of its limit", needs_ack=True)
    await first.wait_idle()
    await first.stop()
    clock.advance(20 * 60)
    second = _notifier(runtime, settings, registry=CollectorRegistry())  # as a new daemon process would
    await second.start(runtime.bus)
    try:
        await second.housekeeping()
        await second.wait_idle()
    finally:
        await second.stop()
    (escalation,) = webhook.bodies
    assert escalation["id"] == alert.id


async def test_a_snoozed_alert_stays_quiet_until_the_snooze_ends(
    runtime: Runtime, clock: SimClock, webhook: HttpReceiver
) -> None:
    notifier = _notifier(runtime, _settings(webhook_url=webhook.url, dedupe_seconds=0))
    await notifier.start(runtime.bus)
    message = "VaR at 85% of its limit"
    try:
        alert = await runtime.alert("risk_alert", "warning", message, needs_ack=True)
        await notifier.wait_idle()
        await notifier.snooze(alert.id, clock.now() + timedelta(hours=1), "alice")
        clock.advance(30 * 60)
        await runtime.alert("risk_alert", "warning", message, needs_ack=True)
        await notifier.housekeeping()  # no escalation while snoozed either
        await notifier.wait_idle()
        assert len(webhook.bodies) == 1
        clock.advance(31 * 60)
        await runtime.alert("risk_alert", "warning", message, needs_ack=True)
        await notifier.wait_idle()
    finally:
        await notifier.stop()
    assert len(webhook.bodies) == 2
    assert _metric(runtime, "alerts_suppressed_total", reason="snoozed") == 1


async def test_a_notifier_without_a_bus_reports_failures_directly(clock: SimClock, webhook: HttpReceiver) -> None:
    settings = _settings(webhook_url=webhook.url, slack_webhook_url=f"http://127.0.0.1:{closed_port()}/x")
    notifier = Notifier.from_settings(settings, clock=clock, housekeeping_interval=None, env="paper")
    async with notifier:
        severity: Severity = "info"
        alert = Alert(
            id=new_id(), action="daily_report", severity=severity, message="Daily report", source="ops", ts=T0
        )
        assert await notifier.notify(alert)
        await notifier.wait_idle()
    assert [b["action"] for b in webhook.bodies] == ["daily_report", "alert_channel_failed"]
    assert webhook.bodies[1]["details"]["channel"] == "slack"
    assert webhook.bodies[0]["env"] == "paper"


async def test_a_malformed_alert_does_not_stop_the_reader(runtime: Runtime, webhook: HttpReceiver) -> None:
    notifier = _notifier(runtime, _settings(webhook_url=webhook.url))
    await notifier.start(runtime.bus)
    try:
        # in-process nothing validates at the edge (over MQTT the bus would already reject these)
        await runtime.bus.publish(topics.EVENT_ALERT, Envelope(source="x", type="tick", payload={"not": "an alert"}))
        await runtime.bus.publish(topics.EVENT_ALERT, Envelope(source="x", type="alert", payload={"id": "x"}))
        await runtime.alert("compliance_reject", "warning", "restricted list: XYZ")
        await notifier.wait_idle()
    finally:
        await notifier.stop()
    assert [b["action"] for b in webhook.bodies] == ["compliance_reject"]


def test_channel_names_must_be_unique() -> None:
    from ops.alerts import WebhookChannel

    with pytest.raises(ValueError, match="unique"):
        Notifier(_settings(), [WebhookChannel("http://a/x"), WebhookChannel("http://b/y")])


def test_the_json_bodies_are_plain_json(webhook: HttpReceiver) -> None:
    assert json.loads(json.dumps({"ok": True}))  # receivers decode JSON; nothing exotic crosses the wire


async def test_a_channel_still_failing_after_the_window_is_reported_again(
    runtime: Runtime, clock: SimClock, slack: HttpReceiver
) -> None:
    settings = _settings(webhook_url=f"http://127.0.0.1:{closed_port()}/hook", slack_webhook_url=slack.url)
    notifier = _notifier(runtime, settings)
    await notifier.start(runtime.bus)
    try:
        await runtime.alert("risk_reject", "warning", "first")
        await notifier.wait_idle()
        clock.advance(settings.dedupe_seconds + 1)
        await runtime.alert("risk_reject", "warning", "second")
        await notifier.wait_idle()
    finally:
        await notifier.stop()
    reports = [b for b in slack.bodies if b["text"].startswith("[ERROR] alert_channel_failed")]
    assert len(reports) == 2
