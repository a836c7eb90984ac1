"""The exchange's sessions from ``exchange_calendars``: which days trade, when they open and close.

A thin, typed wrapper: the rest of the scheduler never touches pandas. Holidays (2026-11-26 Thanksgiving),
one-off closures (2025-01-09, the national day of mourning) and early closes (2026-11-27 at 13:00 ET) all
come from the library's XNYS rules.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import exchange_calendars as xcals

_MARGIN = timedelta(days=400)


class CalendarError(Exception):
    """The calendar cannot answer (unknown exchange, date outside what it can compute)."""


@dataclass(frozen=True, slots=True)
class Session:
    """One trading session. ``open`` and ``close`` are aware UTC datetimes."""

    date: date
    open: datetime
    close: datetime
    early_close: bool

    def contains(self, at: datetime) -> bool:
        """True while the market is open (``open <= at < close``)."""
        return self.open <= at < self.close


class TradingCalendar:
    """Sessions of one exchange (``XNYS`` by default), built lazily and widened on demand."""

    def __init__(self, code: str = "XNYS") -> None:
        self.code = code
        self._tz: ZoneInfo | None = None
        self._cal: Any = None
        self._first: date | None = None
        self._last: date | None = None
        self._early: frozenset[date] = frozenset()

    def _ensure(self, day: date) -> Any:
        if (
            self._cal is not None
            and self._first is not None
            and self._last is not None
            and self._first <= day <= self._last
        ):
            return self._cal
        start = day - _MARGIN if self._first is None else min(self._first, day - _MARGIN)
        end = day + _MARGIN if self._last is None else max(self._last, day + _MARGIN)
        try:
            with warnings.catch_warnings():
                # exchange_calendars 4.x trips a pandas 3 deprecation warning inside its own code; not ours to fix
                warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
                cal = xcals.get_calendar(self.code, start=start.isoformat(), end=end.isoformat())
        except Exception as exc:  # InvalidCalendarName, bounds errors: all mean "cannot answer"
            raise CalendarError(f"calendar {self.code}: {exc}") from None
        self._cal = cal
        self._tz = cal.tz
        self._first = cal.first_session.date()
        self._last = cal.last_session.date()
        self._early = frozenset(ts.date() for ts in cal.early_closes)
        return cal

    def is_session(self, day: date) -> bool:
        return bool(self._ensure(day).is_session(day.isoformat()))

    def session(self, day: date) -> Session | None:
        """The session on ``day``, or None on a weekend, holiday or closure."""
        cal = self._ensure(day)
        label = day.isoformat()
        if not cal.is_session(label):
            return None
        opened = cal.session_open(label).to_pydatetime().astimezone(UTC)
        closed = cal.session_close(label).to_pydatetime().astimezone(UTC)
        return Session(day, opened, closed, early_close=day in self._early)

    def sessions(self, start: date, count: int) -> list[Session]:
        """The first ``count`` sessions on or after ``start``."""
        return list(self._iter_sessions(start, count))

    def _iter_sessions(self, start: date, count: int) -> Iterator[Session]:
        day, found = start, 0
        while found < count:
            s = self.session(day)
            if s is not None:
                found += 1
                yield s
            day += timedelta(days=1)

    def next_session(self, after: date) -> Session:
        """The first session strictly after ``after``."""
        return self.sessions(after + timedelta(days=1), 1)[0]

    def session_at(self, at: datetime) -> Session | None:
        """The session whose exchange-local date is ``at``'s, if that date trades."""
        return self.session(self.local_date(at))

    def local_date(self, at: datetime) -> date:
        """``at``'s date at the exchange (a session's date is the exchange-local date)."""
        return at.astimezone(self.exchange_tz(at)).date()

    def exchange_tz(self, near: datetime) -> ZoneInfo:
        """The exchange's own zone (America/New_York for XNYS)."""
        if self._tz is None:
            self._ensure(near.astimezone(UTC).date())
        assert self._tz is not None
        return self._tz

    @property
    def last_known(self) -> date | None:
        """The last session date the built calendar covers (None before first use)."""
        return self._last
