"""The alert book on a real ledger: records, repeats, acknowledgement, snooze, escalation, restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.alerts import AlertBook, AlertNotFound, AlertRefused
from runtime.messages import new_id
from runtime.payloads import Alert, Severity
from storage.ledger import Ledger
from tests.ops.alerts.conftest import T0

MIN = timedelta(minutes=1)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    books = await Ledger.open(tmp_path / "ledger.sqlite")
    yield books
    await books.close()


class AuditTrail:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any], str]] = []

    async def __call__(self, event: str, data: dict[str, Any], actor: str) -> None:
        self.events.append((event, data, actor))


def _alert(
    message: str = "gross exposure at 85% of its limit",
    *,
    at: datetime = T0,
    needs_ack: bool = True,
    severity: Severity = "warning",
    action: str = "risk_alert",
) -> Alert:
    return Alert(
        id=new_id(), action=action, severity=severity, message=message, source="risk", ts=at, needs_ack=needs_ack
    )


def _book(ledger: Ledger | None, audit: AuditTrail | None = None) -> AlertBook:
    return AlertBook(ledger, escalate_after=timedelta(minutes=15), escalate_max=3, audit=audit)


async def test_a_soft_breach_is_watched_and_survives_a_restart(ledger: Ledger) -> None:
    book = _book(ledger)
    alert = _alert()
    record, new = await book.record(alert, T0)
    assert new
    assert record.watched
    assert [r.id for r in book.watched()] == [alert.id]
    again = _book(ledger)
    assert await again.load() == 1
    restored = again.get(alert.id)
    assert restored is not None
    assert restored.watched
    assert restored.raised_at == T0


async def test_repeats_fold_into_one_record_and_any_id_acknowledges_it(ledger: Ledger) -> None:
    book = _book(ledger)
    first, second, third = _alert(), _alert(at=T0 + MIN), _alert(at=T0 + 2 * MIN)
    await book.record(first, T0)
    record, new = await book.record(second, T0 + MIN)
    assert not new
    await book.record(third, T0 + 2 * MIN)
    assert record.count == 3
    assert record.aliases == [second.id, third.id]
    acked = await book.ack(third.id, "alice", T0 + 3 * MIN)
    assert acked.id == first.id
    assert (acked.status, acked.acked_by) == ("acknowledged", "alice")
    assert book.watched() == []
    later, new = await book.record(_alert(at=T0 + 4 * MIN), T0 + 4 * MIN)
    assert new  # after an acknowledgement the condition is a new one
    assert later.id != first.id


async def test_repeats_are_written_in_batches(ledger: Ledger) -> None:
    book = _book(ledger)
    first = _alert()
    await book.record(first, T0)
    for n in range(1, 20):  # a storm of the same condition
        await book.record(_alert(at=T0 + n * MIN), T0 + n * MIN)
    stored = await ledger.get_json("alerts", f"alert:{first.id}")
    assert stored["count"] == 1  # not one write per repeat
    assert await book.flush(T0 + 20 * MIN) == 1
    stored = await ledger.get_json("alerts", f"alert:{first.id}")
    assert stored["count"] == 20
    assert await book.flush(T0 + 21 * MIN) == 0


async def test_acknowledging_is_idempotent_and_persisted(ledger: Ledger) -> None:
    audit = AuditTrail()
    book = _book(ledger, audit)
    alert = _alert()
    await book.record(alert, T0)
    await book.ack(alert.id, "alice", T0 + MIN)
    again = await book.ack(alert.id, "bob", T0 + 2 * MIN)
    assert again.acked_by == "alice"
    assert [e[0] for e in audit.events] == ["alert.acknowledged"]
    assert audit.events[0][2] == "alice"
    reloaded = _book(ledger)
    assert await reloaded.load() == 0  # nothing left to watch
    found = await reloaded.find(alert.id)  # but the record is still in the ledger
    assert found is not None
    assert found.acked_by == "alice"


async def test_unknown_ids_and_bad_operators_are_refused(ledger: Ledger) -> None:
    book = _book(ledger)
    alert = _alert()
    await book.record(alert, T0)
    with pytest.raises(AlertNotFound):
        await book.ack("nope", "alice", T0)
    with pytest.raises(AlertRefused, match="operator"):
        await book.ack(alert.id, "", T0)
    with pytest.raises(AlertRefused, match="operator"):
        await book.ack(alert.id, "alice/bob", T0)


async def test_escalation_after_the_delay_one_step_at_a_time(ledger: Ledger) -> None:
    audit = AuditTrail()
    book = _book(ledger, audit)
    alert = _alert()
    await book.record(alert, T0)
    assert book.due(T0 + 14 * MIN) == []
    (record,) = book.due(T0 + 15 * MIN)
    await book.escalated(record, T0 + 15 * MIN)
    assert record.current_severity == "error"
    assert book.due(T0 + 29 * MIN) == []  # the next period starts from the escalation
    (record,) = book.due(T0 + 30 * MIN)
    await book.escalated(record, T0 + 30 * MIN)
    assert record.current_severity == "critical"
    (record,) = book.due(T0 + 45 * MIN)
    await book.escalated(record, T0 + 45 * MIN)
    assert record.current_severity == "critical"  # capped
    assert book.due(T0 + 600 * MIN) == []  # escalate_max reached
    assert [e[0] for e in audit.events] == ["alert.escalated"] * 3
    reloaded = _book(ledger)
    await reloaded.load()
    restored = reloaded.get(alert.id)
    assert restored is not None
    assert restored.escalations == 3


async def test_no_escalation_without_needs_ack_or_after_an_ack(ledger: Ledger) -> None:
    book = _book(ledger)
    await book.record(_alert("a kill switch", needs_ack=False, severity="critical"), T0)
    acked = _alert("acknowledged breach")
    await book.record(acked, T0)
    await book.ack(acked.id, "alice", T0 + MIN)
    assert book.due(T0 + 60 * MIN) == []


async def test_a_repeat_that_needs_ack_starts_the_clock_then(ledger: Ledger) -> None:
    book = _book(ledger)
    await book.record(_alert(needs_ack=False), T0)
    assert book.watched() == []
    record, _ = await book.record(_alert(at=T0 + 30 * MIN, needs_ack=True), T0 + 30 * MIN)
    assert record.watched
    assert book.due(T0 + 44 * MIN) == []
    assert book.due(T0 + 45 * MIN) == [record]
    reloaded = _book(ledger)
    assert await reloaded.load() == 1  # the index was updated when it became watched


async def test_snooze_holds_escalation_until_it_ends(ledger: Ledger) -> None:
    audit = AuditTrail()
    book = _book(ledger, audit)
    alert = _alert()
    await book.record(alert, T0)
    until = T0 + 60 * MIN
    await book.snooze(alert.id, until, "alice", T0 + 5 * MIN)
    assert book.snoozed(alert.action, alert.message, T0 + 59 * MIN)
    assert book.due(T0 + 59 * MIN) == []
    assert not book.snoozed(alert.action, alert.message, until)
    assert len(book.due(until)) == 1
    assert audit.events[0][0] == "alert.snoozed"
    assert audit.events[0][1]["until"] == until.isoformat()


async def test_snooze_limits(ledger: Ledger) -> None:
    book = AlertBook(ledger, snooze_max=timedelta(hours=4))
    alert = _alert()
    await book.record(alert, T0)
    with pytest.raises(AlertRefused, match="not in the future"):
        await book.snooze(alert.id, T0, "alice", T0)
    with pytest.raises(AlertRefused, match="at most"):
        await book.snooze(alert.id, T0 + timedelta(hours=5), "alice", T0)
    with pytest.raises(AlertRefused, match="timezone"):
        await book.snooze(alert.id, datetime(2026, 11, 24, 18, 0), "alice", T0)  # noqa: DTZ001 - on purpose
    with pytest.raises(AlertNotFound):
        await book.snooze("nope", T0 + MIN, "alice", T0)
    await book.ack(alert.id, "alice", T0)
    with pytest.raises(AlertRefused, match="already acknowledged"):
        await book.snooze(alert.id, T0 + MIN, "alice", T0)


async def test_old_unwatched_records_leave_memory_not_the_ledger(ledger: Ledger) -> None:
    book = AlertBook(ledger, keep=timedelta(hours=1))
    info = _alert("daily report", needs_ack=False, severity="info", action="daily_report")
    watched = _alert()
    await book.record(info, T0)
    await book.record(watched, T0)
    assert book.prune(T0 + timedelta(hours=2)) == 1
    assert book.get(info.id) is None
    assert book.get(watched.id) is not None  # a watched record is never forgotten
    acked = await book.ack(info.id, "alice", T0 + timedelta(hours=2))  # read back from the ledger
    assert acked.status == "acknowledged"


async def test_a_memory_only_book_works_without_a_ledger() -> None:
    book = _book(None)
    alert = _alert()
    await book.record(alert, T0)
    assert await book.load() == 0
    assert (await book.ack(alert.id, "alice", T0)).status == "acknowledged"


async def test_bulky_report_details_are_not_kept(ledger: Ledger) -> None:
    book = _book(ledger)
    alert = Alert(
        id=new_id(),
        action="daily_report",
        severity="info",
        message="Daily report 2026-11-24",
        source="ops.report",
        ts=T0,
        details={"report_markdown": "x" * 10_000, "report_json": {"a": 1}, "md_path": "/r.md"},
    )
    record, _ = await book.record(alert, T0)
    assert record.details == {"md_path": "/r.md"}
