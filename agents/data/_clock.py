"""The clock the data layer runs on, injected so that TTLs, token buckets and back-off are testable."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Monotonic time for intervals, wall time for stamps, and a sleep that follows the same clock."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when told: :meth:`advance`, or :meth:`sleep` (which advances by the
    amount slept and yields once). For tests and simulated runs; ``slept`` records every sleep."""

    def __init__(self, start: datetime | None = None, monotonic_start: float = 1000.0) -> None:
        self._now = start if start is not None else datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock start must be timezone-aware")
        self._mono = monotonic_start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._mono += seconds
        self._now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)
