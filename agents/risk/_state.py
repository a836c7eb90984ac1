"""The risk agent's memory between ticks, kept in memory and persisted where a restart must not forget it.

- :class:`NavCloses`: closing NAV per session, read incrementally from the ledger's NAV history.
- :class:`Latches`: which breakers fired in which session and which alerts went out today (ledger kv
  ``risk/latches``), so a restart neither re-pauses after an operator's resume nor repeats an alert.
- :class:`OrderThrottle`: approvals in the rolling window, seeded from the ledger's orders on start.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from agents.risk._monitor import session_closes
from storage.ledger import Ledger

NAMESPACE = "risk"
LATCHES = "latches"


class NavCloses:
    """Closing NAV per session (ISO date), read from the ledger incrementally.

    The query starts at an anchor session that moves only when its answer has grown long (then to the newest
    session known): the ledger keeps a repeated query's answer in memory and follows it through each NAV point
    written, so most ticks read no SQL. Re-reading from the anchor gives the same closes as reading from the
    newest session (a session's close is its last point either way).
    """

    def __init__(self) -> None:
        self.closes: dict[str, float] = {}
        self.anchor: str | None = None

    async def refresh(self, ledger: Ledger, session: str, sessions: int) -> dict[str, float]:
        if self.anchor is None:
            if self.closes:
                self.anchor = max(self.closes)
            else:  # first look: enough calendar days to hold ``sessions`` trading sessions
                self.anchor = (date.fromisoformat(session) - timedelta(days=sessions * 7 // 5 + 15)).isoformat()
        points = await ledger.nav_history(since_session=self.anchor)
        self.closes.update(session_closes(points))
        if len(points) > 2 * sessions + 2 and self.closes:
            self.anchor = max(self.closes)  # the next answer starts over, short
        if len(self.closes) > 4 * sessions:  # keep the cache bounded on long runs
            for old in sorted(self.closes)[: len(self.closes) - 2 * sessions]:
                del self.closes[old]
        return self.closes


@dataclass
class Latches:
    """Once-per-session memory. ``drawdown_since`` is the session a drawdown episode began (None: none)."""

    daily_pause: str | None = None
    daily_kill: str | None = None
    drawdown_since: str | None = None
    alert_day: str | None = None
    alerted: set[str] = field(default_factory=set)
    dirty: bool = False

    @classmethod
    async def load(cls, ledger: Ledger) -> Latches:
        raw: Any = await ledger.get_json(NAMESPACE, LATCHES) or {}
        return cls(
            daily_pause=raw.get("daily_pause"),
            daily_kill=raw.get("daily_kill"),
            drawdown_since=raw.get("drawdown_since"),
            alert_day=raw.get("alert_day"),
            alerted=set(raw.get("alerted", [])),
        )

    async def save(self, ledger: Ledger, ts: datetime) -> None:
        if not self.dirty:
            return
        doc = {
            "daily_pause": self.daily_pause,
            "daily_kill": self.daily_kill,
            "drawdown_since": self.drawdown_since,
            "alert_day": self.alert_day,
            "alerted": sorted(self.alerted),
        }
        await ledger.put_json(NAMESPACE, LATCHES, doc, ts=ts)
        self.dirty = False

    def first_today(self, session: str, key: str) -> bool:
        """True once per ``key`` per session (and remembers it)."""
        if self.alert_day != session:
            self.alert_day, self.alerted = session, set()  # persisted with the first key of the day
        if key in self.alerted:
            return False
        self.alerted.add(key)
        self.dirty = True
        return True

    def set(self, name: str, value: str | None) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)
            self.dirty = True


class OrderThrottle:
    """Counts approved orders in a rolling window of the runtime clock's time."""

    def __init__(self, window_seconds: float) -> None:
        self.window = timedelta(seconds=window_seconds)
        self._events: deque[tuple[datetime, int]] = deque()

    def count(self, now: datetime) -> int:
        while self._events and self._events[0][0] <= now - self.window:
            self._events.popleft()
        return sum(n for _, n in self._events)

    def record(self, now: datetime, n: int) -> None:
        if n > 0:
            self._events.append((now, n))

    async def seed(self, ledger: Ledger, now: datetime, limit: int) -> None:
        """Count the orders the ledger holds from the window (a restart keeps the rate honest)."""
        for order in await ledger.orders(limit=limit):
            if order.created_at > now - self.window:
                self.record(order.created_at, 1)
        self._events = deque(sorted(self._events))
