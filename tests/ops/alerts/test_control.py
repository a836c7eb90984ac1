"""The alert verbs the daemon's control service hands over: ack, snooze, alerts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ops.alerts import VERBS, AlertControl, AlertSettings, Notifier
from runtime.clock import SimClock
from runtime.messages import new_id
from runtime.payloads import Alert, ControlRequest
from storage.ledger import Ledger
from tests.ops.alerts.conftest import T0


async def _setup(tmp_path: Path, clock: SimClock) -> tuple[AlertControl, Ledger, Alert]:
    ledger = await Ledger.open(tmp_path / "ledger.sqlite")
    notifier = Notifier.from_settings(AlertSettings(), clock=clock, ledger=ledger, housekeeping_interval=None)
    await notifier.start()
    alert = Alert(
        id=new_id(),
        action="risk_alert",
        severity="warning",
        message="soft breach",
        source="risk",
        ts=T0,
        needs_ack=True,
    )
    await notifier.notify(alert)
    return AlertControl(notifier), ledger, alert


async def test_ack_and_list(tmp_path: Path, clock: SimClock) -> None:
    control, ledger, alert = await _setup(tmp_path, clock)
    try:
        assert VERBS == ("ack", "snooze", "alerts")
        listed = await control.execute("alice", "alerts", ControlRequest())
        assert listed.ok
        assert [a["id"] for a in listed.data["alerts"]] == [alert.id]
        reply = await control.execute("alice", "ack", ControlRequest(args={"alert_id": alert.id}))
        assert reply.ok
        assert reply.message == f"alert {alert.id} acknowledged by alice"
        assert reply.data["status"] == "acknowledged"
        assert (await control.execute("alice", "alerts", ControlRequest())).data["alerts"] == []
        everything = await control.execute("alice", "alerts", ControlRequest(args={"all": True}))
        assert len(everything.data["alerts"]) == 1
    finally:
        await control.notifier.stop()
        await ledger.close()


async def test_snooze_by_minutes_or_until(tmp_path: Path, clock: SimClock) -> None:
    control, ledger, alert = await _setup(tmp_path, clock)
    try:
        reply = await control.execute("bob", "snooze", ControlRequest(args={"alert_id": alert.id, "minutes": 30}))
        assert reply.ok
        assert reply.data["snoozed_until"] == "2026-11-24T15:30:00Z"
        until = (T0 + timedelta(hours=2)).isoformat()
        reply = await control.execute("bob", "snooze", ControlRequest(args={"alert_id": alert.id, "until": until}))
        assert reply.ok
        assert reply.data["snoozed_by"] == "bob"
    finally:
        await control.notifier.stop()
        await ledger.close()


@pytest.mark.parametrize(
    ("verb", "request_", "message"),
    [
        ("ack", ControlRequest(), "args.alert_id is required"),
        ("ack", ControlRequest(args={"alert_id": "nope"}), "no alert nope"),
        ("ack", ControlRequest(operator="mallory", args={"alert_id": "x"}), "claims operator 'mallory'"),
        ("snooze", ControlRequest(args={"alert_id": "x"}), "needs args.until"),
        ("snooze", ControlRequest(args={"alert_id": "x", "minutes": "soon"}), "is not a number"),
        ("snooze", ControlRequest(args={"alert_id": "x", "until": "tomorrow"}), "is not an ISO-8601 time"),
        ("snooze", ControlRequest(args={"alert_id": "ID", "minutes": 60 * 48}), "at most"),
        ("silence", ControlRequest(), "unknown alert command"),
    ],
)
async def test_refusals_say_why(
    tmp_path: Path, clock: SimClock, verb: str, request_: ControlRequest, message: str
) -> None:
    control, ledger, alert = await _setup(tmp_path, clock)
    try:
        if request_.args.get("alert_id") == "ID":
            request_ = ControlRequest(args={**request_.args, "alert_id": alert.id})
        reply = await control.execute("alice", verb, request_)
        assert not reply.ok
        assert message in reply.message
    finally:
        await control.notifier.stop()
        await ledger.close()
