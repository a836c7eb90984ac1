"""The alert verbs of the daemon's control service: ``ack``, ``snooze`` and ``alerts`` (list).

Same signature as :meth:`runtime.control.ControlService.execute`, so the control service can hand these
verbs over unchanged; the operator is the topic's (broker-vouched) one, never the payload's.

Arguments (``ControlRequest.args``): ``ack`` needs ``alert_id``; ``snooze`` needs ``alert_id`` and either
``until`` (ISO-8601 with a timezone) or ``minutes``; ``alerts`` takes ``all`` (true: every record in memory,
default: only those waiting for an acknowledgement).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ops.alerts._book import AlertNotFound, AlertRecord, AlertRefused
from ops.alerts._notifier import Notifier
from runtime.payloads import ControlReply, ControlRequest

VERBS = ("ack", "snooze", "alerts")


def _record(record: AlertRecord) -> dict[str, Any]:
    return record.model_dump(mode="json")


class AlertControl:
    """Executes the alert verbs against a notifier's book."""

    verbs = VERBS

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def execute(self, operator: str, verb: str, request: ControlRequest) -> ControlReply:
        try:
            if request.operator is not None and request.operator != operator:
                raise AlertRefused(f"the request claims operator {request.operator!r} but was sent as {operator!r}")
            if verb == "ack":
                record = await self.notifier.ack(_alert_id(request), operator)
                return ControlReply(
                    ok=True,
                    verb=verb,
                    message=f"alert {record.id} acknowledged by {record.acked_by}",
                    data=_record(record),
                )
            if verb == "snooze":
                until = self._until(request)
                record = await self.notifier.snooze(_alert_id(request), until, operator)
                return ControlReply(
                    ok=True,
                    verb=verb,
                    message=f"alert {record.id} snoozed until {until.isoformat()}",
                    data=_record(record),
                )
            if verb == "alerts":
                book = self.notifier._require_book()
                records = book.records() if request.args.get("all") else book.watched()
                return ControlReply(
                    ok=True,
                    verb=verb,
                    message=f"{len(records)} alert(s)",
                    data={"alerts": [_record(r) for r in records]},
                )
            raise AlertRefused(f"unknown alert command {verb!r}")
        except (AlertNotFound, AlertRefused) as exc:
            return ControlReply(ok=False, verb=verb, message=str(exc).strip("'\""))

    def _until(self, request: ControlRequest) -> datetime:
        args = request.args
        if "until" in args:
            try:
                return datetime.fromisoformat(str(args["until"]))
            except ValueError:
                raise AlertRefused(f"until {args['until']!r} is not an ISO-8601 time") from None
        if "minutes" in args:
            try:
                minutes = float(args["minutes"])
            except (TypeError, ValueError):
                raise AlertRefused(f"minutes {args['minutes']!r} is not a number") from None
            return self.notifier.clock.now() + timedelta(minutes=minutes)
        raise AlertRefused("snooze needs args.until (ISO-8601) or args.minutes")


def _alert_id(request: ControlRequest) -> str:
    value = request.args.get("alert_id")
    if not isinstance(value, str) or not value:
        raise AlertRefused("args.alert_id is required")
    return value
