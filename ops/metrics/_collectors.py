"""Figures read at scrape time from where they live, so they cannot drift from the truth.

- :class:`SessionCollector`: ``runtime_session_open``, 1 while the NYSE is in session (holidays, early
  closes and DST included, from exchange_calendars). The dead-man alert rule keys on it.
- :class:`LedgerCollector`: ``execution_orders_by_status{status}`` and ``execution_orders_total`` from the ledger's
  ``orders`` table, through a read-only SQLite connection of its own (WAL lets it read beside the writer).

Both run in the scrape thread: they hold no state shared with the event loop.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")


class SessionCollector(Collector):
    """``runtime_session_open`` from an exchange calendar (default ``XNYS``) at ``now()``."""

    def __init__(self, now: Callable[[], datetime], calendar: str = "XNYS") -> None:
        self.now = now
        self.calendar_name = calendar
        self._calendar: Any = None

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("runtime_session_open", self._doc())

    def _doc(self) -> str:
        return f"1 while the {self.calendar_name} exchange is in session (holidays and early closes honoured)"

    def is_open(self, when: datetime) -> bool:
        """Whether the exchange trades at ``when`` (aware). Outside the calendar's range: weekdays
        09:30-16:00 New York time, a fallback that knows no holidays."""
        calendar = self._load()
        if calendar is not None:
            minute = when.astimezone(UTC).replace(second=0, microsecond=0)
            if calendar.first_minute <= minute <= calendar.last_minute:
                return bool(calendar.is_open_on_minute(minute))
        local = when.astimezone(NEW_YORK)
        return local.weekday() < 5 and time(9, 30) <= local.time() < time(16, 0)

    def _load(self) -> Any:
        if self._calendar is None:
            try:
                import exchange_calendars

                self._calendar = exchange_calendars.get_calendar(self.calendar_name)
            except Exception:  # a broken calendar must not break the scrape
                log.exception("cannot load the %s calendar; using plain weekday hours", self.calendar_name)
                self._calendar = False
        return self._calendar or None

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("runtime_session_open", self._doc(), value=1.0 if self.is_open(self.now()) else 0.0)


_BY_STATUS = ("execution_orders_by_status", "Orders in the ledger by status")
_CREATED = ("execution_orders", "Orders created (each persisted before it is sent)")


class LedgerCollector(Collector):
    """Orders in the ledger by status, and how many were ever created."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(*_BY_STATUS, labels=["status"])
        yield CounterMetricFamily(*_CREATED)

    def _counts(self) -> dict[str, int] | None:
        if not self.path.exists():
            return None
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1.0)
        except sqlite3.Error:
            log.warning("cannot open %s read-only for metrics", self.path, exc_info=True)
            return None
        try:
            rows = conn.execute("SELECT status, COUNT(*) FROM orders GROUP BY status").fetchall()
        except sqlite3.Error:
            log.warning("cannot read orders from %s for metrics", self.path, exc_info=True)
            return None
        finally:
            conn.close()
        return {str(status): int(count) for status, count in rows}

    def collect(self) -> Iterator[Metric]:
        counts = self._counts()
        if counts is None:
            return
        by_status = GaugeMetricFamily(*_BY_STATUS, labels=["status"])
        for status, count in sorted(counts.items()):
            by_status.add_metric([status], count)
        yield by_status
        # Orders are never deleted from the ledger, so their number only grows: a counter.
        created = CounterMetricFamily(*_CREATED)
        created.add_metric([], sum(counts.values()))
        yield created
