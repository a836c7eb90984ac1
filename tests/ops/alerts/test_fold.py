"""Folding repeated alerts: the first goes at once, repeats within the window become one counted notification."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ops.alerts import Folder, Notification, fingerprint
from runtime.messages import new_id
from runtime.payloads import Alert, Severity
from tests.ops.alerts.conftest import T0

WINDOW = timedelta(minutes=5)


def note(
    message: str = "gross exposure at 85% of its limit", *, at: datetime = T0, action: str = "risk_alert"
) -> Notification:
    severity: Severity = "warning"
    return Notification.of(Alert(id=new_id(), action=action, severity=severity, message=message, source="risk", ts=at))


def test_fingerprint_is_action_and_message() -> None:
    assert fingerprint("risk_alert", "x") == fingerprint("risk_alert", "x")
    assert fingerprint("risk_alert", "x") != fingerprint("risk_reject", "x")
    assert fingerprint("risk_alert", "x") != fingerprint("risk_alert", "y")


def test_the_first_alert_goes_at_once_and_repeats_are_folded() -> None:
    folder = Folder(WINDOW)
    assert folder.offer(note(), T0) is not None
    assert folder.offer(note(), T0 + timedelta(minutes=1)) is None
    assert folder.offer(note(), T0 + timedelta(minutes=2)) is None
    assert folder.due(T0 + timedelta(minutes=4)) == []  # the window is still open
    (summary,) = folder.due(T0 + timedelta(minutes=5))
    assert summary.kind == "repeat"
    assert summary.count == 2
    assert summary.first_seen == T0
    assert "(repeated 2 times since 15:00:00 UTC)" in summary.headline


def test_different_messages_are_not_folded() -> None:
    folder = Folder(WINDOW)
    assert folder.offer(note("AAPL: single name 12%"), T0) is not None
    assert folder.offer(note("MSFT: single name 12%"), T0) is not None
    assert folder.offer(note("AAPL: single name 12%", action="risk_reject"), T0) is not None


def test_a_window_without_repeats_ends_quietly() -> None:
    folder = Folder(WINDOW)
    assert folder.offer(note(), T0) is not None
    assert folder.due(T0 + WINDOW) == []
    assert len(folder) == 0
    assert folder.offer(note(), T0 + WINDOW + timedelta(seconds=1)) is not None  # a new one goes out at once


def test_a_steady_repeat_costs_one_notification_per_window() -> None:
    folder = Folder(WINDOW)
    sent = 0
    for minute in range(60):  # once a minute for an hour
        now = T0 + timedelta(minutes=minute)
        sent += len(folder.due(now))
        sent += int(folder.offer(note(at=now), now) is not None)
    assert sent == 12


def test_a_repeat_after_an_unflushed_window_carries_the_count() -> None:
    folder = Folder(WINDOW)
    folder.offer(note(), T0)
    folder.offer(note(), T0 + timedelta(minutes=1))
    later = T0 + timedelta(minutes=9)  # nobody called due() in between
    sent = folder.offer(note(at=later), later)
    assert sent is not None
    assert (sent.kind, sent.count, sent.first_seen) == ("repeat", 2, T0)


def test_no_window_folds_nothing() -> None:
    folder = Folder(timedelta(0))
    assert folder.offer(note(), T0) is not None
    assert folder.offer(note(), T0) is not None


@given(st.lists(st.integers(min_value=0, max_value=3600), min_size=1, max_size=60))
def test_every_occurrence_is_accounted_for(offsets: list[int]) -> None:
    """Sent notifications stand for exactly the occurrences offered, once all windows are flushed."""
    folder = Folder(WINDOW)
    counted = 0
    for offset in sorted(offsets):
        now = T0 + timedelta(seconds=offset)
        counted += sum(n.count for n in folder.due(now))
        sent = folder.offer(note(at=now), now)
        counted += sent.count if sent is not None else 0
    end = T0 + timedelta(seconds=max(offsets)) + 2 * WINDOW
    counted += sum(n.count for n in folder.due(end))
    assert counted == len(offsets)
