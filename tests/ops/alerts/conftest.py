"""Fixtures of the alert tests: real local receivers and a fresh notifier clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from runtime.clock import SimClock
from tests.ops.alerts.receivers import HttpReceiver, SmtpReceiver

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def webhook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def slack() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()
